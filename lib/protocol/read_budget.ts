/**
 * A budget of bytes that connection readers may hold beyond their default
 * buffers, shared by every connection of a server: a reader reserves before
 * it grows its buffer for a large frame or line and releases once it shrank
 * back, so many peers parking large partial frames cost bounded memory.
 * Past the budget a reader waits (and so reads nothing: TCP backpressure).
 */

/** Grown buffers above this size are rounded up to a multiple of it, so
 * frames of about one size share {@link ReadBudget.allocate}'s spares. */
const _SPARE_ROUND_BYTES = 256 * 1024;

/** First buffers (at most 256 KiB each) kept for new readers: a flood of
 * connections reuses 64 of 16 KiB instead of leaving each to the collector. */
const _SMALL_SPARES_BYTES_MAX = 1024 * 1024;

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
  readonly #onSpent: (spent: boolean, usage: ReadBudgetUsage) => void;
  /** Grown buffers given back, oldest first; together at most #bytesMax. */
  readonly #spares: Uint8Array<ArrayBuffer>[] = [];
  #spareBytes = 0;
  /** First and free-size buffers given back, by size: with thousands of
   * readers a list searched on every allocate and summed on every recycle
   * cost the server more than the buffers it saved. */
  readonly #smallSpares = new Map<number, Uint8Array<ArrayBuffer>[]>();
  #smallSpareBytes = 0;

  /**
   * @param bytesMax bytes that may be reserved at once; a single reservation
   *   larger than it is granted when nothing else is reserved
   * @param onSpent called when a first reservation has to wait (true) and
   *   when the last waiting one is granted or withdrawn (false), for a log line
   * @throws {RangeError} when bytesMax is not a positive whole number
   */
  constructor(
    bytesMax: number,
    onSpent: (spent: boolean, usage: ReadBudgetUsage) => void = () => {},
  ) {
    if (!Number.isSafeInteger(bytesMax) || bytesMax <= 0) {
      throw new RangeError(
        `Cannot create a read budget of ${bytesMax} bytes: not a positive whole number`,
      );
    }
    this.#bytesMax = bytesMax;
    this.#onSpent = onSpent;
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
    if (this.#waiters.length === 1) this.#onSpent(true, this.usage);
    return promise;
  }

  /** Returns bytes reserved before and grants waiting reservations that now fit. */
  release(bytes: number): void {
    this.#reservedBytes -= bytes;
    if (this.#reservedBytes < 0) {
      throw new RangeError(`Cannot release ${bytes} bytes: more than were reserved`);
    }
    this.#grant();
    if (this.#reservedBytes === 0) {
      // Nobody reads a large frame: the large spares go back to the collector.
      this.#spares.length = 0;
      this.#spareBytes = 0;
    }
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
    if (this.#waiters.length === 0) this.#onSpent(false, this.usage);
    else this.#grant();
  }

  /**
   * The size a reader grows its buffer to when it needs `bytes`: above
   * 256 KiB, rounded up to a multiple of it.
   */
  static grownSize(bytes: number): number {
    if (bytes <= _SPARE_ROUND_BYTES) return bytes;
    return Math.ceil(bytes / _SPARE_ROUND_BYTES) * _SPARE_ROUND_BYTES;
  }

  /**
   * A buffer of exactly `bytes` (a size from {@link grownSize}): a spare one
   * given back by {@link recycle}, else a new one. Its old contents remain.
   */
  allocate(bytes: number): Uint8Array<ArrayBuffer> {
    if (bytes <= _SPARE_ROUND_BYTES) {
      const spare = this.#smallSpares.get(bytes)?.pop();
      if (spare === undefined) return new Uint8Array(bytes);
      this.#smallSpareBytes -= bytes;
      return spare;
    }
    const index = this.#spares.findIndex((spare) => spare.length === bytes);
    if (index === -1) return new Uint8Array(bytes);
    const [spare] = this.#spares.splice(index, 1);
    this.#spareBytes -= bytes;
    return spare!;
  }

  /**
   * Keeps a grown buffer nobody uses any more for the next {@link allocate},
   * so readers taking turns at the budget reuse a few buffers instead of
   * leaving one each to the garbage collector. The oldest spares go first
   * when they would hold more than the budget; all large ones go once
   * nothing is reserved. First buffers are kept up to 1 MiB.
   */
  recycle(buffer: Uint8Array<ArrayBuffer>): void {
    if (buffer.length <= _SPARE_ROUND_BYTES) {
      if (this.#smallSpareBytes + buffer.length > _SMALL_SPARES_BYTES_MAX) return;
      const bucket = this.#smallSpares.get(buffer.length);
      if (bucket === undefined) this.#smallSpares.set(buffer.length, [buffer]);
      else bucket.push(buffer);
      this.#smallSpareBytes += buffer.length;
      return;
    }
    if (buffer.length > this.#bytesMax) return;
    this.#spares.push(buffer);
    this.#spareBytes += buffer.length;
    while (this.#spareBytes > this.#bytesMax) this.#spareBytes -= this.#spares.shift()!.length;
  }

  #fits(bytes: number): boolean {
    return this.#reservedBytes === 0 || this.#reservedBytes + bytes <= this.#bytesMax;
  }

  #grant(): void {
    const waited = this.#waiters.length > 0;
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0]!.bytes)) {
      const waiter = this.#waiters.shift()!;
      this.#reservedBytes += waiter.bytes;
      waiter.resolve();
    }
    if (waited && this.#waiters.length === 0) this.#onSpent(false, this.usage);
  }
}
