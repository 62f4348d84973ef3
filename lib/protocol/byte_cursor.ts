/**
 * Big-endian field readers and writers over byte arrays, for frame bodies.
 * Reads are bounds-checked and fail with a {@link ProtocolError}.
 */

import { ErrorCode, ProtocolError } from "./protocol.ts";

const _encoder = new TextEncoder();
const _decoder = new TextDecoder("utf-8", { fatal: true });

/** Reads fields from a body, front to back. */
export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  #take(count: number, what: string): number {
    if (this.remaining < count) {
      throw new ProtocolError(
        ErrorCode.malformedFrame,
        `body ends inside ${what}: needs ${count} bytes at offset ${this.#offset}, ${this.remaining} left`,
      );
    }
    const at = this.#offset;
    this.#offset += count;
    return at;
  }

  u8(what: string): number {
    return this.#view.getUint8(this.#take(1, what));
  }

  u16(what: string): number {
    return this.#view.getUint16(this.#take(2, what));
  }

  u32(what: string): number {
    return this.#view.getUint32(this.#take(4, what));
  }

  /** Reads `length` raw bytes (a view, not a copy). */
  bytes(length: number, what: string): Uint8Array {
    const at = this.#take(length, what);
    return this.#bytes.subarray(at, at + length);
  }

  /** Reads UTF-8 text of `length` bytes. */
  text(length: number, what: string): string {
    const raw = this.bytes(length, what);
    try {
      return _decoder.decode(raw);
    } catch {
      throw new ProtocolError(
        ErrorCode.invalidUtf8,
        `${what} is not valid UTF-8`,
      );
    }
  }

  /** Reads text prefixed by a u8 length. */
  shortText(what: string): string {
    return this.text(this.u8(what), what);
  }

  /** Reads text prefixed by a u16 length. */
  longText(what: string): string {
    return this.text(this.u16(what), what);
  }

  /** Asserts the body was read exactly to its end. */
  end(what: string): void {
    if (this.remaining !== 0) {
      throw new ProtocolError(
        ErrorCode.malformedFrame,
        `${what} has ${this.remaining} bytes after its last field`,
      );
    }
  }
}

/** Appends fields to a growing body. */
export class ByteWriter {
  #bytes: Uint8Array;
  #view: DataView;
  #length = 0;

  constructor(capacityBytes = 256) {
    this.#bytes = new Uint8Array(capacityBytes);
    this.#view = new DataView(this.#bytes.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  #reserve(count: number): number {
    const needed = this.#length + count;
    if (needed > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(needed, this.#bytes.length * 2));
      grown.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    const at = this.#length;
    this.#length = needed;
    return at;
  }

  u8(value: number): this {
    assertFits(value, 0xff, "u8");
    const at = this.#reserve(1);
    this.#view.setUint8(at, value);
    return this;
  }

  u16(value: number): this {
    assertFits(value, 0xffff, "u16");
    const at = this.#reserve(2);
    this.#view.setUint16(at, value);
    return this;
  }

  u32(value: number): this {
    assertFits(value, 0xffff_ffff, "u32");
    const at = this.#reserve(4);
    this.#view.setUint32(at, value);
    return this;
  }

  raw(bytes: Uint8Array): this {
    // Reserve first: it may replace #bytes with a larger array.
    const at = this.#reserve(bytes.length);
    this.#bytes.set(bytes, at);
    return this;
  }

  /**
   * Writes text prefixed by its byte length in `prefixBytes` (1 or 2) bytes.
   * @throws {RangeError} when the text does not fit the prefix
   */
  text(value: string, prefixBytes: 1 | 2, what: string): this {
    const encoded = _encoder.encode(value);
    const max = prefixBytes === 1 ? 0xff : 0xffff;
    if (encoded.length > max) {
      throw new RangeError(
        `${what} is ${encoded.length} bytes, more than ${max}`,
      );
    }
    if (prefixBytes === 1) this.u8(encoded.length);
    else this.u16(encoded.length);
    return this.raw(encoded);
  }

  /**
   * Overwrites a u32 already written at `at` (a length or count known last).
   * @throws {RangeError} when `at` + 4 is past the bytes written
   */
  patchU32(at: number, value: number): this {
    assertFits(value, 0xffff_ffff, "u32");
    if (at < 0 || at + 4 > this.#length) {
      throw new RangeError(`Cannot patch a u32 at ${at}: ${this.#length} bytes written`);
    }
    this.#view.setUint32(at, value);
    return this;
  }

  /** The bytes written (a view, valid until the next write). */
  view(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }
}

/**
 * Refuses a value its wire type cannot hold: DataView setters wrap silently
 * (65536 as u16 is 0).
 * @throws {RangeError} when `value` is not a whole number in 0..max
 */
export function assertFits(value: number, max: number, type: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`Cannot write ${value} as ${type}: not a whole number in 0..${max}`);
  }
}
