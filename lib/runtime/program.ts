/** The `main()` of every script: flags, usage, one-line errors, exit code. */

/**
 * Runs a program's main: parses `Deno.args`, prints the usage on `--help`,
 * or one line and exit code 2 after a bad flag; otherwise sets
 * `Deno.exitCode` to what `run` returns. An error that escapes `run` is one
 * line on stderr and exit code 1, never a stack trace.
 * @param name the program's name, prefixed to error messages
 * @param parse reads the arguments; returns "help" for `--help`; throws on a bad flag
 * @param run does the work and returns the exit code
 * @example await runProgram("gen_data", USAGE, parseDataArgs, generate)
 */
export async function runProgram<T>(
  name: string,
  usage: string,
  parse: (args: string[]) => T | "help" | Promise<T | "help">,
  run: (options: T) => Promise<number>,
): Promise<void> {
  let options: T | "help";
  try {
    options = await parse(Deno.args);
  } catch (error) {
    console.error(`${name}: ${(error as Error).message} (--help shows the usage)`);
    Deno.exitCode = 2;
    return;
  }
  if (options === "help") {
    console.log(usage);
    return;
  }
  try {
    Deno.exitCode = await run(options);
  } catch (error) {
    console.error(`${name}: ${(error as Error).message}`);
    Deno.exitCode = 1;
  }
}
