/**
 * A buffered reader over a connection: exact-length reads that loop over
 * short reads, line reads for the echo session, and frame reads that check a
 * length prefix against its cap before allocating anything. The buffer's
 * offsets live in read_buffer.ts, its size against the read budget in
 * budgeted_buffer.ts, the header rules in frame_header.ts: this class reads.
 */

import type { Frame } from "./message_codec.ts";
import { frameBodyLength, frameHeaderError } from "./frame_header.ts";
import { ErrorCode, FRAME_HEADER_BYTES, ProtocolError } from "./protocol.ts";
import type { ReadBudget } from "./read_budget.ts";
import { BudgetedBuffer } from "./budgeted_buffer.ts";
import type { ReadBuffer } from "./read_buffer.ts";
import { READ_BUFFER_FIRST_BYTES } from "../limits.ts";

/** What the reader reads from: a `Deno.Conn` or a test double. */
export interface ByteSource {
  read(buffer: Uint8Array): Promise<number | null>;
}

/** Reads frames and lines from a byte source. */
export class BufferedReader {
  readonly #source: ByteSource;
  /** Sized against the budget; shrinks back before each frame or line, and to
   * its first size before a peek waits on it empty (an agency waiting for the draw). */
  readonly #memory: BudgetedBuffer;
  /** The memory's buffer (the same object for good; its bytes change). */
  readonly #buffer: ReadBuffer;
  /** The source said end of stream: later fills answer false without a read. */
  #ended = false;
  #closed = false;

  /**
   * @param source where the bytes come from
   * @param budget shared by the readers of a server: growing the buffer past
   *   its first size reserves from it first, and waits while it is spent
   */
  constructor(source: ByteSource, budget?: ReadBudget) {
    this.#source = source;
    this.#memory = new BudgetedBuffer(budget);
    this.#buffer = this.#memory.buffer;
  }

  /** The buffer's size now, in bytes (it shrinks back after a large frame). */
  get bufferBytes(): number {
    return this.#buffer.bytes.length;
  }

  /**
   * Cancels a reservation this reader waits for; later reads fail with
   * Interrupted. Its buffer and budget stay until {@link dispose}: a read
   * into the buffer may still be pending until the connection closes.
   * Safe to call twice.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#memory.cancel();
  }

  /**
   * Closes, gives back the budget and hands the buffer to the budget's
   * spares. Only once the source is closed and no view into the buffer is
   * in use (the server calls it when the connection's session ended).
   */
  dispose(): void {
    this.close();
    this.#memory.dispose();
  }

  /**
   * True when a whole frame (header and body) is already buffered: reading
   * it needs no read from the source. The client drains such replies before
   * its next write, so the batches they free go out in one write.
   */
  get hasWholeFrame(): boolean {
    const buffer = this.#buffer;
    const buffered = buffer.buffered;
    return buffered >= FRAME_HEADER_BYTES &&
      buffered >= FRAME_HEADER_BYTES + frameBodyLength(buffer.bytes, buffer.start);
  }

