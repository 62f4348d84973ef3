/**
 * A buffered reader over a connection: exact-length reads that loop over
 * short reads, line reads for the echo session, and frame reads that check a
 * length prefix against its cap before allocating anything.
 */

import type { Frame } from "./message_codec.ts";
import {
  ErrorCode,
  FRAME_HEADER_BYTES,
  FRAME_LENGTH_OFFSET,
  FRAME_MARKER,
  PROTOCOL_VERSION,
  ProtocolError,
} from "./protocol.ts";
import { ReadBudget } from "./read_budget.ts";
import { READ_BUFFER_FIRST_BYTES, READ_BUFFER_FREE_BYTES } from "../limits.ts";

/** What the reader reads from: a `Deno.Conn` or a test double. */
export interface ByteSource {
  read(buffer: Uint8Array): Promise<number | null>;
}

/** Grows up to here are free; beyond it they reserve from the budget. */
const _CHUNK_BYTES = READ_BUFFER_FREE_BYTES;

/** Reads frames and lines from a byte source. */
export class BufferedReader {
  readonly #source: ByteSource;
  #buffer: Uint8Array<ArrayBuffer>;
  #start = 0;
  #end = 0;
  /** The source said end of stream: later fills answer false without a read. */
  #ended = false;
  readonly #budget: ReadBudget | undefined;
  /** Bytes of the budget this reader holds: its buffer's size above _CHUNK_BYTES.
   * The buffer starts at READ_BUFFER_FIRST_BYTES (a hello fits), doubles up
   * to _CHUNK_BYTES for free when a frame or line needs more, grows past it
   * only through the budget, goes back to _CHUNK_BYTES before each frame or
   * line once what it holds fits, and back to its first size before waiting
   * on an empty buffer in {@link peekByte} (an agency waiting for the draw). */
  #reservedBytes = 0;
  /** A reservation waiting for room in the budget. */
  #pending: Promise<void> | undefined;
  #closed = false;

  /**
   * @param source where the bytes come from
   * @param budget shared by the readers of a server: growing the buffer past
   *   its first size reserves from it first, and waits while it is spent
   */
  constructor(source: ByteSource, budget?: ReadBudget) {
    this.#source = source;
    this.#budget = budget;
    this.#buffer = budget?.allocate(READ_BUFFER_FIRST_BYTES) ??
      new Uint8Array(READ_BUFFER_FIRST_BYTES);
  }

  /** The buffer's size now, in bytes (it shrinks back after a large frame). */
  get bufferBytes(): number {
    return this.#buffer.length;
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
    if (this.#pending !== undefined) {
      this.#budget?.cancel(this.#pending, new Deno.errors.Interrupted("reader closed"));
    }
  }

  /**
   * Closes, gives back the budget and hands the buffer to the budget's
   * spares. Only once the source is closed and no view into the buffer is
   * in use (the server calls it when the connection's session ended).
   */
  dispose(): void {
    this.close();
    this.#recycle();
    this.#giveBack();
    this.#buffer = new Uint8Array(0);
    this.#start = this.#end = 0;
  }

  #giveBack(): void {
    if (this.#reservedBytes === 0) return;
    this.#budget?.release(this.#reservedBytes);
    this.#reservedBytes = 0;
  }

