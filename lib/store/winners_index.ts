/**
 * Per agency, the documents of its winning bets, kept as they travel in the
 * winners answer (a length byte, then the ASCII digits) inside an unfinished
 * winners frame. Filled as batches are stored and when the store is read
 * back, so answering an agency after the draw patches two numbers of its
 * frame: no rescan of the store, no copy, no text encoding per document.
 */

import { ByteWriter } from "../protocol/byte_cursor.ts";
import {
  finishWinnersFrame,
  startWinnersFrame,
  type WinnerDocuments,
  winnersFrame,
} from "../protocol/message_codec.ts";

/** An agency's winners answer, ready to send. */
export interface WinnersAnswer {
  /** Documents in the answer. */
  count: number;
  /** The complete winners frame (see {@link WinnersIndex.answer} on how long it stays valid). */
  frame: Uint8Array;
}

/** Bytes each agency's buffer starts with; it doubles as winners arrive. */
const _AGENCY_BUFFER_BYTES_INITIAL = 64;

/** Winners by agency, appended as bets are stored. */
export class WinnersIndex {
  /** Per agency, a winners frame started and its documents so far. */
  readonly #agencies = new Map<number, { frame: ByteWriter; count: number }>();

  #entry(agency: number): { frame: ByteWriter; count: number } {
    let entry = this.#agencies.get(agency);
    if (entry === undefined) {
      entry = { frame: new ByteWriter(_AGENCY_BUFFER_BYTES_INITIAL), count: 0 };
      startWinnersFrame(entry.frame);
      this.#agencies.set(agency, entry);
    }
    return entry;
  }

  /** Appends documents already in wire form. */
  add(agency: number, documents: WinnerDocuments): void {
    if (documents.count === 0) return;
    const entry = this.#entry(agency);
    entry.frame.raw(documents.bytes);
    entry.count += documents.count;
  }

  /**
   * Appends one document from `bytes[start, end)` (a row read back).
   * @throws {RangeError} when the document is longer than 255 bytes
   */
  addDocument(agency: number, bytes: Uint8Array, start: number, end: number): void {
    const entry = this.#entry(agency);
    entry.frame.u8(end - start).raw(bytes.subarray(start, end));
    entry.count += 1;
  }

  /**
   * The agency's winners answer: one frame with every document, in storage
   * order. Its frame is a view of the agency's buffer, valid until the
   * agency's next winner is added (answers come after the draw, when no bet
   * is stored any more).
   */
  answer(agency: number): WinnersAnswer {
    const entry = this.#agencies.get(agency);
    if (entry === undefined) return { count: 0, frame: winnersFrame(_NO_DOCUMENTS) };
    return { count: entry.count, frame: finishWinnersFrame(entry.frame, entry.count) };
  }
}

const _NO_DOCUMENTS: WinnerDocuments = { bytes: new Uint8Array(0), count: 0 };
