import assert from "node:assert/strict";
import {
  EXIT_NOT_INSTALLED,
  EXIT_TIMED_OUT,
  firstLine,
  runCommand,
} from "../lib/runtime/run_command.ts";

const DENO = Deno.execPath();

Deno.test("runCommand() captures stdout, stderr and the exit code", async () => {
  const result = await runCommand(
    [DENO, "eval", "console.log('out'); console.error('err'); Deno.exitCode = 3"],
    { timeoutMs: 30_000 },
  );
  assert.deepEqual(result, { code: 3, stdout: "out\n", stderr: "err\n", timedOut: false });
});

Deno.test("runCommand() writes stdin and closes it", async () => {
  const result = await runCommand(
    [DENO, "eval", "console.log((await new Response(Deno.stdin.readable).text()).toUpperCase())"],
    { timeoutMs: 30_000, stdin: "ñandú\n" },
  );
  assert.equal(result.stdout, "ÑANDÚ\n\n");
});

Deno.test("runCommand() reports 127 for a program that is not installed", async () => {
  const result = await runCommand(["tp0-no-such-program"], { timeoutMs: 5_000 });
  assert.equal(result.code, EXIT_NOT_INSTALLED);
  assert.equal(result.stderr, "tp0-no-such-program: command not found");
});

Deno.test("runCommand() kills a program at the deadline and reports 124", async () => {
  const started = performance.now();
  const result = await runCommand(
    [DENO, "eval", "await new Promise((r) => setTimeout(r, 60_000))"],
    {
      timeoutMs: 500,
    },
  );
  assert.equal(result.code, EXIT_TIMED_OUT);
  assert.equal(result.timedOut, true);
  assert.ok(performance.now() - started < 10_000);
});

Deno.test("runCommand() rejects an empty argv", async () => {
  await assert.rejects(runCommand([], { timeoutMs: 1 }), { name: "TypeError" });
});

Deno.test("firstLine() skips blank lines and trims", () => {
  assert.equal(firstLine("\n  Error: boom \nmore"), "Error: boom");
  assert.equal(firstLine(""), "");
});
