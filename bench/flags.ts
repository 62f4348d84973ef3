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
