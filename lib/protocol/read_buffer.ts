/**
 * A reader's buffer bookkeeping: the unread bytes sit at [start, end) of one
 * buffer; reads land after them, takes advance past them, and the buffer is
 * compacted or moved to another (grown or shrunk) one. No I/O and no budget:
 * the reader decides when and to what size, this keeps the offsets right.
 */

import { READ_BUFFER_FREE_BYTES } from "../limits.ts";

/**
 * The size a buffer grows to when `neededBytes` must fit: up to
 * READ_BUFFER_FREE_BYTES in one step (a read then takes up to two batch
 * frames), past it at least double, so long lines and large frames stay
 * linear (callers cap both).
 * @param neededBytes bytes that must fit
 * @param currentBytes the buffer's size now
 */
export function grownBufferBytes(neededBytes: number, currentBytes: number): number {
  if (neededBytes <= READ_BUFFER_FREE_BYTES) return READ_BUFFER_FREE_BYTES;
  return Math.max(neededBytes, 2 * currentBytes);
}

/** Unread bytes in one buffer. */
export class ReadBuffer {
  #bytes: Uint8Array<ArrayBuffer>;
  #start = 0;
  #end = 0;

  /** @param bytes the first buffer, empty of unread bytes */
  constructor(bytes: Uint8Array<ArrayBuffer>) {
    this.#bytes = bytes;
  }

  /** The whole buffer: the unread bytes are `[start, start + buffered)`. */
  get bytes(): Uint8Array<ArrayBuffer> {
    return this.#bytes;
  }

  /** Offset of the first unread byte. */
  get start(): number {
    return this.#start;
  }

  /** Unread bytes. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Room after the unread bytes, in bytes. */
  get roomBytes(): number {
    return this.#bytes.length - this.#end;
  }

  /** Where the next read lands: the room after the unread bytes. */
  room(): Uint8Array {
    return this.#bytes.subarray(this.#end);
  }

  /** Counts `count` bytes a read put into {@link room}. */
  added(count: number): void {
    this.#end += count;
  }

  /**
   * Takes the next `length` unread bytes (at most {@link buffered}).
   * @param copy true: a copy; false: a view valid until the buffer changes
   */
  take(length: number, copy: boolean): Uint8Array {
    const start = this.#start;
    const end = start + length;
    this.#start = end;
    return copy ? this.#bytes.slice(start, end) : this.#bytes.subarray(start, end);
  }

  /** Skips `length` unread bytes taken by hand from {@link bytes}. */
  skip(length: number): void {
    this.#start += length;
  }

  /**
   * Offset, from the first unread byte, of the first `byte` at or after
   * `from` unread bytes, or -1.
   */
  indexOf(byte: number, from: number): number {
    const found = this.#bytes.subarray(this.#start + from, this.#end).indexOf(byte);
    return found === -1 ? -1 : from + found;
  }

  /** Moves the unread bytes to the front when fewer than `wantBytes` fit after them. */
  compactFor(wantBytes: number): void {
    if (this.#start === 0 || this.roomBytes >= wantBytes) return;
    this.#bytes.copyWithin(0, this.#start, this.#end);
    this.#end -= this.#start;
    this.#start = 0;
  }

  /**
   * Moves the unread bytes to the front of `next` and reads into it from now on.
   * @returns the buffer used before, no longer read from
   * @throws {RangeError} when the unread bytes do not fit in `next`
   */
  moveTo(next: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
    const buffered = this.buffered;
    if (buffered > next.length) {
      throw new RangeError(
        `Cannot move ${buffered} unread bytes into a buffer of ${next.length} bytes`,
      );
    }
    next.set(this.#bytes.subarray(this.#start, this.#end));
    const before = this.#bytes;
    this.#bytes = next;
    this.#start = 0;
    this.#end = buffered;
    return before;
  }
}
