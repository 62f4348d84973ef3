/** Command-line handling shared by the benchmark's programs. */

import { wholeNumberFlag } from "../lib/runtime/task_args.ts";

/**
 * Reads a required whole-number flag.
 * @param value the flag's text, undefined when absent
 * @throws {RangeError} when absent or not a whole number in min..max
 * @example requiredNumberFlag("8", "--port", 1, 65535) // 8
 */
export function requiredNumberFlag(
  value: string | undefined,
  flag: string,
  min: number,
  max: number,
): number {
  if (value === undefined) throw new RangeError(`${flag} is required`);
  return wholeNumberFlag(value, flag, min, min, max);
}

/**
 * Runs a program's main: parses `Deno.args`, prints the usage on `--help` or
 * (with exit code 2) after a bad flag, otherwise sets `Deno.exitCode` to what
 * `run` returns.
 * @param name the program's name, prefixed to error messages
 */
export async function runProgram<T>(
  name: string,
  usage: string,
  parse: (args: string[]) => T | "help",
  run: (options: T) => Promise<number>,
): Promise<void> {
  let options: T | "help";
  try {
    options = parse(Deno.args);
  } catch (error) {
    console.error(`${name}: ${(error as Error).message}\n${usage}`);
    Deno.exitCode = 2;
    return;
  }
  if (options === "help") {
    console.log(usage);
    return;
  }
  Deno.exitCode = await run(options);
}
