/**
 * A reader's buffer held to the server's shared read budget (read_budget.ts).
 * The buffer starts at READ_BUFFER_FIRST_BYTES (a hello fits), doubles up to
 * READ_BUFFER_FREE_BYTES for free when a frame or line needs more, grows past
 * it only through the budget, and goes back to the free size (or the first
 * size, before a long wait) once what it holds fits, giving the budget back.
 * Old buffers go to the budget's spares.
 */

import { READ_BUFFER_FIRST_BYTES, READ_BUFFER_FREE_BYTES } from "../limits.ts";
import { ReadBudget } from "./read_budget.ts";
import { grownBufferBytes, ReadBuffer } from "./read_buffer.ts";

/** A ReadBuffer whose growth past the free size is reserved from a budget. */
export class BudgetedBuffer {
  readonly #buffer: ReadBuffer;
  readonly #budget: ReadBudget | undefined;
  /** Bytes of the budget held: the buffer's size above READ_BUFFER_FREE_BYTES. */
  #reservedBytes = 0;
  /** A reservation waiting for room in the budget. */
  #pending: Promise<void> | undefined;
  #cancelled = false;

  /** @param budget reserved from before growing past READ_BUFFER_FREE_BYTES; absent: no limit */
  constructor(budget?: ReadBudget) {
    this.#budget = budget;
    this.#buffer = new ReadBuffer(
      budget?.allocate(READ_BUFFER_FIRST_BYTES) ?? new Uint8Array(READ_BUFFER_FIRST_BYTES),
    );
  }

  /** The buffer: the same object for good; its bytes change as it grows and shrinks. */
  get buffer(): ReadBuffer {
    return this.#buffer;
  }

  /**
   * Makes room for `wantBytes` after the unread bytes: compacts, else grows.
   * @returns undefined when there is room now, else a promise resolved once
   *   the buffer grew (it waits while the budget is spent)
   * @throws {Deno.errors.Interrupted} (rejects) when {@link cancel} came first
   */
  makeRoom(wantBytes: number): Promise<void> | undefined {
    this.#buffer.compactFor(wantBytes);
    if (this.#buffer.roomBytes >= wantBytes) return undefined;
    return this.#grow(this.#buffer.buffered + wantBytes);
  }

  async #grow(neededBytes: number): Promise<void> {
    const currentBytes = this.#buffer.bytes.length;
    let size = grownBufferBytes(neededBytes, currentBytes);
    let grown: Uint8Array<ArrayBuffer>;
    if (this.#budget === undefined || size <= READ_BUFFER_FREE_BYTES) {
      grown = this.#budget?.allocate(size) ?? new Uint8Array(size);
    } else {
      size = ReadBudget.grownSize(size);
      await this.#reserve(size - Math.max(currentBytes, READ_BUFFER_FREE_BYTES));
      if (this.#cancelled) throw new Deno.errors.Interrupted("reader closed");
      grown = this.#budget.allocate(size);
    }
    this.#recycle(this.#buffer.moveTo(grown));
  }

  async #reserve(bytes: number): Promise<void> {
    const pending = this.#budget!.reserve(bytes);
    if (pending !== undefined) {
      this.#pending = pending;
      try {
        await pending;
      } finally {
        this.#pending = undefined;
      }
    }
    this.#reservedBytes += bytes;
  }

  /**
   * Goes back to `size` (at most READ_BUFFER_FREE_BYTES) once the unread
   * bytes fit in it, and gives the budget back. Views handed out before
   * must be done with.
   */
  shrink(size: number = READ_BUFFER_FREE_BYTES): void {
    if (this.#buffer.bytes.length <= size || this.#buffer.buffered > size) return;
    const small = this.#budget?.allocate(size) ?? new Uint8Array(size);
    this.#recycle(this.#buffer.moveTo(small));
    this.#giveBack();
  }

  /** Withdraws a waiting reservation; a grow then fails with Interrupted. Safe twice. */
  cancel(): void {
    this.#cancelled = true;
    if (this.#pending !== undefined) {
      this.#budget?.cancel(this.#pending, new Deno.errors.Interrupted("reader closed"));
    }
  }

  /** Cancels, drops the unread bytes, gives the budget back and the buffer to its spares. */
  dispose(): void {
    this.cancel();
    this.#buffer.skip(this.#buffer.buffered);
    this.#recycle(this.#buffer.moveTo(new Uint8Array(0)));
    this.#giveBack();
  }

  #giveBack(): void {
    if (this.#reservedBytes === 0) return;
    this.#budget?.release(this.#reservedBytes);
    this.#reservedBytes = 0;
  }

  /** Hands a buffer no longer read from to the budget's spares. */
  #recycle(buffer: Uint8Array<ArrayBuffer>): void {
    if (buffer.length >= READ_BUFFER_FIRST_BYTES) this.#budget?.recycle(buffer);
  }
}