  /** Reads more bytes; false at end of stream. */
  async #fill(wantBytes: number): Promise<boolean> {
    if (this.#closed) throw new Deno.errors.Interrupted("reader closed");
    if (this.#ended) return false;
    const growing = this.#memory.makeRoom(wantBytes);
    if (growing !== undefined) await growing;
    const count = await this.#source.read(this.#buffer.room());
    if (count === null) {
      this.#ended = true;
      return false;
    }
    this.#buffer.added(count);
    return true;
  }

  /**
   * Looks at the next byte without consuming it.
   * @returns the byte, or null at end of stream
   */
  async peekByte(): Promise<number | null> {
    // A peek waits for a peer that may stay silent long (the draw): it waits
    // on a first-size buffer, not on one grown for the upload.
    this.#memory.shrink(READ_BUFFER_FIRST_BYTES);
    while (this.#buffer.buffered === 0) {
      if (!(await this.#fill(1))) return null;
    }
    return this.#buffer.bytes[this.#buffer.start]!;
  }

  /**
   * Reads exactly `length` bytes.
   * @returns a copy of the bytes, or null when the stream ended before the first one
   * @throws {ProtocolError} with code truncatedFrame when it ends after the first one
   */
  readExact(length: number, what: string): Promise<Uint8Array | null> {
    return this.#take(length, what, true);
  }

  /** {@link readExact}, as a copy or as a view valid until the next read. */
  async #take(length: number, what: string, copy: boolean): Promise<Uint8Array | null> {
    while (this.#buffer.buffered < length) {
      const hadSome = this.#buffer.buffered > 0;
      if (!(await this.#fill(length - this.#buffer.buffered))) {
        if (!hadSome) return null;
        throw new ProtocolError(
          ErrorCode.truncatedFrame,
          `stream ended inside ${what}: ${this.#buffer.buffered} of ${length} bytes`,
        );
      }
    }
    return this.#buffer.take(length, copy);
  }

  /**
   * Reads one frame, checking marker, version and length cap first.
   * @param frameBytesMax largest body accepted
   * @returns the frame, or null at a clean end of stream between frames
   * @throws {ProtocolError} on a bad header, an oversized body or a truncated frame
   */
  readFrame(frameBytesMax: number): Promise<Frame | null> {
    return this.#bufferedFrame(frameBytesMax, true) ?? this.#frame(frameBytesMax, true);
  }

  /**
   * {@link readFrame} whose body is a view into this reader's buffer, valid
   * only until the next read: for a caller done with the body before reading
   * again (the server's batches, scanned at once), it saves a copy per frame.
   */
  readFrameView(frameBytesMax: number): Promise<Frame | null> {
    return this.#bufferedFrame(frameBytesMax, false) ?? this.#frame(frameBytesMax, false);
  }

  /**
   * The next frame when the buffer holds all of it and its header is sound,
   * as a settled promise: no async call chain (three async calls and two
   * awaits per frame otherwise, the most garbage the server makes per
   * batch). Anything else (a partial frame, a bad header, a body over
   * the cap) is left to {@link #frame}, which reads, checks and throws.
   */
  #bufferedFrame(frameBytesMax: number, copy: boolean): Promise<Frame> | undefined {
    this.#memory.shrink();
    const buffer = this.#buffer;
    const buffered = buffer.buffered;
    if (buffered < FRAME_HEADER_BYTES) return undefined;
    const bytes = buffer.bytes;
    const start = buffer.start;
    const length = frameBodyLength(bytes, start);
    if (buffered < FRAME_HEADER_BYTES + length) return undefined;
    if (frameHeaderError(bytes, start, frameBytesMax) !== undefined) return undefined;
    const type = bytes[start + 2]!;
    buffer.skip(FRAME_HEADER_BYTES);
    const body = length === 0 ? new Uint8Array(0) : buffer.take(length, copy);
    return Promise.resolve({ type, body });
  }

  async #frame(frameBytesMax: number, copy: boolean): Promise<Frame | null> {
    this.#memory.shrink();
    const header = await this.#take(FRAME_HEADER_BYTES, "frame header", false);
    if (header === null) return null;
    const error = frameHeaderError(header, 0, frameBytesMax);
    if (error !== undefined) throw error;
    const type = header[2]!;
    const length = frameBodyLength(header, 0);
    const body = length === 0 ? new Uint8Array(0) : await this.#take(length, "frame body", copy);
    if (body === null) {
      throw new ProtocolError(
        ErrorCode.truncatedFrame,
        `stream ended before a ${length}-byte body`,
      );
    }
    return { type, body };
  }

  /**
   * Reads one line, its `\n` included when present.
   * @returns the line's bytes, or null at end of stream with nothing pending
   * @throws {RangeError} when no line break comes within `lineBytesMax` bytes
   */
  async readLine(lineBytesMax: number): Promise<Uint8Array | null> {
    this.#memory.shrink();
    const buffer = this.#buffer;
    let scanned = 0;
    while (true) {
      const newline = buffer.indexOf(0x0a, scanned);
      // The line's bytes before its newline; every buffered byte while none came.
      const lineBytes = newline === -1 ? buffer.buffered : newline;
      if (lineBytes > lineBytesMax) {
        throw new RangeError(`echo line longer than ${lineBytesMax} bytes`);
      }
      if (newline !== -1) return buffer.take(newline + 1, true);
      scanned = buffer.buffered;
      if (!(await this.#fill(1))) {
        return buffer.buffered === 0 ? null : buffer.take(buffer.buffered, true);
      }
    }
  }
}
