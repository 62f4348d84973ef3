/**
 * Runs the real server and clients as local processes on 127.0.0.1: used by
 * the demo, the integration tests and the benchmark.
 */

import { readLines } from "../bet/csv.ts";
import { permissionSetFlags, type PermissionSetName, V8_FLAGS } from "../runtime/runtime_flags.ts";

const _ROOT = new URL("../../", import.meta.url);
const _SERVER = new URL("server.ts", _ROOT).pathname;
const _CLIENT = new URL("client.ts", _ROOT).pathname;
const _LOG_LINE_BYTES_MAX = 1024 * 1024;
/** How long a server may take to print its listen line. */
const _SERVER_START_MS_MAX = 30_000;

/** A running server process. */
export interface LocalServer {
  port: number;
  /** The admin port (status page, /metrics), when it is on. */
  adminPort: number | undefined;
  process: Deno.ChildProcess;
  /** Every stdout line so far (grows while it runs). */
  lines: string[];
  /** Resolves with the exit code once stdout is drained and it exited. */
  exited: Promise<number>;
  /** Sends SIGTERM and waits for the exit code. */
  stop(): Promise<number>;
}

async function _collect(
  stream: ReadableStream<Uint8Array>,
  lines: string[],
  onLine: (line: string) => void,
): Promise<void> {
  for await (const { text } of readLines(stream, _LOG_LINE_BYTES_MAX)) {
    lines.push(text);
    onLine(text);
  }
}

/** A running client process. */
export interface LocalClient {
  process: Deno.ChildProcess;
  /** Every stdout and stderr line so far (grows while it runs). */
  lines: string[];
  /** Resolves with the exit code once its output is drained and it exited. */
  exited: Promise<number>;
}

/** The `deno` arguments that run a script with its permission set. */
function _runArgs(script: string, set: PermissionSetName): string[] {
  return ["run", V8_FLAGS, ...permissionSetFlags(set), script];
}

/** Spawns a Deno script with piped output collected line by line; with
 * `openFilesMax`, under that open-file limit (soft and hard, set by sh's
 * `ulimit -n`, since Deno raises its soft limit to the hard one). */
function _spawn(
  script: string,
  set: PermissionSetName,
  env: Record<string, string>,
  onLine: (line: string) => void,
  openFilesMax?: number,
): LocalClient {
  const deno = [Deno.execPath(), ..._runArgs(script, set)];
  const [program, ...args] = openFilesMax === undefined
    ? deno
    : ["sh", "-c", `ulimit -n ${openFilesMax} && exec "$0" "$@"`, ...deno];
  const process = new Deno.Command(program!, {
    args,
    cwd: _ROOT.pathname,
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const stdout = _collect(process.stdout, lines, onLine);
  const stderr = _collect(process.stderr, lines, onLine);
  const exited = Promise.all([stdout, stderr, process.status]).then(([, , status]) => status.code);
  return { process, lines, exited };
}

/**
 * Starts server.ts on a free port (SERVER_PORT=0, and ADMIN_PORT=0 for the
 * admin port) and waits for its listen line.
 * @param env variables on top of SERVER_CONFIG=config/server.ini (e.g. STORAGE_DIR, AGENCIES, ADMIN_PORT=off)
 * @param onLine called with each output line as it arrives (fault tests act on them)
 * @param openFilesMax run it under this open-file limit (RLIMIT_NOFILE)
 * @throws {Error} when it exits or stays silent before listening
 */
export async function startLocalServer(
  env: Record<string, string>,
  onLine: (line: string) => void = () => {},
  openFilesMax?: number,
): Promise<LocalServer> {
  const listening = Promise.withResolvers<number>();
  let adminPort: number | undefined;
  const { process, lines, exited } = _spawn(
    _SERVER,
    "server",
    { SERVER_PORT: "0", SERVER_IP: "127.0.0.1", ADMIN_PORT: "0", ADMIN_IP: "127.0.0.1", ...env },
    (line) => {
      const admin = / action: admin_listen \| result: success \|.* port: (\d+)/.exec(line);
      if (admin !== null) adminPort = Number(admin[1]);
      const match = / action: listen \| result: success \|.* port: (\d+)/.exec(line);
      if (match !== null) listening.resolve(Number(match[1]));
      onLine(line);
    },
    openFilesMax,
  );
  exited.then((code) =>
    listening.reject(
      new Error(`server exited with code ${code} before listening: ${lines.join("\n")}`),
    )
  );
  const timer = setTimeout(
    () => listening.reject(new Error(`server did not listen within ${_SERVER_START_MS_MAX} ms`)),
    _SERVER_START_MS_MAX,
  );
  try {
    const port = await listening.promise;
    return {
      port,
      adminPort,
      process,
      lines,
      exited,
      stop: async () => {
        try {
          process.kill("SIGTERM");
        } catch {
          // already exited
        }
        return await exited;
      },
    };
  } catch (error) {
    try {
      process.kill("SIGKILL");
    } catch {
      // already exited
    }
    await exited;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** A finished client run. */
export interface ClientRun {
  code: number;
  lines: string[];
}

/**
 * Starts client.ts without waiting for it (tests that signal or kill it).
 * @param env CLI_* variables (CLI_ID, CLI_SERVER_ADDRESS, CLI_DATA_FILE, …)
 * @param onLine called with each output line as it arrives
 */
export function spawnLocalClient(
  env: Record<string, string>,
  onLine: (line: string) => void = () => {},
): LocalClient {
  return _spawn(_CLIENT, "client", env, onLine);
}

/**
 * Runs client.ts to completion.
 * @param env CLI_* variables (CLI_ID, CLI_SERVER_ADDRESS, CLI_DATA_FILE, …)
 */
export async function runLocalClient(env: Record<string, string>): Promise<ClientRun> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: _runArgs(_CLIENT, "client"),
    cwd: _ROOT.pathname,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return { code: output.code, lines: text.split("\n").filter((line) => line !== "") };
}

/** Lines of a log with a given action and result. */
export function linesOf(lines: readonly string[], action: string, result = "success"): string[] {
  const marker = ` action: ${action} | result: ${result}`;
  return lines.filter((line) => line.includes(marker));
}

/**
 * Reads a `key: value` field of a log line.
 * @param key a plain identifier such as `cantidad`
 * @returns the value, or undefined when the line has no such key
 */
export function fieldOf(line: string, key: string): string | undefined {
  return new RegExp(`(?:^|\\s)${key}: ([^|]*?)(?: \\||$)`).exec(line)?.[1];
}
