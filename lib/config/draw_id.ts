/**
 * Draw ids: every deployment `deno task compose` generates is a new draw
 * (sorteo) with a new id; the id names the draw's folder in the storage.
 */

import { DRAW_ID_BYTES_MAX } from "../limits.ts";

/** The draw of a local run (`deno task server`, the demo, tests) when none is configured. */
export const DRAW_ID_DEFAULT = "local";

const _DRAW_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Why `text` cannot be a draw id (it names a folder), or undefined when it can.
 * @example drawIdViolation("20261201-094200-1a2b") // undefined
 */
export function drawIdViolation(text: string): string | undefined {
  if (text.length === 0 || text.length > DRAW_ID_BYTES_MAX) {
    return `must be 1 to ${DRAW_ID_BYTES_MAX} characters`;
  }
  if (!_DRAW_ID.test(text)) {
    return "may hold only letters, digits, '.', '_' and '-', and must start with a letter or digit";
  }
  return undefined;
}

/**
 * A new draw id: the UTC time of `now` and 4 random hex digits.
 * @example newDrawId(new Date("2026-12-01T09:42:00Z")) // "20261201-094200-" + 4 hex digits
 */
export function newDrawId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const random = crypto.getRandomValues(new Uint16Array(1))[0]!.toString(16).padStart(4, "0");
  return `${stamp}-${random}`;
}
