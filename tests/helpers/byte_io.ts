/** Test doubles for byte sources, sinks and streams that move few bytes at a time. */

import type { ByteSource } from "../../lib/protocol/buffered_reader.ts";
import type { ByteSink } from "../../lib/runtime/write_all.ts";
import { concatBytes } from "../../lib/runtime/bytes.ts";

/** Joins byte arrays into a new one (a copy even for a single part). */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0]!.slice() : concatBytes(parts);
}

/** A source that hands out at most `chunkBytes` bytes per read, then null. */
export class ChunkedSource implements ByteSource {
  readonly #bytes: Uint8Array;
  readonly #chunkBytes: number;
  #offset = 0;
  /** Reads asked for so far, the one answered with null included. */
  reads = 0;

  constructor(bytes: Uint8Array, chunkBytes: number) {
    this.#bytes = bytes;
    this.#chunkBytes = chunkBytes;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    this.reads += 1;
    const count = Math.min(
      this.#chunkBytes,
      buffer.length,
      this.#bytes.length - this.#offset,
    );
    if (count === 0) return Promise.resolve(null);
    buffer.set(this.#bytes.subarray(this.#offset, this.#offset + count));
    this.#offset += count;
    return Promise.resolve(count);
  }
}

/**
 * A source that hands out its bytes in one read and fails any later read,
 * proving the reader decided without asking for more.
 */
export class OneReadSource implements ByteSource {
  readonly #bytes: Uint8Array;
  reads = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    this.reads += 1;
    if (this.reads > 1) {
      return Promise.reject(new Error(`read ${this.reads} asked for bytes past the first read`));
    }
    buffer.set(this.#bytes);
    return Promise.resolve(this.#bytes.length);
  }
}

/** A sink that accepts 1, 2 or 3 bytes per write, in turn, and keeps them. */
export class PartialSink implements ByteSink {
  readonly #parts: Uint8Array[] = [];
  writes = 0;

  write(bytes: Uint8Array): Promise<number> {
    const count = Math.min(bytes.length, 1 + (this.writes % 3));
    this.writes += 1;
    this.#parts.push(bytes.slice(0, count));
    return Promise.resolve(count);
  }

  /** Every byte accepted so far, in order. */
  received(): Uint8Array {
    return joinBytes(this.#parts);
  }
}

/** A readable stream that delivers `bytes` in chunks of `chunkBytes`. */
export function chunkedStream(bytes: Uint8Array, chunkBytes: number): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + chunkBytes));
      offset += chunkBytes;
    },
  });
}
