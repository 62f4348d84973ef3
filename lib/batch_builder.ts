/**
 * Packs bets into batch frames: exactly `maxBets` per batch, except the last
 * one and except when the next bet would push the frame past its byte cap.
 */

import type { WireBet } from "./message_codec.ts";
import { encodeBet, finishFrame, startFrame } from "./message_codec.ts";
import { ByteWriter } from "./byte_cursor.ts";
import { FRAME_HEADER_BYTES, MessageType } from "./protocol.ts";
import type { AgencyRow } from "./agency_row_scanner.ts";

const _decoder = new TextDecoder();

/** A batch ready to send (and to resend after a reconnect). */
export interface EncodedBatch {
  sequence: number;
  /** Bets in the batch. */
  count: number;
  /** The whole frame. */
  frame: Uint8Array;
  /** Document and number of each bet, kept only for DEBUG logs. */
  bets: { document: string; number: number }[] | undefined;
}

/** Bytes of a batch body before its bets: sequence u32 + count u16. */
const _BATCH_PREFIX_BYTES = 6;

/** Builds consecutive batches with sequence numbers 1, 2, 3, … */
export class BatchBuilder {
  readonly #maxBets: number;
  readonly #frameBytesMax: number;
  readonly #keepBets: boolean;
  readonly #onByteSplit: (batch: EncodedBatch) => void;
  #writer = new ByteWriter(8 * 1024);
  #sequence = 0;
  #count = 0;
  #bets: { document: string; number: number }[] = [];

  /**
   * @param maxBets bets per batch
   * @param frameBytesMax largest frame, header included
   * @param keepBets keep each bet's document and number (for DEBUG logs)
   * @param onByteSplit told when the byte cap closed a batch below maxBets
   */
  constructor(
    maxBets: number,
    frameBytesMax: number,
    keepBets: boolean,
    onByteSplit: (batch: EncodedBatch) => void = () => {},
  ) {
    this.#maxBets = maxBets;
    this.#frameBytesMax = frameBytesMax;
    this.#keepBets = keepBets;
    this.#onByteSplit = onByteSplit;
  }

  /**
   * Adds a bet.
   * @returns the batch that became complete, if any
   * @throws {RangeError} when one bet alone does not fit in a frame
   */
  add(bet: WireBet): EncodedBatch | undefined {
    return this.#append((writer) => encodeBet(writer, bet), () => bet.document, bet.number);
  }

  /**
   * Adds a row scanned from an agency file (already valid), copying its bytes.
   * @returns the batch that became complete, if any
   */
  addRow(row: AgencyRow): EncodedBatch | undefined {
    return this.#append(
      (writer) => {
        for (let field = 0; field < 4; field += 1) {
          const start = row.starts[field]!;
          const end = row.ends[field]!;
          writer.u8(end - start).raw(row.bytes.subarray(start, end));
        }
        writer.u16(row.number);
      },
      () => _decoder.decode(row.bytes.subarray(row.starts[2]!, row.ends[2]!)),
      row.number,
    );
  }

  #append(
    encode: (writer: ByteWriter) => void,
    document: () => string,
    number: number,
  ): EncodedBatch | undefined {
    if (this.#count === 0) this.#start();
    const before = this.#writer.length;
    encode(this.#writer);
    if (this.#writer.length > this.#frameBytesMax) {
      if (this.#count === 0) {
        throw new RangeError(
          `one bet takes ${
            this.#writer.length - before
          } bytes, more than a ${this.#frameBytesMax}-byte frame holds`,
        );
      }
      this.#writer.truncate(before);
      const full = this.#finish();
      this.#onByteSplit(full);
      // Starts the next batch with this bet; it holds one bet and maxBets >= 2
      // here (a one-bet batch never overflows), so it cannot complete now.
      this.#append(encode, document, number);
      return full;
    }
    this.#count += 1;
    if (this.#keepBets) this.#bets.push({ document: document(), number });
    return this.#count === this.#maxBets ? this.#finish() : undefined;
  }

  /** Completes the last, partial batch; undefined when it is empty. */
  flush(): EncodedBatch | undefined {
    return this.#count === 0 ? undefined : this.#finish();
  }

  #start(): void {
    this.#sequence += 1;
    this.#writer.truncate(0);
    startFrame(this.#writer, MessageType.batch);
    this.#writer.u32(this.#sequence).u16(0);
  }

  #finish(): EncodedBatch {
    const frame = finishFrame(this.#writer).slice();
    new DataView(frame.buffer).setUint16(FRAME_HEADER_BYTES + 4, this.#count);
    const batch: EncodedBatch = {
      sequence: this.#sequence,
      count: this.#count,
      frame,
      bets: this.#keepBets ? this.#bets : undefined,
    };
    this.#count = 0;
    this.#bets = [];
    return batch;
  }
}

/** Smallest frame a batch can take: header and body prefix. */
export const BATCH_FRAME_BYTES_MIN = FRAME_HEADER_BYTES + _BATCH_PREFIX_BYTES;
