/**
 * Checks the server's echo from inside the compose network, with netcat in a
 * throw-away busybox container: nothing installed on the host, no port
 * published. Prints exactly one verdict line on stdout (a fail's reason goes to stderr).
 *
 * deno task validate [-- --port 12345] [--host server]
 *   [--network tp0_testing_net] [--message TEXT] [--timeout 5s] [--image busybox:1.35]
 */

import { parseArgs } from "node:util";
import { runProgram } from "./lib/runtime/program.ts";
import { parseDuration } from "./lib/config/duration.ts";
import { echoAnswerMismatch } from "./lib/protocol/echo_probe.ts";
import { BUSYBOX_IMAGE } from "./lib/containers/images.ts";
import { firstLine, runCommand } from "./lib/runtime/run_command.ts";
import { withoutTaskSeparator } from "./lib/runtime/task_args.ts";

/** Flag defaults: the compose file's service, port and network names. */
export const VALIDATE_DEFAULTS = {
  host: "server",
  port: "12345",
  network: "tp0_testing_net",
  message: "Hello echo server",
  timeout: "5s",
  image: BUSYBOX_IMAGE,
} as const;

const _USAGE = `Usage: deno task validate [-- flags]
Sends one line to the echo health check from a busybox container attached to
the compose network and compares the answer byte for byte.
  --host HOST        server name on the network (default ${VALIDATE_DEFAULTS.host})
  --port PORT        (default ${VALIDATE_DEFAULTS.port})
  --network NAME     docker network (default ${VALIDATE_DEFAULTS.network})
  --message TEXT     one line to send (default "${VALIDATE_DEFAULTS.message}")
  --timeout DURATION how long to wait for the answer (default ${VALIDATE_DEFAULTS.timeout});
                     plus removing the throw-away container (usually < 1 s)
  --image IMAGE      image with nc and timeout (default ${VALIDATE_DEFAULTS.image})
Prints "action: test_echo_server | result: success" and exits 0, or
"action: test_echo_server | result: fail" (its reason on stderr) and exits 1.
Bad flags print one line and exit 2.`;

/** Every setting of one check; see {@link parseValidateArgs} for defaults. */
export interface ValidateOptions {
  host: string;
  port: number;
  network: string;
  message: string;
  timeoutMs: number;
  image: string;
}

/** The verdict; `reason` explains a fail. */
export type ValidateResult = { ok: true } | { ok: false; reason: string };

/** Exact verdict lines, as the exercise's validation script prints them. */
export const VERDICT_SUCCESS = "action: test_echo_server | result: success";
export const VERDICT_FAIL = "action: test_echo_server | result: fail";

/** Deadline for removing the throw-away container after the verdict. */
const _CLEANUP_TIMEOUT_MS = 20_000;

/**
 * Parses the flags (after the `--` of `deno task validate --`); every value
 * has a default.
 * @throws {TypeError} on an unknown flag or a message that is not one line
 * @throws {RangeError} on a port outside 1..65535
 * @throws {SyntaxError} on a timeout that is not a duration
 */
