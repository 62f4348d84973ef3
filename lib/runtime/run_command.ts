/**
 * Runs an external program with a deadline and collects its output. Every
 * container operation in the project goes through here, so none can hang.
 */

/** How one run ended. */
export interface CommandResult {
  /** Exit code; 127 when the program is not installed, 124 on timeout. */
  code: number;
  stdout: string;
  stderr: string;
  /** True when the deadline killed the program. */
  timedOut: boolean;
}

/** Options of {@link runCommand}. */
export interface RunOptions {
  /** Kill the program (SIGTERM) after this many milliseconds. */
  timeoutMs: number;
  /** Text written to the program's stdin, which is then closed. */
  stdin?: string;
  cwd?: string;
  /** Extra environment variables, on top of the inherited ones. */
  env?: Record<string, string>;
}

/** Exit code reported when the program does not exist (as in shells). */
export const EXIT_NOT_INSTALLED = 127;

/** Exit code reported when the deadline killed the program (as timeout(1)). */
export const EXIT_TIMED_OUT = 124;

/**
 * Runs `argv` to completion or until the deadline, capturing its output.
 * @param argv program and arguments, e.g. `["docker", "info"]`
 * @returns the exit code and output; never throws for a missing program
 * @throws {TypeError} when argv is empty
 * @example await runCommand(["docker", "version"], { timeoutMs: 10_000 })
 */
export async function runCommand(
  argv: readonly string[],
  options: RunOptions,
): Promise<CommandResult> {
  const [program, ...args] = argv;
  if (program === undefined) throw new TypeError("Cannot run an empty argv");
  const deadline = AbortSignal.timeout(options.timeoutMs);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      signal: deadline,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: options.env }),
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return {
        code: EXIT_NOT_INSTALLED,
        stdout: "",
        stderr: `${program}: command not found`,
        timedOut: false,
      };
    }
    throw error;
  }
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin)).catch(() => {});
    await writer.close().catch(() => {});
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  const timedOut = deadline.aborted;
  return {
    code: timedOut ? EXIT_TIMED_OUT : output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    timedOut,
  };
}

/**
 * Runs `argv` with the terminal attached (stdio inherited), for tasks whose
 * output the user watches, such as `compose logs -f`.
 * @returns the exit code, or 127 when the program is not installed
 */
export async function runAttached(argv: readonly string[]): Promise<number> {
  const [program, ...args] = argv;
  if (program === undefined) throw new TypeError("Cannot run an empty argv");
  try {
    const status = await new Deno.Command(program, {
      args,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    return status.code;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return EXIT_NOT_INSTALLED;
    throw error;
  }
}

/**
 * The first non-empty line of a program's error output, for one-line reports.
 * @example firstLine("\nError: boom\nmore") // "Error: boom"
 */
export function firstLine(text: string): string {
  return text.split("\n").map((line) => line.trim()).find((line) => line !== "") ?? "";
}
