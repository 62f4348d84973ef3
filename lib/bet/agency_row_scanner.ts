/**
 * Scans an agency's data file on bytes: splits lines, unquotes CSV fields in
 * place and checks every bet rule, with no string per field. Malformed rows
 * are reported with their line number and skipped. Equivalent to
 * readLines + parseCsvLine + parseAgencyRow + validateBet (tests compare).
 */

import { type Bet, BET_NUMBER_MAX } from "./bet.ts";
import {
  birthdateBytesViolation,
  documentBytesViolation,
  nameBytesViolation,
} from "./bet_bytes.ts";
import { AGENCY_LINE_BYTES_MAX } from "../limits.ts";

/** Columns of an agency row. */
const AGENCY_ROW_FIELDS = 5;

/** Columns of a store row: the agency, then an agency row's columns. */
const _STORE_ROW_FIELDS = AGENCY_ROW_FIELDS + 1;

/** One valid row, as views into the scanner's buffer (valid during the callback). */
export interface AgencyRow {
  bytes: Uint8Array;
  /** Start and end of first name, last name, document, birthdate, number. */
  starts: Int32Array;
  ends: Int32Array;
  /** The number played, 0..9999. */
  number: number;
  /** The agency column of a store row; 0 when scanning an agency file. */
  agency: number;
}

/** A row that was not sent, and why. */
export interface SkippedRow {
  lineNumber: number;
  reason: string;
}

const _rowDecoder = new TextDecoder();

/**
 * Copies a scanned row out of the scanner's buffer as a Bet.
 * @param agency the agency the row belongs to (default: a store row's agency column)
 */
export function betOfRow(row: AgencyRow, agency: number = row.agency): Bet {
  const field = (index: number) =>
    _rowDecoder.decode(row.bytes.subarray(row.starts[index]!, row.ends[index]!));
  return {
    agency,
    firstName: field(0),
    lastName: field(1),
    document: field(2),
    birthdate: field(3),
    number: row.number,
  };
}

const _COMMA = 0x2c;
const _QUOTE = 0x22;
const _NEWLINE = 0x0a;
const _CR = 0x0d;
const _EMPTY = new Uint8Array(0);

/** Streams rows out of byte chunks. */
export class AgencyRowScanner {
  readonly #onRow: (row: AgencyRow) => void;
  readonly #onSkip: (row: SkippedRow) => void;
  readonly #today: number;
  /** Columns per line: 5 in an agency file, 6 in the store (agency first). */
  readonly #columns: number;
  /** Every column's bounds; #row's views skip the agency column. */
  readonly #starts = new Int32Array(_STORE_ROW_FIELDS);
  readonly #ends = new Int32Array(_STORE_ROW_FIELDS);
  readonly #row: AgencyRow;
  /** The unfinished last line of the chunks so far, in a buffer of its own. */
  #carry: Uint8Array = _EMPTY;
  #lineNumber = 0;
  #discardingLongLine = false;
  /** Commas of the line #splitLine found last. */
  #commas = 0;