export function parseValidateArgs(args: string[]): ValidateOptions | "help" {
  const { values } = parseArgs({
    args: withoutTaskSeparator(args),
    options: {
      host: { type: "string", default: VALIDATE_DEFAULTS.host },
      port: { type: "string", default: VALIDATE_DEFAULTS.port },
      network: { type: "string", default: VALIDATE_DEFAULTS.network },
      message: { type: "string", default: VALIDATE_DEFAULTS.message },
      timeout: { type: "string", default: VALIDATE_DEFAULTS.timeout },
      image: { type: "string", default: VALIDATE_DEFAULTS.image },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return "help";
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port < 1 || port > 65_535) {
    throw new RangeError(`--port "${values.port}" is not a port in 1..65535`);
  }
  if (values.message === "" || /[\r\n]/.test(values.message)) {
    throw new TypeError(
      `--message ${JSON.stringify(values.message)} must be one non-empty line`,
    );
  }
  const timeoutMs = parseDuration(values.timeout);
  if (timeoutMs < 1000) {
    throw new RangeError(`--timeout "${values.timeout}" is below 1s`);
  }
  return {
    host: values.host,
    port,
    network: values.network,
    message: values.message,
    timeoutMs,
    image: values.image,
  };
}

/**
 * The `docker run` argv: netcat bounded by busybox `timeout` as a backstop,
 * so the container ends by itself even if this process dies.
 */
export function netcatArgv(options: ValidateOptions, name: string): string[] {
  const seconds = Math.ceil(options.timeoutMs / 1000) + 1;
  return [
    "docker",
    "run",
    "--rm",
    "--interactive",
    "--name",
    name,
    "--network",
    options.network,
    options.image,
    "timeout",
    String(seconds),
    "nc",
    options.host,
    String(options.port),
  ];
}

/** Reads stdout until a full line arrives, the stream ends or time is up.
 * A plain timer, cleared on return, so it never keeps the process alive. */
async function _readAnswer(
  stdout: ReadableStream<Uint8Array>,
  timeoutMs: number,
): Promise<{ answer: string | null; timedOut: boolean }> {
  const reader = stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"expired">((resolve) => {
    timer = setTimeout(() => resolve("expired"), timeoutMs);
  });
  try {
    while (!text.includes("\n")) {
      const chunk = await Promise.race([reader.read(), expired]);
      if (chunk === "expired") return { answer: text || null, timedOut: true };
      if (chunk.done) return { answer: text || null, timedOut: false };
      text += decoder.decode(chunk.value, { stream: true });
    }
    return { answer: text, timedOut: false };
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
}

/**
 * Runs the check once.
 * @returns ok, or the reason: wrong answer, no answer in time, nothing
 *   listening, no such network or image
 */
export async function validateEcho(
  options: ValidateOptions,
): Promise<ValidateResult> {
  const name = `validate-echo-${crypto.randomUUID().slice(0, 8)}`;
  const [program, ...args] = netcatArgv(options, name);
  const startedMs = performance.now();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program!, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    return { ok: false, reason: `cannot run docker: ${(error as Error).message}` };
  }
  const stderrText = new Response(child.stderr).text();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(`${options.message}\n`)).catch(
    () => {},
  );
  await writer.close().catch(() => {});
  const { answer, timedOut } = await _readAnswer(
    child.stdout,
    options.timeoutMs - (performance.now() - startedMs),
  );
  // nc keeps the session open; remove the container as soon as we know.
  await runCommand(["docker", "rm", "--force", name], {
    timeoutMs: _CLEANUP_TIMEOUT_MS,
  });
  await child.stdout.cancel().catch(() => {});
  const status = await child.status;
  const errors = firstLine(await stderrText);
  const mismatch = echoAnswerMismatch(options.message, answer);
  if (mismatch === undefined) return { ok: true };
  const where = `${options.host}:${options.port} on ${options.network}`;
  if (answer !== null) return { ok: false, reason: `${where}: ${mismatch}` };
  if (timedOut) {
    return {
      ok: false,
      reason: `${where}: no answer within ${options.timeoutMs} ms${errors ? ` (${errors})` : ""}`,
    };
  }
  if (status.code === 0) {
    // nc ended normally: the server hung up.
    return { ok: false, reason: `${where}: ${mismatch}` };
  }
  return {
    ok: false,
    reason: `${where}: ${errors || `no answer (docker run exited ${status.code})`}`,
  };
}

async function _validate(options: ValidateOptions): Promise<number> {
  const result = await validateEcho(options);
  if (result.ok) {
    console.log(VERDICT_SUCCESS);
    return 0;
  }
  console.log(VERDICT_FAIL);
  // The verdict alone on stdout: the course's checks compare it whole.
  console.error(`reason: ${result.reason}`);
  return 1;
}

if (import.meta.main) await runProgram("validate_echo", _USAGE, parseValidateArgs, _validate);
