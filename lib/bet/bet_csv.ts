/**
 * Bets as CSV records: the store's rows (the exercise's column order) and the
 * agencies' data files (the same columns without the agency).
 */

import type { Bet } from "./bet.ts";
import { formatCsvRecord } from "./csv.ts";

/** Store columns, in the exercise's order. */
export const STORE_COLUMNS = [
  "agency",
  "first_name",
  "last_name",
  "document",
  "birthdate",
  "number",
] as const;

/** Agency data file columns (no header line in the file). */
export const AGENCY_FILE_COLUMNS = STORE_COLUMNS.slice(1);

/** Formats a bet as a store row, newline included. */
export function formatStoreRow(bet: Bet): string {
  return formatCsvRecord([
    String(bet.agency),
    bet.firstName,
    bet.lastName,
    bet.document,
    bet.birthdate,
    String(bet.number),
  ]);
}

/** Formats a bet as an agency data file row, newline included. */
export function formatAgencyRow(bet: Bet): string {
  return formatCsvRecord([
    bet.firstName,
    bet.lastName,
    bet.document,
    bet.birthdate,
    String(bet.number),
  ]);
}

function _integer(text: string, column: string): number {
  if (!/^\d{1,9}$/.test(text)) {
    throw new SyntaxError(`${column} "${text}" is not a whole number`);
  }
  return Number(text);
}

function _expectColumns(fields: readonly string[], count: number): void {
  if (fields.length !== count) {
    throw new SyntaxError(`expected ${count} columns, found ${fields.length}`);
  }
}

/**
 * Reads a bet from the fields of an agency data file row.
 * @param agency the agency the file belongs to
 * @throws {SyntaxError} when the column count or the number is wrong
 */
export function parseAgencyRow(fields: readonly string[], agency: number): Bet {
  _expectColumns(fields, AGENCY_FILE_COLUMNS.length);
  return {
    agency,
    firstName: fields[0]!,
    lastName: fields[1]!,
    document: fields[2]!,
    birthdate: fields[3]!,
    number: _integer(fields[4]!, "number"),
  };
}
