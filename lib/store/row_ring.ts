/**
 * Where the store keeps the rows of queued batches until they are on disk:
 * one buffer, allocated once and used as a ring. Batches are queued and
 * written in order, so their rows are given back in about the same order; a
 * batch given back out of order only holds the ring's head until the ones
 * before it are given back too. Rows that do not fit (the ring is full or
 * they are larger than what is left) get a buffer of their own: the ring
 * bounds memory, it never refuses.
 *
 * Why: one allocation per batch, freed by V8's garbage collector, costs the
 * server more CPU than one buffer reused.
 */

/** Spent entries kept at the front of the list before it is compacted: a
 * slice per 1,024 batches instead of a shift per batch. */
const _SPENT_ENTRIES_MAX = 1024;

/** A run of the ring in use, starting at `start`. */
interface _Entry {
  start: number;
  released: boolean;
}

/** Rows of queued batches, copied into one reused buffer. */
export class RowRing {
  readonly #buffer: Uint8Array<ArrayBuffer>;
  /** Runs in use, oldest first. */
  #entries: _Entry[] = [];
  /** Index of the oldest entry still in #entries (entries before it are spent). */
  #oldest = 0;
  /** Where the next run starts. */
  #tail = 0;

  /** @param capacityBytes the ring's size; rows beyond it get their own buffers */
  constructor(capacityBytes: number) {
    this.#buffer = new Uint8Array(capacityBytes);
  }

  /**
   * Copies rows in.
   * @returns a view of the copy in the ring, or a copy of its own when the
   *   ring has no room for it
   */
  copyIn(bytes: Uint8Array): Uint8Array {
    const start = this.#placeFor(bytes.length);
    if (start === -1) return bytes.slice();
    const end = start + bytes.length;
    this.#buffer.set(bytes, start);
    this.#entries.push({ start, released: false });
    this.#tail = end;
    return this.#buffer.subarray(start, end);
  }

  /**
   * Gives rows back once the store is done with them (written or refused).
   * Rows that got a buffer of their own are ignored.
   */
  release(rows: Uint8Array): void {
    if (rows.buffer !== this.#buffer.buffer) return;
    const entry = this.#held(rows.byteOffset);
    if (entry === undefined) return;
    entry.released = true;
    while (this.#entries[this.#oldest]?.released) this.#oldest += 1;
    if (this.#oldest === this.#entries.length) {
      this.#entries = [];
      this.#oldest = 0;
      this.#tail = 0;
    } else if (this.#oldest > _SPENT_ENTRIES_MAX) {
      this.#entries = this.#entries.slice(this.#oldest);
      this.#oldest = 0;
    }
  }

  /** Where `length` bytes fit as one run, or -1. */
  #placeFor(length: number): number {
    if (length === 0 || length > this.#buffer.length) return -1;
    const oldest = this.#entries[this.#oldest];
    if (oldest === undefined) return 0;
    if (oldest.start < this.#tail) {
      // In use: [oldest.start, tail). Free: after the tail, then before the oldest.
      if (this.#buffer.length - this.#tail >= length) return this.#tail;
      return length < oldest.start ? 0 : -1;
    }
    // Wrapped: in use [oldest.start, end) and [0, tail). Free: [tail, oldest.start).
    return oldest.start - this.#tail > length ? this.#tail : -1;
  }

  /** The entry still held that starts at `start` (entries are ordered by age, not offset). */
  #held(start: number): _Entry | undefined {
    for (let index = this.#oldest; index < this.#entries.length; index += 1) {
      const entry = this.#entries[index]!;
      if (entry.start === start && !entry.released) return entry;
    }
    return undefined;
  }
}
