/** Waiting on a growing log. */

import { linesOf } from "../../lib/dev/local_cluster.ts";

/** How often {@link waitForLine} looks at the log again. */
const _POLL_MS = 20;

/**
 * Polls a growing log until a line with `action` and `result` appears.
 * @throws {Error} when none appeared within `limitMs`
 */
export async function waitForLine(
  lines: readonly string[],
  action: string,
  result = "success",
  limitMs = 20_000,
): Promise<void> {
  for (let waitedMs = 0; linesOf(lines, action, result).length === 0; waitedMs += _POLL_MS) {
    if (waitedMs > limitMs) throw new Error(`no ${action} line within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, _POLL_MS));
  }
}
