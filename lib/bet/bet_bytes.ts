/**
 * The bet rules on UTF-8 bytes, so the hot paths (server batch scan, client
 * file scan) never build strings. `validateBet` in bet.ts applies these same
 * functions to a Bet's text, so there is one definition of each rule.
 */

import { DOCUMENT_DIGITS_MAX, NAME_BYTES_MAX } from "../limits.ts";

const _DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const _decoder = new TextDecoder();

/** A date as the number YYYYMMDD (local time), for comparisons. */
export function dateNumber(date: Date): number {
  return date.getFullYear() * 10_000 + (date.getMonth() + 1) * 100 + date.getDate();
}

/** Quotes a byte range as text for an error message. */
function _quote(bytes: Uint8Array, start: number, end: number): string {
  return JSON.stringify(_decoder.decode(bytes.subarray(start, Math.min(end, start + 64))));
}

/**
 * Length of the valid UTF-8 sequence starting at `index`, or 0 when invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid).
 */
export function utf8SequenceLength(bytes: Uint8Array, index: number, end: number): number {
  const lead = bytes[index]!;
  if (lead < 0x80) return 1;
  let length: number;
  let min: number;
  let codePoint: number;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
    min = 0x80;
    codePoint = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    min = 0x800;
    codePoint = lead & 0x0f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    min = 0x10000;
    codePoint = lead & 0x07;
  } else {
    return 0;
  }
  if (index + length > end) return 0;
  for (let offset = 1; offset < length; offset += 1) {
    const next = bytes[index + offset]!;
    if ((next & 0xc0) !== 0x80) return 0;
    codePoint = (codePoint << 6) | (next & 0x3f);
  }
  if (codePoint < min || codePoint > 0x10ffff) return 0;
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return 0;
  return length;
}

/**
 * Checks a name: 1 to NAME_BYTES_MAX bytes of valid UTF-8, not only spaces,
 * no control character (C0 U+0000-U+001F, line breaks and tab included, DEL
 * U+007F, C1 U+0080-U+009F): a name is stored and logged as it is, and a
 * control character in it would reach a terminal or a spreadsheet.
 * @returns why the name is invalid, or undefined when it is valid
 */
export function nameBytesViolation(
  bytes: Uint8Array,
  start: number,
  end: number,
): string | undefined {
  return _isCommonValidName(bytes, start, end) ? undefined : _nameViolation(bytes, start, end);
}

/** What an ASCII byte says about the name it is in (OR-ed over the name). */
const _NAME_VISIBLE = 1;
const _NAME_REFUSED = 2;

/** Per byte: _NAME_REFUSED for C0 and DEL, 0 for the space, else _NAME_VISIBLE. */
const _NAME_BYTES = (() => {
  const table = new Uint8Array(256).fill(_NAME_VISIBLE);
  table.fill(_NAME_REFUSED, 0, 0x20);
  table[0x20] = 0;
  table[0x7f] = _NAME_REFUSED;
  return table;
})();

/**
 * True for a name of ASCII and two-byte characters led by C3 to DF (accented
 * Latin letters: valid whenever a continuation byte follows, never overlong
 * nor a C1 control) that _nameViolation would accept, at a table lookup per
 * byte. False for any other name, valid or not: _nameViolation decides.
 */
function _isCommonValidName(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start > NAME_BYTES_MAX) return false;
  let kinds = 0;
  for (let index = start; index < end; index += 1) {
    const byte = bytes[index]!;
    kinds |= _NAME_BYTES[byte]!;
    if (byte < 0x80) continue;
    if (byte < 0xc3 || byte > 0xdf || index + 1 >= end || (bytes[index + 1]! & 0xc0) !== 0x80) {
      return false;
    }
    index += 1;
  }
  return kinds === _NAME_VISIBLE;
}

