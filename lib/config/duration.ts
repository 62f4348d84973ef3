/** Durations written as in the exercise's config: `100ms`, `5s`, `2m`, `1h`. */

const _UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a duration with a unit.
 * @param text e.g. `5s`, `100ms`, `1.5s`
 * @returns the duration in milliseconds
 * @throws {SyntaxError} when the text is not a number followed by ms, s, m or h
 * @example parseDuration("100ms") // 100
 */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(text);
  if (match === null) {
    throw new SyntaxError(
      `invalid duration "${text}" (expected a number and a unit: ms, s, m or h, e.g. 5s)`,
    );
  }
  return Math.round(Number(match[1]) * _UNIT_MS[match[2]!]!);
}
