/**
 * The batch scan's fast path, for the common batch: every bet plain (names
 * that the store row holds without quotes, everything else valid). One pass
 * per bet walks its length bytes, checks its fields (names by a table lookup
 * per byte, the rest with bet_bytes.ts), then copies its wire bytes into the
 * store row four at a time and takes its digest term from the same words.
 * Any other batch is declined, and batch_scan.ts scans it field by field,
 * which names the bad bet and field. bench/scan_micro.ts measures it against
 * the alternatives (a regular expression over the rows, the field-by-field
 * scan).
 */

import { BET_NUMBER_MAX, WINNER_NUMBER } from "../bet/bet.ts";
import { AGENCIES_MAX, NAME_BYTES_MAX } from "../limits.ts";
import { BATCH_HEADER_BYTES } from "../protocol/protocol.ts";
import { joinDigests, murmur3Tail, murmur3Word } from "../protocol/bet_digest.ts";
import {
  documentBytesViolation,
  nameBytesViolation,
  parseDateBytes,
  utf8SequenceLength,
} from "../bet/bet_bytes.ts";

const _COMMA = 0x2c;
const _NEWLINE = 0x0a;

/** Bytes a row takes beyond its bet's wire bytes and the agency's digits:
 * the number's digits, comma and newline in place of its two bytes. */
export const PLAIN_ROW_OVERHEAD_BYTES = 4;

/** What a byte says about the name it is in (OR-ed over the name). */
const _NAME_VISIBLE = 1;
const _NAME_REFUSED = 2;

/**
 * Per ASCII byte: _NAME_REFUSED for those nameBytesViolation refuses and for
 * `,` and `"` (valid, but the store row must quote them: the field-by-field
 * path does that), _NAME_VISIBLE for the others but the space. Bytes of
 * multi-byte characters are visible; their UTF-8 is checked on its own.
 */
const _NAME_BYTES = (() => {
  const table = new Uint8Array(256);
  for (let byte = 0; byte < 0x80; byte += 1) {
    const refused = byte === 0x2c || byte === 0x22 ||
      nameBytesViolation(new Uint8Array([0x41, byte]), 0, 2) !== undefined;
    table[byte] = refused ? _NAME_REFUSED : byte === 0x20 ? 0 : _NAME_VISIBLE;
  }
  table.fill(_NAME_VISIBLE, 0x80);
  return table;
})();

/**
 * True for a name the store row holds as it is: valid by nameBytesViolation
 * and with no `,` or `"`. ASCII costs a table lookup per byte; a two-byte
 * character led by C3 to DF (accented Latin letters) is valid whenever a
 * continuation byte follows (no overlong form or C1 control starts so);
 * other multi-byte characters go through utf8SequenceLength.
 */
function _isPlainName(body: Uint8Array, start: number, end: number): boolean {
  if (end - start > NAME_BYTES_MAX) return false;
  let kinds = 0;
  for (let index = start; index < end; index += 1) {
    const byte = body[index]!;
    kinds |= _NAME_BYTES[byte]!;
    if (byte < 0x80) continue;
    if (byte >= 0xc3 && byte <= 0xdf && index + 1 < end && (body[index + 1]! & 0xc0) === 0x80) {
      index += 1;
      continue;
    }
    const length = utf8SequenceLength(body, index, end);
    // C2 80 to C2 9F are the C1 controls.
    if (length === 0 || (byte === 0xc2 && body[index + 1]! < 0xa0)) return false;
    index += length - 1;
  }
  return kinds === _NAME_VISIBLE;
}

/** Digits of the largest agency number (AGENCIES_MAX). */
export const AGENCY_DIGITS_MAX = String(AGENCIES_MAX).length;

/** The agency column's digits: written once per batch, not encoded (a
 * TextEncoder call per batch costs more than the digits of 100 rows). */
const _agencyDigits = new Uint8Array(AGENCY_DIGITS_MAX);

/** Writes `agency` in decimal into {@link _agencyDigits}; returns how many digits. */
function _writeAgency(agency: number): number {
  if (!Number.isInteger(agency) || agency < 0 || agency > AGENCIES_MAX) {
    throw new RangeError(
      `Cannot scan a batch: agency ${agency} is not an integer in 0..${AGENCIES_MAX}`,
    );
  }
  let count = 1;
  for (let rest = agency; rest >= 10; rest = Math.floor(rest / 10)) count += 1;
  let rest = agency;
  for (let index = count - 1; index >= 0; index -= 1) {
    _agencyDigits[index] = 0x30 + rest % 10;
    rest = Math.floor(rest / 10);
  }
  return count;
}

/** Where {@link copyPlainBatch} left its digest and winners: one thread
 * scans, so module state saves an object per batch. */
export const plainBatch = { digest: 0, winnerStarts: [] as number[] };

