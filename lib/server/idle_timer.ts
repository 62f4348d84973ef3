/**
 * Closes a connection that stays silent for too long. Activity is recorded
 * with a timestamp (no timer churn per read); one timer checks it lazily.
 */

/** What a session tells the idle deadline of its connection. */
export interface IdleClock {
  /** A complete message arrived: the idle time starts again. */
  touch(): void;
  /** Stops counting while the peer rightly waits (for the draw). */
  pause(): void;
  /** Counts again from now. */
  resume(): void;
}

/** A per-connection idle deadline. */
export class IdleTimer implements IdleClock {
  readonly #idleMs: number;
  readonly #onIdle: () => void;
  #lastActivityMs = Date.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #paused = false;

  /**
   * @param idleMs silence allowed before `onIdle` runs
   * @param onIdle called once when the connection stayed idle too long
   */
  constructor(idleMs: number, onIdle: () => void) {
    this.#idleMs = idleMs;
    this.#onIdle = onIdle;
    this.#schedule(idleMs);
  }

  /** Records activity now. */
  touch(): void {
    this.#lastActivityMs = Date.now();
  }

  /** Stops counting (e.g. while the peer rightly waits for the draw). */
  pause(): void {
    this.#paused = true;
  }

  /** Counts again from now. */
  resume(): void {
    this.#paused = false;
    this.touch();
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => this.#check(), delayMs);
  }

  #check(): void {
    const silentMs = Date.now() - this.#lastActivityMs;
    if (this.#paused || silentMs < this.#idleMs) {
      this.#schedule(this.#paused ? this.#idleMs : this.#idleMs - silentMs);
      return;
    }
    this.#timer = undefined;
    this.#onIdle();
  }

  /** Stops the timer for good. Safe to call twice. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
