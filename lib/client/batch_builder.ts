/**
 * Packs bets into batch frames: exactly `maxBets` per batch, except the last
 * one and except when the next bet would push the frame past its byte cap.
 * Writes straight into one frame buffer (the client's hot path). Every bet
 * has a position in the agency's upload (0-based). Only the bets skipped
 * because the server stored them already join a digest (bet_digest.ts): they
 * are checked against the server's; the bets sent are hashed only if a
 * resume needs it (file_prefix_digest.ts).
 */

import type { AgencyRow } from "../bet/agency_row_scanner.ts";
import { addBet, EMPTY_DIGEST } from "../protocol/bet_digest.ts";
import { CLIENT_FRAME_ROOM_BYTES, CLIENT_SPARE_FRAMES_MAX } from "../limits.ts";
import {
  BATCH_COUNT_OFFSET,
  BATCH_HEADER_BYTES,
  FRAME_HEADER_BYTES,
  FRAME_LENGTH_OFFSET,
  FRAME_MARKER,
  MessageType,
  PROTOCOL_VERSION,
} from "../protocol/protocol.ts";

/** A batch ready to send (and to resend after a reconnect). */
export interface EncodedBatch {
  /** Position of its first bet in the agency's upload. */
  first: number;
  /** Bets in the batch. */
  count: number;
  /** The whole frame. */
  frame: Uint8Array;
  /** Document and number of each bet, kept only for DEBUG logs. */
  bets: { document: string; number: number }[] | undefined;
}

/** Largest wire bet: four u8-prefixed fields of up to 255 bytes and a u16. */
const _BET_WIRE_BYTES_MAX = 4 * 256 + 2;

const _decoder = new TextDecoder();

/** Builds consecutive batches of an upload, by position. */
export class BatchBuilder {
  readonly #maxBets: number;
  readonly #frameBytesMax: number;
  readonly #keepBets: boolean;
  readonly #onByteSplit: (batch: EncodedBatch) => void;
  readonly #frame: Uint8Array;
  readonly #view: DataView;
  #length = 0;
  /** Position of the next bet added or skipped. */
  #position = 0;
  /** Digest of the bets skipped. */
  #digest = EMPTY_DIGEST;
  /** Position of the open batch's first bet. */
  #first = 0;
  #count = 0;
  #bets: { document: string; number: number }[] = [];
  /** Buffers of acknowledged frames, for the next batches ({@link recycle}). */
  readonly #spareFrames: ArrayBuffer[] = [];

  /**
   * @param maxBets bets per batch
   * @param frameBytesMax largest frame, header included
   * @param keepBets keep each bet's document and number (for DEBUG logs)
   * @param onByteSplit told when the byte cap closed a batch below maxBets
   * @throws {RangeError} when the cap cannot hold the largest possible bet
   */
  constructor(
    maxBets: number,
    frameBytesMax: number,
    keepBets: boolean,
    onByteSplit: (batch: EncodedBatch) => void = () => {},
  ) {
    if (frameBytesMax < FRAME_HEADER_BYTES + BATCH_HEADER_BYTES + _BET_WIRE_BYTES_MAX) {
      throw new RangeError(`a ${frameBytesMax}-byte frame cannot hold the largest bet`);
    }
    this.#maxBets = maxBets;
    this.#frameBytesMax = frameBytesMax;
    this.#keepBets = keepBets;
    this.#onByteSplit = onByteSplit;
    this.#frame = new Uint8Array(frameBytesMax);
    this.#view = new DataView(this.#frame.buffer);
  }

  /** Position of the next bet. */
  get position(): number {
    return this.#position;
  }

  /** Digest of the bets skipped ({@link skipRow}), the first ones of the upload. */
  get digest(): number {
    return this.#digest;
  }

  /**
   * Counts a row the server stored already: it joins the digest, not a batch.
   * @returns the digest of every bet skipped, this one included
   * @throws {RangeError} while a batch is open (skipped rows come first)
   */
  skipRow(row: AgencyRow): number {
    if (this.#count > 0) throw new RangeError("a row skipped while a batch is open");
    const start = FRAME_HEADER_BYTES + BATCH_HEADER_BYTES;
    const end = this.#writeRow(row, start);
    this.#digest = addBet(this.#digest, this.#view, start, end, this.#position);
    this.#position += 1;
    return this.#digest;
  }

  /**
   * Adds a row scanned from an agency file (already valid), copying its bytes.
   * @returns the batch that became complete, if any
   */
  addRow(row: AgencyRow): EncodedBatch | undefined {
    const { bytes, starts, ends } = row;
    let size = 2;
    for (let field = 0; field < 4; field += 1) size += 1 + ends[field]! - starts[field]!;
    const full = this.#makeRoom(size);
    this.#length = this.#writeRow(row, this.#length);
    this.#position += 1;
    return this.#added(
      full,
      this.#keepBets ? _decoder.decode(bytes.subarray(starts[2]!, ends[2]!)) : "",
      row.number,
    );
  }

