/**
 * The batches of a group commit as `COPY … FROM STDIN (FORMAT csv)` input,
 * built from their row bytes as they are: no text decoding and no hex, which
 * cost the server more than the rest of a transaction. A batch's rows become
 * one quoted field (its newlines kept, a `"` doubled); its winners' documents
 * the bytea text form `\x<hex>`.
 */

import type { StoreRows } from "./store_rows.ts";

/** One batch as a line of the copy. */
export interface CopiedBatch {
  agency: number;
  first: number;
  rows: StoreRows;
}

/** The columns each line fills, in order (the COPY statement names them). */
export const BATCH_COPY_COLUMNS =
  "draw_id, agency, first_position, bet_count, digest, rows, winner_count, winners";

const _encoder = new TextEncoder();
const _QUOTE = 0x22;

/**
 * Encodes batches as CSV lines for {@link BATCH_COPY_COLUMNS}.
 * @param drawId a valid draw id (letters, digits, `.`, `_`, `-`: never quoted)
 */
export function encodeBatchesCsv(drawId: string, batches: readonly CopiedBatch[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let length = 0;
  const add = (part: Uint8Array) => {
    parts.push(part);
    length += part.length;
  };
  for (const { agency, first, rows } of batches) {
    add(_encoder.encode(`${drawId},${agency},${first},${rows.count},${rows.digest},"`));
    add(rows.bytes.indexOf(_QUOTE) === -1 ? rows.bytes : _doubleQuotes(rows.bytes));
    add(_encoder.encode(`",${rows.winners.count},\\x${_hex(rows.winners.bytes)}\n`));
  }
  const all = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

/** `bytes` with every `"` doubled (CSV's escape inside a quoted field). */
function _doubleQuotes(bytes: Uint8Array): Uint8Array {
  let quotes = 0;
  for (const byte of bytes) if (byte === _QUOTE) quotes += 1;
  const doubled = new Uint8Array(bytes.length + quotes);
  let at = 0;
  for (const byte of bytes) {
    doubled[at++] = byte;
    if (byte === _QUOTE) doubled[at++] = _QUOTE;
  }
  return doubled;
}

/** Lowercase hex of `bytes` (winners' documents: a few bytes per batch). */
function _hex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += (byte < 16 ? "0" : "") + byte.toString(16);
  return text;
}