  /**
   * @param today today as YYYYMMDD (birthdates may not be later)
   * @param onRow called for each valid row, in file order
   * @param onSkip called for each malformed row
   * @param storeRows scan the store's rows (an agency column first)
   */
  constructor(
    today: number,
    onRow: (row: AgencyRow) => void,
    onSkip: (row: SkippedRow) => void,
    storeRows = false,
  ) {
    this.#today = today;
    this.#onRow = onRow;
    this.#onSkip = onSkip;
    this.#columns = storeRows ? _STORE_ROW_FIELDS : AGENCY_ROW_FIELDS;
    const first = this.#columns - AGENCY_ROW_FIELDS;
    this.#row = {
      bytes: new Uint8Array(0),
      starts: this.#starts.subarray(first),
      ends: this.#ends.subarray(first),
      number: 0,
      agency: 0,
    };
  }

  /**
   * Scans a chunk; a line cut at its end waits for the next chunk. The chunk
   * is read, never written, and may be reused by the caller once this returns.
   */
  push(chunk: Uint8Array): void {
    let start = 0;
    if (this.#carry.length > 0) {
      // Only the line cut at the last chunk's end is joined up, not the chunk.
      const newline = chunk.indexOf(_NEWLINE);
      const joined = _concat(this.#carry, newline === -1 ? chunk : chunk.subarray(0, newline));
      if (newline === -1) {
        this.#keepCarry(joined);
        return;
      }
      this.#carry = _EMPTY;
      this.#line(joined, 0, joined.length);
      start = newline + 1;
    }
    // Quoted fields are unescaped in place: only a chunk with a quote is
    // copied, and only such a chunk needs the quote-aware field split.
    if (chunk.indexOf(_QUOTE, start) === -1) {
      this.#keepCarry(chunk.subarray(this.#scanUnquoted(chunk, start)));
      return;
    }
    const bytes = chunk.slice();
    while (true) {
      const newline = bytes.indexOf(_NEWLINE, start);
      if (newline === -1) break;
      this.#line(bytes, start, newline);
      start = newline + 1;
    }
    this.#keepCarry(bytes.subarray(start));
  }

  /**
   * Scans the whole lines of bytes with no quote from `start`, each in one
   * pass that finds its commas with its line break (a native indexOf per
   * line or field costs more than that loop). A call per line, not one loop
   * over the chunk, so the short agency files' few chunks get optimized too.
   * @returns where the unfinished last line starts
   */
  #scanUnquoted(bytes: Uint8Array, start: number): number {
    while (true) {
      const newline = this.#splitLine(bytes, start);
      if (newline === -1) return start;
      this.#line(bytes, start, newline, this.#commas);
      start = newline + 1;
    }
  }

  /**
   * Finds the line break after `start` and sets the bounds of the fields
   * before it (but the last one's end), with the commas in #commas.
   * @returns the line break's offset, or -1 when the line is unfinished
   */
  #splitLine(bytes: Uint8Array, start: number): number {
    const starts = this.#starts;
    const ends = this.#ends;
    const columns = this.#columns;
    const length = bytes.length;
    let commas = 0;
    starts[0] = start;
    for (let index = start; index < length; index += 1) {
      const byte = bytes[index]!;
      // Letters, digits and '-' are above the comma; space, CR and LF below.
      if (byte > _COMMA) continue;
      if (byte === _COMMA) {
        if (commas < columns) ends[commas] = index;
        if (commas + 1 < columns) starts[commas + 1] = index + 1;
        commas += 1;
        continue;
      }
      if (byte !== _NEWLINE) continue;
      this.#commas = commas;
      return index;
    }
    return -1;
  }

  /** Keeps an unfinished line for the next chunk, in a copy of its own. */
  #keepCarry(rest: Uint8Array): void {
    if (rest.length > AGENCY_LINE_BYTES_MAX) {
      if (!this.#discardingLongLine) {
        this.#onSkip({
          lineNumber: this.#lineNumber + 1,
          reason: `line is longer than ${AGENCY_LINE_BYTES_MAX} bytes`,
        });
      }
      this.#discardingLongLine = true;
      this.#carry = _EMPTY;
      return;
    }
    this.#carry = rest.length === 0 ? _EMPTY : rest.slice();
  }

  /** Scans what is left (a last line without a line break). */
  end(): void {
    const carry = this.#carry;
    this.#carry = _EMPTY;
    if (carry.length > 0) this.#line(carry, 0, carry.length);
  }

  #line(bytes: Uint8Array, start: number, end: number, commas = -1): void {
    this.#lineNumber += 1;
    if (this.#discardingLongLine) {
      this.#discardingLongLine = false;
      return;
    }
    if (end > start && bytes[end - 1] === _CR) end -= 1;
    if (end - start > AGENCY_LINE_BYTES_MAX) {
      this.#onSkip({
        lineNumber: this.#lineNumber,
        reason: `line is longer than ${AGENCY_LINE_BYTES_MAX} bytes`,
      });
      return;
    }
    if (_isBlank(bytes, start, end)) {
      // The store never writes one: in its file a blank line is damage.
      if (this.#columns === _STORE_ROW_FIELDS) {
        this.#onSkip({ lineNumber: this.#lineNumber, reason: "blank line" });
      }
      return;
    }
    const reason = this.#parse(bytes, start, end, commas);
    if (reason !== undefined) {
      this.#onSkip({ lineNumber: this.#lineNumber, reason });
      return;
    }
    this.#onRow(this.#row);
  }

  /**
   * Splits and checks a line into #row; returns why it is invalid.
   * @param commas the line's commas when #scanUnquoted split it already
   *   (its fields' bounds set but the last one's end), else -1
   */
  #parse(bytes: Uint8Array, start: number, end: number, commas: number): string | undefined {
    const starts = this.#starts;
    const ends = this.#ends;
    const columns = this.#columns;
    if (commas >= 0) {
      if (commas >= columns) return `expected ${columns} columns, found more`;
      if (commas + 1 !== columns) return `expected ${columns} columns, found ${commas + 1}`;
      ends[columns - 1] = end;
      return this.#check(bytes);
    }
    let index = start;
    let field = 0;
    while (true) {
      if (field === columns) return `expected ${columns} columns, found more`;
      let fieldEnd: number;
      if (bytes[index] === _QUOTE && index < end) {
        const unquoted = _unquoteInPlace(bytes, index, end);
        if (typeof unquoted === "string") return unquoted;
        starts[field] = index + 1;
        ends[field] = unquoted.valueEnd;
        index = unquoted.next;
        fieldEnd = index;
      } else {
        let cursor = index;
        while (cursor < end && bytes[cursor] !== _COMMA) {
          if (bytes[cursor] === _QUOTE) {
            return `stray quote in an unquoted field at column ${cursor - start + 1}`;
          }
          cursor += 1;
        }
        starts[field] = index;
        ends[field] = cursor;
        fieldEnd = cursor;
      }
      field += 1;
      if (fieldEnd >= end) break;
      if (bytes[fieldEnd] !== _COMMA) {
        return `unexpected character after a quoted field at column ${fieldEnd - start + 1}`;
      }
      index = fieldEnd + 1;
      if (index === end) {
        if (field === columns) return `expected ${columns} columns, found more`;
        starts[field] = index;
        ends[field] = index;
        field += 1;
        break;
      }
    }
    if (field !== columns) return `expected ${columns} columns, found ${field}`;
    return this.#check(bytes);
  }

  #check(bytes: Uint8Array): string | undefined {
    let agency = 0;
    if (this.#columns === _STORE_ROW_FIELDS) {
      agency = _wholeNumber(bytes, this.#starts[0]!, this.#ends[0]!);
      if (agency < 1) {
        return `agency ${
          _text(bytes, this.#starts[0]!, this.#ends[0]!)
        } is not a whole number from 1`;
      }
    }
    const { starts, ends } = this.#row;
    const number = _wholeNumber(bytes, starts[4]!, ends[4]!);
    if (number === -1) {
      return `number ${_text(bytes, starts[4]!, ends[4]!)} is not a whole number`;
    }
    const first = nameBytesViolation(bytes, starts[0]!, ends[0]!);
    if (first !== undefined) return `first_name ${first}`;
    const last = nameBytesViolation(bytes, starts[1]!, ends[1]!);
    if (last !== undefined) return `last_name ${last}`;
    const document = documentBytesViolation(bytes, starts[2]!, ends[2]!);
    if (document !== undefined) return `document ${document}`;
    const birthdate = birthdateBytesViolation(bytes, starts[3]!, ends[3]!, this.#today);
    if (birthdate !== undefined) return `birthdate ${birthdate}`;
    if (number > BET_NUMBER_MAX) {
      return `number ${number} is not an integer in 0..${BET_NUMBER_MAX}`;
    }
    this.#row.bytes = bytes;
    this.#row.number = number;
    this.#row.agency = agency;
    return undefined;
  }
}

