/**
 * The server's hot path: validates a batch body straight from its bytes and
 * encodes it as store rows, with no string per field, and takes the batch's
 * digest (bet_digest.ts) on the way. A batch of plain bets takes the fast
 * path (plain_batch.ts); any other is scanned field by field here, which
 * names the first bad bet and field. Both are equivalent to decodeMessage +
 * validateBet + formatStoreRow (tests compare).
 */

import { WINNER_NUMBER } from "../bet/bet.ts";
import {
  birthdateBytesViolation,
  documentBytesViolation,
  nameBytesViolation,
} from "../bet/bet_bytes.ts";
import { BET_NUMBER_MAX } from "../bet/bet.ts";
import {
  BATCH_COUNT_OFFSET,
  BATCH_HEADER_BYTES,
  ErrorCode,
  ProtocolError,
} from "../protocol/protocol.ts";
import type { StoreRows } from "../store/store_rows.ts";
import type { WinnerDocuments } from "../protocol/message_codec.ts";
import { addBet, EMPTY_DIGEST, viewOf } from "../protocol/bet_digest.ts";
import {
  AGENCY_DIGITS_MAX,
  copyPlainBatch,
  PLAIN_ROW_OVERHEAD_BYTES,
  plainBatch,
  writeNumber,
} from "./plain_batch.ts";

/** A validated batch, encoded for the store. */
export interface ScannedBatch {
  /** Position of the batch's first bet in the agency's upload. */
  first: number;
  rows: StoreRows;
}

const _encoder = new TextEncoder();
const _COMMA = 0x2c;
const _QUOTE = 0x22;
const _NEWLINE = 0x0a;
/** Bytes a row adds beyond twice its wire bytes: separators, number, newline. */
const _ROW_OVERHEAD_BYTES = 16;

const _FIELDS = ["first_name", "last_name", "document", "birthdate"] as const;

/** One reusable output buffer: batches are scanned one at a time (one thread). */
let _scratchBytes = new Uint8Array(64 * 1024);

function _scratch(bytes: number): Uint8Array {
  if (_scratchBytes.length < bytes) _scratchBytes = new Uint8Array(bytes);
  return _scratchBytes;
}

/**
 * Reads a batch body's first bet position and declared bet count.
 * @throws {ProtocolError} malformedFrame when the body is shorter than that
 */
export function readBatchHeader(body: Uint8Array): { first: number; count: number } {
  if (body.length < BATCH_HEADER_BYTES) {
    throw new ProtocolError(
      ErrorCode.malformedFrame,
      `batch body of ${body.length} bytes has no header`,
    );
  }
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  return { first: view.getUint32(0), count: view.getUint16(BATCH_COUNT_OFFSET) };
}

/** Copies bytes one by one: faster than subarray + set for short fields. */
function _copy(out: Uint8Array, at: number, body: Uint8Array, start: number, end: number): number {
  for (let index = start; index < end; index += 1) out[at++] = body[index]!;
  return at;
}

/** Copies a name into `out` at `at`, quoted and with doubled quotes when needed. */
function _writeName(
  out: Uint8Array,
  at: number,
  body: Uint8Array,
  start: number,
  end: number,
): number {
  let needsQuotes = false;
  for (let index = start; index < end; index += 1) {
    const byte = body[index]!;
    if (byte === _COMMA || byte === _QUOTE) {
      needsQuotes = true;
      break;
    }
  }
  if (!needsQuotes) return _copy(out, at, body, start, end);
  out[at++] = _QUOTE;
  for (let index = start; index < end; index += 1) {
    const byte = body[index]!;
    if (byte === _QUOTE) out[at++] = _QUOTE;
    out[at++] = byte;
  }
  out[at++] = _QUOTE;
  return at;
}

/**
 * Validates a batch body and encodes its bets as store rows. The rows are a
 * view of a scratch buffer that the next call overwrites: hand them to the
 * store (which copies them) before scanning another batch.
 * @param body the batch frame's body (first u32, count u16, bets)
 * @param agency the agency bound to the connection
 * @param today today as YYYYMMDD (birthdates may not be later)
 * @throws {ProtocolError} invalidBet naming the first bad bet and field, or
 *   countMismatch (bet index 0, no field) when the content disagrees with
 *   the declared count; both carry the batch's first position
 * @throws {RangeError} when `agency` is not an integer in 0..AGENCIES_MAX
 *   (a caller's bug: the session binds a valid agency at hello)
 */
