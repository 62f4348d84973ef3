/** The bet model: its fields, its validation rules and the winning rule. */

import { DOCUMENT_DIGITS_MAX, NAME_BYTES_MAX } from "./limits.ts";

/** One bet, as an agency sends it and the store keeps it. */
export interface Bet {
  /** Agency number, 1..AGENCIES. */
  agency: number;
  firstName: string;
  lastName: string;
  /** National document (DNI), digits only, kept as text. */
  document: string;
  /** Birthdate as `YYYY-MM-DD`. */
  birthdate: string;
  /** The number played, 0..9999. */
  number: number;
}

/** The number that wins the draw. */
export const WINNER_NUMBER = 7574;

/** Highest number that can be played. */
export const BET_NUMBER_MAX = 9999;

/** The field a bet was rejected for, and why. */
export interface BetViolation {
  field:
    | "agency"
    | "first_name"
    | "last_name"
    | "document"
    | "birthdate"
    | "number";
  reason: string;
}

/**
 * Tells whether a bet won the draw.
 * @param bet a stored bet
 * @returns true when the bet's number is {@link WINNER_NUMBER}
 */
export function hasWon(bet: Bet): boolean {
  return bet.number === WINNER_NUMBER;
}

const _encoder = new TextEncoder();
const _DOCUMENT = new RegExp(`^[0-9]{1,${DOCUMENT_DIGITS_MAX}}$`);
const _DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const _DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function _isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * Tells whether a text is a real calendar date written as `YYYY-MM-DD`.
 * @example isCalendarDate("2000-02-29") // true
 */
export function isCalendarDate(text: string): boolean {
  const match = _DATE.exec(text);
  if (match === null) return false;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const days = month === 2 && _isLeapYear(year) ? 29 : _DAYS_IN_MONTH[month - 1]!;
  return day <= days;
}

/** Today's local date as `YYYY-MM-DD`, the bound for birthdates. */
export function todayIsoDate(now: Date = new Date()): string {
  const month = String(now.getMonth() + 1).padStart(2, "0");
  const day = String(now.getDate()).padStart(2, "0");
  return `${String(now.getFullYear()).padStart(4, "0")}-${month}-${day}`;
}

function _nameViolation(name: string): string | undefined {
  if (name.trim().length === 0) return "is empty";
  if (/[\r\n]/.test(name)) return "contains a line break";
  if (_encoder.encode(name).length > NAME_BYTES_MAX) {
    return `is longer than ${NAME_BYTES_MAX} bytes`;
  }
  return undefined;
}

/**
 * Checks one bet against every rule and reports the first broken one.
 * @param bet the bet to check
 * @param today today's date as `YYYY-MM-DD` (birthdates may not be later)
 * @param agenciesMax highest valid agency number
 * @returns the first violation, or undefined when the bet is valid
 */
export function validateBet(
  bet: Bet,
  today: string,
  agenciesMax: number,
): BetViolation | undefined {
  if (
    !Number.isInteger(bet.agency) || bet.agency < 1 || bet.agency > agenciesMax
  ) {
    return {
      field: "agency",
      reason: `${bet.agency} is not in 1..${agenciesMax}`,
    };
  }
  const first = _nameViolation(bet.firstName);
  if (first !== undefined) return { field: "first_name", reason: first };
  const last = _nameViolation(bet.lastName);
  if (last !== undefined) return { field: "last_name", reason: last };
  if (!_DOCUMENT.test(bet.document)) {
    return {
      field: "document",
      reason: `"${bet.document}" is not 1 to ${DOCUMENT_DIGITS_MAX} digits`,
    };
  }
  if (!isCalendarDate(bet.birthdate)) {
    return {
      field: "birthdate",
      reason: `"${bet.birthdate}" is not a YYYY-MM-DD date`,
    };
  }
  if (bet.birthdate > today) {
    return { field: "birthdate", reason: `${bet.birthdate} is in the future` };
  }
  if (
    !Number.isInteger(bet.number) || bet.number < 0 ||
    bet.number > BET_NUMBER_MAX
  ) {
    return {
      field: "number",
      reason: `${bet.number} is not an integer in 0..${BET_NUMBER_MAX}`,
    };
  }
  return undefined;
}
