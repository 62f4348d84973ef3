/**
 * Packs bets into batch frames: exactly `maxBets` per batch, except the last
 * one and except when the next bet would push the frame past its byte cap.
 * Writes straight into one frame buffer (the client's hot path). Every bet
 * has a position in the agency's upload (0-based) and joins the upload's
 * running digest (bet_digest.ts), also the bets skipped because the server
 * stored them already.
 */

import type { AgencyRow } from "../bet/agency_row_scanner.ts";
import { addBet, EMPTY_DIGEST, joinDigests } from "../protocol/bet_digest.ts";
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
  /** Digest of its bets. */
  digest: number;
  /** Digest of every bet of the upload up to and including this batch. */
  digestAfter: number;
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
  /** Digest of every bet before {@link #position}. */
  #digest = EMPTY_DIGEST;
  /** Position and digest of the open batch's bets. */
  #first = 0;
  #batchDigest = EMPTY_DIGEST;
  #count = 0;
  #bets: { document: string; number: number }[] = [];

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

  /** Digest of every bet before {@link position}. */
  get digest(): number {
    return this.#digest;
  }

  /**
   * Counts a row the server stored already: it joins the digest, not a batch.
   * @returns the digest of every bet up to and including this one
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
    const start = this.#length;
    this.#length = this.#writeRow(row, start);
    this.#batchDigest = addBet(this.#batchDigest, this.#view, start, this.#length, this.#position);
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
    this.#batchDigest = EMPTY_DIGEST;
    const frame = this.#frame;
    frame[0] = FRAME_MARKER;
    frame[1] = PROTOCOL_VERSION;
    frame[2] = MessageType.batch;
    this.#view.setUint32(FRAME_HEADER_BYTES, this.#first);
    this.#length = FRAME_HEADER_BYTES + BATCH_HEADER_BYTES;
  }

  #finish(): EncodedBatch {
    this.#view.setUint32(FRAME_LENGTH_OFFSET, this.#length - FRAME_HEADER_BYTES);
    this.#view.setUint16(FRAME_HEADER_BYTES + BATCH_COUNT_OFFSET, this.#count);
    this.#digest = joinDigests(this.#digest, this.#batchDigest);
    const batch: EncodedBatch = {
      first: this.#first,
      count: this.#count,
      digest: this.#batchDigest,
      digestAfter: this.#digest,
      frame: this.#frame.slice(0, this.#length),
      bets: this.#keepBets ? this.#bets : undefined,
    };
    this.#count = 0;
    this.#bets = [];
    return batch;
  }
}