export function scanBatch(body: Uint8Array, agency: number, today: number): ScannedBatch {
  const { first, count } = readBatchHeader(body);
  const out = _scratch(body.length + count * (AGENCY_DIGITS_MAX + PLAIN_ROW_OVERHEAD_BYTES));
  const end = copyPlainBatch(body, first, count, agency, out, today);
  if (end === -1) return scanBatchFieldByField(body, agency, today);
  return {
    first,
    rows: {
      bytes: out.subarray(0, end),
      count,
      digest: plainBatch.digest,
      winners: _winnerDocuments(body, plainBatch.winnerStarts),
    },
  };
}

/**
 * {@link scanBatch} without its fast path: each field of each bet checked
 * with the rules of bet_bytes.ts, names quoted when they need it. It takes
 * every batch the fast path declines, and names the first bad bet and field.
 * @param body the batch frame's body (first u32, count u16, bets)
 * @param agency the agency bound to the connection
 * @param today today as YYYYMMDD (birthdates may not be later)
 * @throws {ProtocolError} as {@link scanBatch}
 */
export function scanBatchFieldByField(
  body: Uint8Array,
  agency: number,
  today: number,
): ScannedBatch {
  const { first, count } = readBatchHeader(body);
  const agencyPrefix = _encoder.encode(`${agency},`);
  const out = _scratch(2 * body.length + count * (agencyPrefix.length + _ROW_OVERHEAD_BYTES));
  /** Start offsets of the winners' documents' length bytes. */
  const winnerStarts: number[] = [];
  const fail = (betIndex: number, field: string, reason: string): never => {
    throw new ProtocolError(ErrorCode.invalidBet, `bet ${betIndex}: ${field} ${reason}`, {
      first,
      betIndex,
      field,
    });
  };
  // About the count, not one bet: the reason says where the body ran out.
  const cutShort = (betIndex: number, field: string): never => {
    throw new ProtocolError(
      ErrorCode.countMismatch,
      `batch declares ${count} bets but the body ends inside bet ${betIndex}'s ${field}`,
      { first, betIndex: 0, field: "" },
    );
  };
  let at = 0;
  let position = BATCH_HEADER_BYTES;
  let digest = EMPTY_DIGEST;
  const view = viewOf(body);
  for (let bet = 1; bet <= count; bet += 1) {
    const betStart = position;
    for (let index = 0; index < agencyPrefix.length; index += 1) out[at++] = agencyPrefix[index]!;
    let documentStart = 0;
    for (let field = 0; field < 4; field += 1) {
      const start = position + 1;
      const end = start + (body[position] ?? 0);
      if (position >= body.length || end > body.length) {
        cutShort(bet, _FIELDS[field]!);
      }
      let violation: string | undefined;
      if (field < 2) {
        violation = nameBytesViolation(body, start, end);
        if (violation === undefined) at = _writeName(out, at, body, start, end);
      } else if (field === 2) {
        violation = documentBytesViolation(body, start, end);
        if (violation === undefined) at = _copy(out, at, body, start, end);
      } else {
        violation = birthdateBytesViolation(body, start, end, today);
        if (violation === undefined) at = _copy(out, at, body, start, end);
      }
      if (violation !== undefined) fail(bet, _FIELDS[field]!, violation);
      if (field === 2) {
        documentStart = start;
      }
      out[at++] = _COMMA;
      position = end;
    }
    if (position + 2 > body.length) {
      cutShort(bet, "number");
    }
    const number = (body[position]! << 8) | body[position + 1]!;
    position += 2;
    if (number > BET_NUMBER_MAX) {
      fail(
        bet,
        "number",
        `${number} is not an integer in 0..${BET_NUMBER_MAX}`,
      );
    }
    at = writeNumber(out, at, number);
    out[at++] = _NEWLINE;
    digest = addBet(digest, view, betStart, position, first + bet - 1);
    if (number === WINNER_NUMBER) winnerStarts.push(documentStart - 1);
  }
  if (position !== body.length) {
    throw new ProtocolError(
      ErrorCode.countMismatch,
      `batch declares ${count} bets but ${body.length - position} bytes follow the last one`,
      { first, betIndex: 0, field: "" },
    );
  }
  return {
    first,
    rows: {
      bytes: out.subarray(0, at),
      count,
      digest,
      winners: _winnerDocuments(body, winnerStarts),
    },
  };
}

/** Copies the winners' documents, length byte included, out of the body. */
function _winnerDocuments(body: Uint8Array, starts: readonly number[]): WinnerDocuments {
  let bytes = 0;
  for (const start of starts) bytes += 1 + body[start]!;
  const documents = new Uint8Array(bytes);
  let at = 0;
  for (const start of starts) at = _copy(documents, at, body, start, start + 1 + body[start]!);
  return { bytes: documents, count: starts.length };
}
