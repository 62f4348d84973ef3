import assert from "node:assert/strict";
import { BUSYBOX_IMAGE } from "../lib/containers/images.ts";
import { netcatArgv, parseValidateArgs, type ValidateOptions } from "../validate_echo.ts";

Deno.test("parseValidateArgs() has a default for every value", () => {
  assert.deepEqual(parseValidateArgs([]), {
    host: "server",
    port: 12345,
    network: "tp0_testing_net",
    message: "Hello echo server",
    timeoutMs: 5_000,
    image: BUSYBOX_IMAGE,
  });
});

Deno.test("parseValidateArgs() takes every value from its flag", () => {
  const options = parseValidateArgs([
    "--host",
    "h",
    "--port",
    "65535",
    "--network",
    "n",
    "--message",
    "¡hola!",
    "--timeout",
    "1500ms",
    "--image",
    "i:1",
  ]);
  assert.deepEqual(options, {
    host: "h",
    port: 65535,
    network: "n",
    message: "¡hola!",
    timeoutMs: 1500,
    image: "i:1",
  });
});

Deno.test("parseValidateArgs() drops the -- that deno task validate -- passes along", () => {
  const options = parseValidateArgs(["--", "--port", "2"]);
  assert.ok(options !== "help");
  assert.equal(options.port, 2);
});

Deno.test("parseValidateArgs() rejects ports 0 and 65536, multi-line messages and bad timeouts", async (t) => {
  const cases: [string[], string, RegExp][] = [
    [["--port", "0"], "RangeError", /--port "0" is not a port in 1\.\.65535/],
    [["--port", "65536"], "RangeError", /--port "65536"/],
    [["--port", "12a"], "RangeError", /--port "12a"/],
    [["--message", "a\nb"], "TypeError", /--message "a\\nb" must be one non-empty line/],
    [["--message", ""], "TypeError", /--message "" must be one/],
    [["--timeout", "5"], "SyntaxError", /invalid duration "5"/],
    [["--timeout", "500ms"], "RangeError", /--timeout "500ms" is below 1s/],
    [["--bogus"], "TypeError", /Unknown option '--bogus'/],
  ];
  for (const [args, name, message] of cases) {
    await t.step(args.join(" "), () => {
      assert.throws(() => parseValidateArgs(args), { name, message });
    });
  }
});

Deno.test("netcatArgv() runs nc in a throw-away container on the network, bounded by timeout", () => {
  const options: ValidateOptions = {
    host: "server",
    port: 12345,
    network: "tp0_testing_net",
    message: "m",
    timeoutMs: 4_500,
    image: "busybox:1.35",
  };
  assert.deepEqual(netcatArgv(options, "validate-echo-1"), [
    "docker",
    "run",
    "--rm",
    "--interactive",
    "--name",
    "validate-echo-1",
    "--network",
    "tp0_testing_net",
    "busybox:1.35",
    "timeout",
    "6",
    "nc",
    "server",
    "12345",
  ]);
});
