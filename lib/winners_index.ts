/**
 * Per agency, the documents of its winning bets, kept as they travel in the
 * winners answer (a length byte, then the ASCII digits). Filled as batches
 * are stored and when the store is read back, so answering an agency after
 * the draw costs one copy of its documents: no rescan of the store, no text
 * encoding per document.
 */

import { ByteWriter } from "./byte_cursor.ts";
import { type WinnerDocuments, winnersFrame } from "./message_codec.ts";

/** An agency's winners answer, ready to send. */
export interface WinnersAnswer {
  /** Documents in the answer. */
  count: number;
  /** The complete winners frame. */
  frame: Uint8Array;
}

/** Bytes each agency's buffer starts with; it doubles as winners arrive. */
const _AGENCY_BUFFER_BYTES_INITIAL = 64;

/** Winners by agency, appended as bets are stored. */
export class WinnersIndex {
  readonly #agencies = new Map<number, { documents: ByteWriter; count: number }>();

  #entry(agency: number): { documents: ByteWriter; count: number } {
    let entry = this.#agencies.get(agency);
    if (entry === undefined) {
      entry = { documents: new ByteWriter(_AGENCY_BUFFER_BYTES_INITIAL), count: 0 };
      this.#agencies.set(agency, entry);
    }
    return entry;
  }

  /** Appends documents already in wire form. */
  add(agency: number, documents: WinnerDocuments): void {
    if (documents.count === 0) return;
    const entry = this.#entry(agency);
    entry.documents.raw(documents.bytes);
    entry.count += documents.count;
  }

  /**
   * Appends one document from `bytes[start, end)` (a row read back).
   * @throws {RangeError} when the document is longer than 255 bytes
   */
  addDocument(agency: number, bytes: Uint8Array, start: number, end: number): void {
    const entry = this.#entry(agency);
    entry.documents.u8(end - start).raw(bytes.subarray(start, end));
    entry.count += 1;
  }

  /** Winning bets stored for an agency. */
  count(agency: number): number {
    return this.#agencies.get(agency)?.count ?? 0;
  }

  /** The agency's winners answer: one frame with every document, in storage order. */
  answer(agency: number): WinnersAnswer {
    const entry = this.#agencies.get(agency);
    const count = entry?.count ?? 0;
    const bytes = entry?.documents.view() ?? new Uint8Array(0);
    return { count, frame: winnersFrame({ bytes, count }) };
  }
}
