/** Command-line arguments as scripts receive them from `deno task`. */

/**
 * Drops the `--` that `deno task NAME -- --flag` passes through.
 * @example withoutTaskSeparator(["--", "--quick"]) // ["--quick"]
 */
export function withoutTaskSeparator(args: readonly string[]): string[] {
  return args[0] === "--" ? args.slice(1) : [...args];
}

/**
 * Reads a whole-number flag value.
 * @param value the flag's text, undefined when absent
 * @param flag the flag's name, for the message
 * @param fallback the value when absent
 * @throws {RangeError} when the text is not a whole number in min..max
 * @example wholeNumberFlag("5", "--agencies", 1, 1, 50) // 5
 */
export function wholeNumberFlag(
  value: string | undefined,
  flag: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new RangeError(`${flag} "${value}" is not a whole number in ${min}..${max}`);
  }
  return Number(value);
}