/** nameBytesViolation's rules, byte by byte, with the reason. */
function _nameViolation(bytes: Uint8Array, start: number, end: number): string | undefined {
  if (end - start > NAME_BYTES_MAX) return `is longer than ${NAME_BYTES_MAX} bytes`;
  let visible = false;
  let index = start;
  while (index < end) {
    const byte = bytes[index]!;
    if (byte < 0x80) {
      if (byte < 0x20 || byte === 0x7f) return _controlViolation(byte);
      if (byte !== 0x20) visible = true;
      index += 1;
      continue;
    }
    const length = utf8SequenceLength(bytes, index, end);
    if (length === 0) return "is not valid UTF-8";
    // C1 controls are the two-byte sequences C2 80 to C2 9F.
    if (byte === 0xc2 && bytes[index + 1]! < 0xa0) return _controlViolation(bytes[index + 1]!);
    visible = true;
    index += length;
  }
  return visible ? undefined : "is empty or only spaces";
}

/** Why a name with the control character `codePoint` is refused. */
function _controlViolation(codePoint: number): string {
  if (codePoint === 0x0a || codePoint === 0x0d) return "contains a line break";
  const hex = codePoint.toString(16).toUpperCase().padStart(4, "0");
  return `contains the control character U+${hex}`;
}

/**
 * Checks a document: 1 to DOCUMENT_DIGITS_MAX ASCII digits.
 * @returns why it is invalid, or undefined when it is valid
 */
export function documentBytesViolation(
  bytes: Uint8Array,
  start: number,
  end: number,
): string | undefined {
  if (end <= start || end - start > DOCUMENT_DIGITS_MAX) {
    return _documentViolation(bytes, start, end);
  }
  for (let index = start; index < end; index += 1) {
    if (_digit(bytes, index) > 9) return _documentViolation(bytes, start, end);
  }
  return undefined;
}

function _documentViolation(bytes: Uint8Array, start: number, end: number): string {
  return `${_quote(bytes, start, end)} is not 1 to ${DOCUMENT_DIGITS_MAX} digits`;
}

/** The ASCII digit at `index` as 0 to 9, or a value above 9 when it is not one. */
function _digit(bytes: Uint8Array, index: number): number {
  return (bytes[index]! - 0x30) >>> 0;
}

/**
 * Reads a real calendar date written `YYYY-MM-DD`. Each digit is read on its
 * own (no loop): the server's batch scan reads one per bet.
 * @returns the date as YYYYMMDD, or -1 when it is not one
 */
export function parseDateBytes(bytes: Uint8Array, start: number, end: number): number {
  if (end - start !== 10 || bytes[start + 4] !== 0x2d || bytes[start + 7] !== 0x2d) return -1;
  const y1 = _digit(bytes, start);
  const y2 = _digit(bytes, start + 1);
  const y3 = _digit(bytes, start + 2);
  const y4 = _digit(bytes, start + 3);
  const m1 = _digit(bytes, start + 5);
  const m2 = _digit(bytes, start + 6);
  const d1 = _digit(bytes, start + 8);
  const d2 = _digit(bytes, start + 9);
  if (y1 > 9 || y2 > 9 || y3 > 9 || y4 > 9 || m1 > 9 || m2 > 9 || d1 > 9 || d2 > 9) return -1;
  const year = y1 * 1000 + y2 * 100 + y3 * 10 + y4;
  const month = m1 * 10 + m2;
  const day = d1 * 10 + d2;
  if (year < 1 || month < 1 || month > 12 || day < 1) return -1;
  // Every month has 28 days: the month's length matters only past them.
  if (day > 28 && day > _daysInMonth(year, month)) return -1;
  return year * 10_000 + month * 100 + day;
}

function _daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : _DAYS_IN_MONTH[month - 1]!;
}

/**
 * Checks a birthdate: a real `YYYY-MM-DD` date not after `today`.
 * @param today the date as YYYYMMDD ({@link dateNumber})
 * @returns why it is invalid, or undefined when it is valid
 */
export function birthdateBytesViolation(
  bytes: Uint8Array,
  start: number,
  end: number,
  today: number,
): string | undefined {
  const date = parseDateBytes(bytes, start, end);
  if (date === -1) return `${_quote(bytes, start, end)} is not a YYYY-MM-DD date`;
  if (date > today) return `${_decoder.decode(bytes.subarray(start, end))} is in the future`;
  return undefined;
}