/**
 * Unquotes the field starting with a quote at `start`, shifting its bytes
 * left over each doubled quote.
 * @returns where the value ends and where scanning goes on, or why it is malformed
 */
function _unquoteInPlace(
  bytes: Uint8Array,
  start: number,
  end: number,
): { valueEnd: number; next: number } | string {
  let read = start + 1;
  let write = start + 1;
  while (read < end) {
    const byte = bytes[read]!;
    if (byte === _QUOTE) {
      if (read + 1 < end && bytes[read + 1] === _QUOTE) {
        bytes[write++] = _QUOTE;
        read += 2;
        continue;
      }
      return { valueEnd: write, next: read + 1 };
    }
    bytes[write++] = byte;
    read += 1;
  }
  return "unterminated quoted field";
}

function _concat(head: Uint8Array, tail: Uint8Array): Uint8Array {
  const joined = new Uint8Array(head.length + tail.length);
  joined.set(head);
  joined.set(tail, head.length);
  return joined;
}

function _isBlank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let index = start; index < end; index += 1) {
    const byte = bytes[index]!;
    if (byte !== 0x20 && byte !== 0x09) return false;
  }
  return true;
}

/** Reads 1 to 9 ASCII digits; -1 when the field is not that. */
function _wholeNumber(bytes: Uint8Array, start: number, end: number): number {
  if (end <= start || end - start > 9) return -1;
  let value = 0;
  for (let index = start; index < end; index += 1) {
    const digit = bytes[index]! - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

const _decoder = new TextDecoder();

function _text(bytes: Uint8Array, start: number, end: number): string {
  return JSON.stringify(_decoder.decode(bytes.subarray(start, Math.min(end, start + 64))));
}
