/** The client's retry policy against a fake clock: plain numbers, no sleeps. */

import assert from "node:assert/strict";
import { RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN } from "../lib/limits.ts";
import { RetryBackoff } from "../lib/runtime/retry_backoff.ts";

/** The pauses after `count` failures in a row. */
function delays(backoff: RetryBackoff, count: number): number[] {
  return Array.from({ length: count }, () => backoff.failed());
}

Deno.test("RetryBackoff.failed() doubles the pause from the minimum and holds it at the maximum", () => {
  const backoff = new RetryBackoff({ budgetMs: 30_000, immediateRetries: 0 });
  const expected = [50, 100, 200, 400, 800, 1600, 2000, 2000];
  assert.equal(RECONNECT_DELAY_MS_MIN, expected[0]);
  assert.equal(RECONNECT_DELAY_MS_MAX, expected.at(-1));
  assert.deepEqual(delays(backoff, expected.length), expected);
  assert.equal(backoff.failures, expected.length);
  assert.equal(delays(backoff, 1000).at(-1), RECONNECT_DELAY_MS_MAX, "a long streak stays capped");
});

Deno.test("RetryBackoff.failed() retries 0, 1 and 2 failures at once when immediateRetries says so", async (t) => {
  const cases: [number, number[]][] = [
    [0, [50, 100, 200]],
    [1, [0, 50, 100, 200]],
    [2, [0, 0, 50, 100]],
  ];
  for (const [immediateRetries, expected] of cases) {
    await t.step(`immediateRetries ${immediateRetries}`, () => {
      const backoff = new RetryBackoff({ budgetMs: 30_000, immediateRetries });
      assert.deepEqual(delays(backoff, expected.length), expected);
    });
  }
});

Deno.test("RetryBackoff.isPastBudget() is false at 0 and budgetMs after the clock started, true at budgetMs + 1", () => {
  const backoff = new RetryBackoff({ budgetMs: 1_000, immediateRetries: 0 });
  assert.equal(backoff.isPastBudget(1_000_000), false, "never while the clock is stopped");
  assert.equal(backoff.elapsedMs(1_000_000), 0);
  backoff.startClock(5_000);
  assert.equal(backoff.isPastBudget(5_000), false);
  assert.equal(backoff.isPastBudget(6_000), false);
  assert.equal(backoff.isPastBudget(6_001), true);
  assert.equal(backoff.elapsedMs(6_001), 1_001);
});

Deno.test("RetryBackoff.startClock() keeps the first start until succeeded() stops the clock", () => {
  const backoff = new RetryBackoff({ budgetMs: 1_000, immediateRetries: 1 });
  backoff.startClock(0);
  backoff.startClock(900);
  assert.equal(backoff.elapsedMs(1_001), 1_001, "the second start did not move the clock");
  assert.equal(backoff.isPastBudget(1_001), true);
  delays(backoff, 3);
  backoff.succeeded();
  assert.equal(backoff.failures, 0);
  assert.equal(backoff.isPastBudget(1_000_000), false);
  assert.deepEqual(delays(backoff, 2), [0, 50], "the streak starts over");
  backoff.startClock(2_000);
  assert.equal(backoff.elapsedMs(2_500), 500);
});

Deno.test("RetryBackoff with a budget of 0 is past it 1 ms after the clock started", () => {
  const backoff = new RetryBackoff({ budgetMs: 0, immediateRetries: 0 });
  backoff.startClock(10);
  assert.equal(backoff.isPastBudget(10), false);
  assert.equal(backoff.isPastBudget(11), true);
});

Deno.test("RetryBackoff as connectWithRetry uses it: gives up when the next try would start past the budget", () => {
  // Attempts fail at once; the loop sleeps exactly the pause. Budget 400 ms:
  // tries at 0, 50, 150 and 350; after the fourth the next try (750) is past it.
  const backoff = new RetryBackoff({ budgetMs: 400, immediateRetries: 0 });
  let nowMs = 0;
  backoff.startClock(nowMs);
  const tries: number[] = [];
  while (true) {
    tries.push(nowMs);
    const delayMs = backoff.failed();
    if (backoff.isPastBudget(nowMs + delayMs)) break;
    nowMs += delayMs;
  }
  assert.deepEqual(tries, [0, 50, 150, 350]);
  assert.equal(backoff.failures, 4);
});
