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

/**
 * Whether a log line has the given action and result.
 * @example isLine("… INFO     action: sorteo | result: success", "sorteo") // true
 */
export function isLine(line: string, action: string, result = "success"): boolean {
  return line.includes(` action: ${action} | result: ${result}`);
}

/** How many of `lines` have the given action and result. */
export function countLines(lines: readonly string[], action: string, result = "success"): number {
  let count = 0;
  for (const line of lines) if (isLine(line, action, result)) count += 1;
  return count;
}

/**
 * Watches a process's output line by line, as local_cluster's `onLine` hook
 * hands it over, and settles each wait the moment its line arrives: no
 * polling, no rescanning of the whole log.
 * @example
 * const watch = new LineWatch();
 * const server = await startLocalServer(env, watch.onLine);
 * const drawn = watch.waitFor((line) => isLine(line, "sorteo"), "the draw");
 */
export class LineWatch {
  #waits: { matches: (line: string) => boolean; found: PromiseWithResolvers<string> }[] = [];

  /** The hook to pass as `onLine`. */
  readonly onLine = (line: string): void => {
    this.#waits = this.#waits.filter(({ matches, found }) => {
      if (!matches(line)) return true;
      found.resolve(line);
      return false;
    });
  };

  /**
   * Waits for the first line from now on that `matches` accepts (it is called
   * once per line, in order, so it may count).
   * @param what names the line in the error
   * @returns the line
   * @throws {Error} when no such line arrived within `limitMs`
   */
  async waitFor(
    matches: (line: string) => boolean,
    what: string,
    limitMs = 20_000,
  ): Promise<string> {
    const found = Promise.withResolvers<string>();
    const wait = { matches, found };
    this.#waits.push(wait);
    const timer = setTimeout(() => {
      this.#waits = this.#waits.filter((entry) => entry !== wait);
      found.reject(new Error(`no line with ${what} within ${limitMs} ms`));
    }, limitMs);
    try {
      return await found.promise;
    } finally {
      clearTimeout(timer);
    }
  }
}
