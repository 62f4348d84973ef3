/**
 * A budget of bytes that connection readers may hold beyond their default
 * buffers, shared by every connection of a server: a reader reserves before
 * it grows its buffer for a large frame or line and releases once it shrank
 * back, so many peers parking large partial frames cost bounded memory.
 * Past the budget a reader waits (and so reads nothing: TCP backpressure).
 */

/** Bytes reserved and readers waiting, for logs and tests. */
export interface ReadBudgetUsage {
  reservedBytes: number;
  waiting: number;
}

interface _Waiter {
  bytes: number;
  promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

/** A shared byte budget with first-come, first-served waiting. */
export class ReadBudget {
  readonly #bytesMax: number;
  #reservedBytes = 0;
  readonly #waiters: _Waiter[] = [];

  /**
   * @param bytesMax bytes that may be reserved at once; a single reservation
   *   larger than it is granted when nothing else is reserved
   * @throws {RangeError} when bytesMax is not a positive whole number
   */
  constructor(bytesMax: number) {
    if (!Number.isSafeInteger(bytesMax) || bytesMax <= 0) {
      throw new RangeError(
        `Cannot create a read budget of ${bytesMax} bytes: not a positive whole number`,
      );
    }
    this.#bytesMax = bytesMax;
  }

  /** Bytes reserved now and reservations waiting. */
  get usage(): ReadBudgetUsage {
    return { reservedBytes: this.#reservedBytes, waiting: this.#waiters.length };
  }

  /**
   * Reserves bytes.
   * @returns undefined when granted at once, else a promise resolved once
   *   granted (rejected by {@link cancel})
   */
  reserve(bytes: number): Promise<void> | undefined {
    if (this.#waiters.length === 0 && this.#fits(bytes)) {
      this.#reservedBytes += bytes;
      return undefined;
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#waiters.push({ bytes, promise, resolve, reject });
    return promise;
  }

  /** Returns bytes reserved before and grants waiting reservations that now fit. */
  release(bytes: number): void {
    this.#reservedBytes -= bytes;
    if (this.#reservedBytes < 0) {
      throw new RangeError(`Cannot release ${bytes} bytes: more than were reserved`);
    }
    this.#grant();
  }

  /**
   * Withdraws a waiting reservation (its reader closed): its promise rejects
   * with `error`. A reservation already granted is not touched.
   */
  cancel(pending: Promise<void>, error: Error): void {
    const index = this.#waiters.findIndex((waiter) => waiter.promise === pending);
    if (index === -1) return;
    const [waiter] = this.#waiters.splice(index, 1);
    waiter!.reject(error);
    this.#grant();
  }

  #fits(bytes: number): boolean {
    return this.#reservedBytes === 0 || this.#reservedBytes + bytes <= this.#bytesMax;
  }

  #grant(): void {
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0]!.bytes)) {
      const waiter = this.#waiters.shift()!;
      this.#reservedBytes += waiter.bytes;
      waiter.resolve();
    }
  }
}