  /** Goes back to `size` (at most _CHUNK_BYTES) once the bytes held fit in
   * it. Any view handed out before is done with: callers read again only after. */
  #shrink(size: number = _CHUNK_BYTES): void {
    if (this.#buffer.length <= size || this.#buffered > size) return;
    const small = this.#budget?.allocate(size) ?? new Uint8Array(size);
    small.set(this.#buffer.subarray(this.#start, this.#end));
    this.#end = this.#buffered;
    this.#start = 0;
    this.#recycle();
    this.#buffer = small;
    this.#giveBack();
  }

  /** Hands the buffer, no longer read from, to the budget's spares. */
  #recycle(): void {
    if (this.#buffer.length >= READ_BUFFER_FIRST_BYTES) this.#budget?.recycle(this.#buffer);
  }

  async #reserve(bytes: number): Promise<void> {
    if (this.#budget === undefined) return;
    const pending = this.#budget.reserve(bytes);
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
   * True when a whole frame (header and body) is already buffered: reading
   * it needs no read from the source. The client drains such replies before
   * its next write, so the batches they free go out in one write.
   */
  get hasWholeFrame(): boolean {
    const length = this.#lengthAhead();
    return length !== -1 && this.#buffered >= FRAME_HEADER_BYTES + length;
  }

  /** Body length the buffered frame header declares, or -1 before a whole header. */
  #lengthAhead(): number {
    if (this.#buffered < FRAME_HEADER_BYTES) return -1;
    const buffer = this.#buffer;
    const at = this.#start + FRAME_LENGTH_OFFSET;
    return (buffer[at]! * 0x1000000) +
      ((buffer[at + 1]! << 16) | (buffer[at + 2]! << 8) | buffer[at + 3]!);
  }

  get #buffered(): number {
    return this.#end - this.#start;
  }

  /** Reads more bytes; false at end of stream. */
  async #fill(wantBytes: number): Promise<boolean> {
    if (this.#closed) throw new Deno.errors.Interrupted("reader closed");
    if (this.#ended) return false;
    if (this.#start > 0 && this.#buffer.length - this.#end < wantBytes) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#buffer.length - this.#end < wantBytes) {
      // Doubling keeps long lines and large frames linear; callers cap both.
      const needed = this.#end + wantBytes;
      // Up to _CHUNK_BYTES in one step, for free (a read then takes up to two
      // batch frames); past it only what the budget grants.
      let size = needed <= _CHUNK_BYTES ? _CHUNK_BYTES : Math.max(needed, 2 * this.#buffer.length);
      let grown: Uint8Array<ArrayBuffer>;
      if (this.#budget === undefined || size <= _CHUNK_BYTES) {
        grown = this.#budget?.allocate(size) ?? new Uint8Array(size);
      } else {
        size = ReadBudget.grownSize(size);
        await this.#reserve(size - Math.max(this.#buffer.length, _CHUNK_BYTES));
        if (this.#closed) throw new Deno.errors.Interrupted("reader closed");
        grown = this.#budget.allocate(size);
      }
      grown.set(this.#buffer.subarray(0, this.#end));
      this.#recycle();
      this.#buffer = grown;
    }
    const count = await this.#source.read(this.#buffer.subarray(this.#end));
    if (count === null) {
      this.#ended = true;
      return false;
    }
    this.#end += count;
    return true;
  }

  /**
   * Looks at the next byte without consuming it.
   * @returns the byte, or null at end of stream
   */
  async peekByte(): Promise<number | null> {
    // A peek waits for a peer that may stay silent long (the draw): it waits
    // on a first-size buffer, not on one grown for the upload.
    this.#shrink(READ_BUFFER_FIRST_BYTES);
    while (this.#buffered === 0) {
      if (!(await this.#fill(1))) return null;
    }
    return this.#buffer[this.#start]!;
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
    while (this.#buffered < length) {
      const hadSome = this.#buffered > 0;
      if (!(await this.#fill(length - this.#buffered))) {
        if (!hadSome) return null;
        throw new ProtocolError(
          ErrorCode.truncatedFrame,
          `stream ended inside ${what}: ${this.#buffered} of ${length} bytes`,
        );
      }
    }
    const end = this.#start + length;
    const bytes = copy
      ? this.#buffer.slice(this.#start, end)
      : this.#buffer.subarray(this.#start, end);
    this.#start = end;
    return bytes;
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
    this.#shrink();
    const length = this.#lengthAhead();
    if (length === -1) return undefined;
    const buffer = this.#buffer;
    const start = this.#start;
    if (buffer[start] !== FRAME_MARKER || buffer[start + 1] !== PROTOCOL_VERSION) return undefined;
    if (length > frameBytesMax || this.#buffered < FRAME_HEADER_BYTES + length) return undefined;
    const bodyStart = start + FRAME_HEADER_BYTES;
    const end = bodyStart + length;
    const body = length === 0
      ? new Uint8Array(0)
      : copy
      ? buffer.slice(bodyStart, end)
      : buffer.subarray(bodyStart, end);
    this.#start = end;
    return Promise.resolve({ type: buffer[start + 2]!, body });
  }

  async #frame(frameBytesMax: number, copy: boolean): Promise<Frame | null> {
    this.#shrink();
    const header = await this.#take(FRAME_HEADER_BYTES, "frame header", false);
    if (header === null) return null;
    if (header[0] !== FRAME_MARKER) {
      throw new ProtocolError(
        ErrorCode.malformedFrame,
        `frame starts with byte ${header[0]}, expected marker ${FRAME_MARKER}`,
      );
    }
    if (header[1] !== PROTOCOL_VERSION) {
      throw new ProtocolError(
        ErrorCode.unsupportedVersion,
        `protocol version ${header[1]} is not supported (this build speaks ${PROTOCOL_VERSION})`,
      );
    }
    const type = header[2]!;
    const length = new DataView(header.buffer, header.byteOffset).getUint32(FRAME_LENGTH_OFFSET);
    if (length > frameBytesMax) {
      throw new ProtocolError(
        ErrorCode.frameTooLarge,
        `frame body of ${length} bytes exceeds the maximum of ${frameBytesMax} bytes`,
      );
    }
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
    this.#shrink();
    let scanned = 0;
    while (true) {
      const window = this.#buffer.subarray(this.#start + scanned, this.#end);
      const newline = window.indexOf(0x0a);
      // The line's bytes before its newline; every buffered byte while none came.
      const lineBytes = newline === -1 ? this.#buffered : scanned + newline;
      if (lineBytes > lineBytesMax) {
        throw new RangeError(`echo line longer than ${lineBytesMax} bytes`);
      }
      if (newline !== -1) {
        const end = this.#start + scanned + newline + 1;
        const line = this.#buffer.slice(this.#start, end);
        this.#start = end;
        return line;
      }
      scanned = this.#buffered;
      if (!(await this.#fill(1))) {
        if (this.#buffered === 0) return null;
        const rest = this.#buffer.slice(this.#start, this.#end);
        this.#start = this.#end;
        return rest;
      }
    }
  }
}