  /** Writes a row's wire encoding into the frame at `at`; returns its end. */
  #writeRow(row: AgencyRow, at: number): number {
    const { bytes, starts, ends } = row;
    const frame = this.#frame;
    for (let field = 0; field < 4; field += 1) {
      const start = starts[field]!;
      const end = ends[field]!;
      frame[at++] = end - start;
      for (let index = start; index < end; index += 1) frame[at++] = bytes[index]!;
    }
    frame[at++] = row.number >> 8;
    frame[at++] = row.number & 0xff;
    return at;
  }

  /**
   * Takes back the frame of a batch the server acknowledged, for a later
   * batch. Only once nothing reads the frame any more: an ack means every
   * byte of it was written.
   */
  recycle(batch: EncodedBatch): void {
    const buffer = batch.frame.buffer as ArrayBuffer;
    if (buffer.byteLength < CLIENT_FRAME_ROOM_BYTES) return;
    if (this.#spareFrames.length < CLIENT_SPARE_FRAMES_MAX) this.#spareFrames.push(buffer);
  }

  /** Completes the last, partial batch; undefined when it is empty. */
  flush(): EncodedBatch | undefined {
    return this.#count === 0 ? undefined : this.#finish();
  }

  /** Starts a batch if none is open; closes the open one if `size` does not fit. */
  #makeRoom(size: number): EncodedBatch | undefined {
    let full: EncodedBatch | undefined;
    if (this.#count > 0 && this.#length + size > this.#frameBytesMax) {
      full = this.#finish();
      this.#onByteSplit(full);
    }
    if (this.#count === 0) this.#start();
    return full;
  }

  /** Counts the bet just written; returns the batch that became complete. */
  #added(
    closed: EncodedBatch | undefined,
    document: string,
    number: number,
  ): EncodedBatch | undefined {
    this.#count += 1;
    if (this.#keepBets) this.#bets.push({ document, number });
    if (this.#count < this.#maxBets) return closed;
    // A byte split leaves one bet in the new batch, so with maxBets >= 2 both
    // cannot close at once; with maxBets = 1 no batch ever overflows.
    return this.#finish();
  }

  #start(): void {
    this.#first = this.#position;
    const frame = this.#frame;
    frame[0] = FRAME_MARKER;
    frame[1] = PROTOCOL_VERSION;
    frame[2] = MessageType.batch;
    this.#view.setUint32(FRAME_HEADER_BYTES, this.#first);
    this.#length = FRAME_HEADER_BYTES + BATCH_HEADER_BYTES;
  }

  /** The open frame's first `length` bytes in a buffer of their own: a spare one when it fits. */
  #copyFrame(length: number): Uint8Array {
    if (length < CLIENT_FRAME_ROOM_BYTES) return this.#frame.slice(0, length);
    let buffer = this.#spareFrames.pop();
    if (buffer === undefined || buffer.byteLength < length) {
      const room = Math.ceil(length / CLIENT_FRAME_ROOM_BYTES) * CLIENT_FRAME_ROOM_BYTES;
      buffer = new ArrayBuffer(room);
    }
    const frame = new Uint8Array(buffer, 0, length);
    frame.set(this.#frame.subarray(0, length));
    return frame;
  }

  #finish(): EncodedBatch {
    this.#view.setUint32(FRAME_LENGTH_OFFSET, this.#length - FRAME_HEADER_BYTES);
    this.#view.setUint16(FRAME_HEADER_BYTES + BATCH_COUNT_OFFSET, this.#count);
    const batch: EncodedBatch = {
      first: this.#first,
      count: this.#count,
      frame: this.#copyFrame(this.#length),
      bets: this.#keepBets ? this.#bets : undefined,
    };
    this.#count = 0;
    this.#bets = [];
    return batch;
  }
}