/**
 * Copies a batch of plain bets into store rows at the start of `out`, with
 * the batch's digest (bet_digest.ts, taken in the same pass as the copy) in
 * {@link plainBatch}.digest and the offsets of the winners' documents'
 * length bytes in {@link plainBatch}.winnerStarts.
 * @param body the batch body (header, then `count` bets)
 * @param agency the agency bound to the connection (AGENCIES_MAX at most)
 * @param out room for body.length + count × (AGENCY_DIGITS_MAX +
 *   PLAIN_ROW_OVERHEAD_BYTES) bytes
 * @param today today as YYYYMMDD
 * @returns the rows' end in `out`, or -1 when the batch is not plain or not
 *   valid (the field-by-field scan then decides)
 */
export function copyPlainBatch(
  body: Uint8Array,
  first: number,
  count: number,
  agency: number,
  out: Uint8Array,
  today: number,
): number {
  const digitCount = _writeAgency(agency);
  const length = body.length;
  const source = new DataView(body.buffer, body.byteOffset, length);
  const target = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const winnerStarts = plainBatch.winnerStarts;
  winnerStarts.length = 0;
  let digest = 0;
  let at = 0;
  let position = BATCH_HEADER_BYTES;
  for (let bet = 0; bet < count; bet += 1) {
    if (position >= length) return -1;
    const lastNameAt = position + 1 + body[position]!;
    if (lastNameAt >= length) return -1;
    const documentAt = lastNameAt + 1 + body[lastNameAt]!;
    if (documentAt >= length) return -1;
    const birthdateAt = documentAt + 1 + body[documentAt]!;
    if (birthdateAt >= length || body[birthdateAt] !== 10) return -1;
    const numberAt = birthdateAt + 11;
    const end = numberAt + 2;
    if (end > length) return -1;
    const number = (body[numberAt]! << 8) | body[numberAt + 1]!;
    if (
      number > BET_NUMBER_MAX ||
      !_isPlainName(body, position + 1, lastNameAt) ||
      !_isPlainName(body, lastNameAt + 1, documentAt) ||
      documentBytesViolation(body, documentAt + 1, birthdateAt) !== undefined
    ) {
      return -1;
    }
    const date = parseDateBytes(body, birthdateAt + 1, numberAt);
    if (date === -1 || date > today) return -1;
    for (let index = 0; index < digitCount; index += 1) out[at++] = _agencyDigits[index]!;
    // The bet's wire bytes land with its first length byte where the
    // agency's comma goes; the other length bytes become commas below and
    // the number's two bytes are overwritten by its digits.
    const base = at - position;
    // The seed is the bet's position in the upload (addBet in bet_digest.ts).
    let hash = (first + bet) | 0;
    let index = position;
    for (const wordsEnd = end - 3; index < wordsEnd; index += 4) {
      const word = source.getUint32(index, true);
      target.setUint32(base + index, word, true);
      hash = murmur3Word(hash, word);
    }
    // The last date byte may be in the tail the words left.
    for (let tail = index; tail < numberAt; tail += 1) out[base + tail] = body[tail]!;
    digest = joinDigests(digest, murmur3Tail(hash, source, index, end, end - position));
    at = base + numberAt;
    out[base + position] = _COMMA;
    out[base + lastNameAt] = _COMMA;
    out[base + documentAt] = _COMMA;
    out[base + birthdateAt] = _COMMA;
    out[at++] = _COMMA;
    at = writeNumber(out, at, number);
    out[at++] = _NEWLINE;
    if (number === WINNER_NUMBER) winnerStarts.push(documentAt);
    position = end;
  }
  if (position !== length) return -1;
  plainBatch.digest = digest;
  return at;
}

/** The two ASCII digits of 0 to 99, two bytes each: a bet number is written
 * two digits at a time (a third faster than a division per digit). */
const _DIGIT_PAIRS = (() => {
  const pairs = new Uint8Array(200);
  for (let value = 0; value < 100; value += 1) {
    pairs[value * 2] = 0x30 + Math.floor(value / 10);
    pairs[value * 2 + 1] = 0x30 + value % 10;
  }
  return pairs;
})();

/**
 * Writes a bet number (0 to BET_NUMBER_MAX) in decimal into `out` at `at`.
 * @returns the offset after its last digit
 */
export function writeNumber(out: Uint8Array, at: number, value: number): number {
  if (value >= 100) {
    const high = (value / 100) | 0;
    const low = (value - high * 100) * 2;
    if (high >= 10) out[at++] = _DIGIT_PAIRS[high * 2]!;
    out[at++] = _DIGIT_PAIRS[high * 2 + 1]!;
    out[at++] = _DIGIT_PAIRS[low]!;
    out[at++] = _DIGIT_PAIRS[low + 1]!;
    return at;
  }
  if (value >= 10) out[at++] = _DIGIT_PAIRS[value * 2]!;
  out[at++] = _DIGIT_PAIRS[value * 2 + 1]!;
  return at;
}
