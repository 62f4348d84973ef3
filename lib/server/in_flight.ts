/**
 * Work handed off and not yet settled (a session's batches at the store),
 * with waits for room below a window and for none left.
 */

/** A count of unsettled work items. */
export class InFlight {
  #count = 0;
  /** Resolved by the next {@link settle}; undefined while nobody waits. */
  #next: PromiseWithResolvers<void> | undefined;

  /** Items started and not settled. */
  get count(): number {
    return this.#count;
  }

  /** One more item is under way. */
  start(): void {
    this.#count += 1;
  }

  /**
   * One item settled: wakes whoever waits.
   * @throws {RangeError} when nothing is under way (a caller's bug)
   */
  settle(): void {
    if (this.#count === 0) throw new RangeError("settle() called with nothing in flight");
    this.#count -= 1;
    const next = this.#next;
    this.#next = undefined;
    next?.resolve();
  }

  /** Resolves once fewer than `max` items are under way. */
  async below(max: number): Promise<void> {
    while (this.#count >= max) await this.#settled();
  }

  /** Resolves once no item is under way. */
  none(): Promise<void> {
    return this.below(1);
  }

  #settled(): Promise<void> {
    this.#next ??= Promise.withResolvers();
    return this.#next.promise;
  }
}
