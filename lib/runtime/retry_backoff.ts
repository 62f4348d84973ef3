/**
 * The one retry policy, pure (no clock, no timers): how long to wait after
 * a failure, and whether the time budget has run out. The client's connect
 * (connect_retry.ts) and reconnect (upload_connection.ts), within
 * `reconnect.budget`, and the server's wait for its database at start
 * (store/pg_open.ts), within STORE_WAIT, follow it; their loops only sleep
 * for what it says.
 *
 * The pauses double from RECONNECT_DELAY_MS_MIN up to RECONNECT_DELAY_MS_MAX,
 * after `immediateRetries` failures retried at once. The budget runs on a
 * clock the caller starts (when it first counts against the budget) and
 * that {@link RetryBackoff.succeeded} stops.
 */

import { RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN } from "../limits.ts";

/** How a retry loop backs off. */
export interface BackoffSchedule {
  /** How long to keep trying once the clock started. */
  budgetMs: number;
  /** Failures in a row that are retried at once, before the pauses start. */
  immediateRetries: number;
}

/** Failures in a row, and since when they count against the budget. */
export class RetryBackoff {
  readonly #schedule: BackoffSchedule;
  #failures = 0;
  #clockStartMs: number | undefined;

  constructor(schedule: BackoffSchedule) {
    this.#schedule = schedule;
  }

  /** Failures counted since the last success. */
  get failures(): number {
    return this.#failures;
  }

  /**
   * Counts one more failure in a row.
   * @returns how long to wait before the next try: 0 for the first
   *   `immediateRetries` failures, then RECONNECT_DELAY_MS_MIN doubling up to
   *   RECONNECT_DELAY_MS_MAX
   * @example
   * ```ts
   * const backoff = new RetryBackoff({ budgetMs: 30_000, immediateRetries: 1 });
   * [backoff.failed(), backoff.failed(), backoff.failed()]; // [0, 50, 100]
   * ```
   */
  failed(): number {
    this.#failures += 1;
    const paused = this.#failures - this.#schedule.immediateRetries;
    if (paused <= 0) return 0;
    return Math.min(RECONNECT_DELAY_MS_MIN * 2 ** (paused - 1), RECONNECT_DELAY_MS_MAX);
  }

  /** Starts the budget's clock at `nowMs`, unless it runs already. */
  startClock(nowMs: number): void {
    this.#clockStartMs ??= nowMs;
  }

  /** Milliseconds from the clock's start to `atMs` (0 while it is stopped). */
  elapsedMs(atMs: number): number {
    return this.#clockStartMs === undefined ? 0 : atMs - this.#clockStartMs;
  }

  /**
   * Whether `atMs` lies past the budget: more than `budgetMs` after the
   * clock started. Never while the clock is stopped.
   */
  isPastBudget(atMs: number): boolean {
    return this.#clockStartMs !== undefined && this.elapsedMs(atMs) > this.#schedule.budgetMs;
  }

  /** Something got through: earlier failures no longer count, the clock stops. */
  succeeded(): void {
    this.#failures = 0;
    this.#clockStartMs = undefined;
  }
}
