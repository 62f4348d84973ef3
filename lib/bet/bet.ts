/** The bet model: its fields, its validation rules and the winning rule. */

import {
  birthdateBytesViolation,
  documentBytesViolation,
  nameBytesViolation,
  parseDateBytes,
} from "./bet_bytes.ts";

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

/** Today's local date as `YYYY-MM-DD`, the bound for birthdates. */
export function todayIsoDate(now: Date = new Date()): string {
  const month = String(now.getMonth() + 1).padStart(2, "0");
  const day = String(now.getDate()).padStart(2, "0");
  return `${String(now.getFullYear()).padStart(4, "0")}-${month}-${day}`;
}

function _textViolation(
  text: string,
  check: (bytes: Uint8Array, start: number, end: number) => string | undefined,
): string | undefined {
  const bytes = _encoder.encode(text);
  return check(bytes, 0, bytes.length);
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
  const first = _textViolation(bet.firstName, nameBytesViolation);
  if (first !== undefined) return { field: "first_name", reason: first };
  const last = _textViolation(bet.lastName, nameBytesViolation);
  if (last !== undefined) return { field: "last_name", reason: last };
  const document = _textViolation(bet.document, documentBytesViolation);
  if (document !== undefined) return { field: "document", reason: document };
  const todayBytes = _encoder.encode(today);
  const todayNumber = parseDateBytes(todayBytes, 0, todayBytes.length);
  const birthdate = _textViolation(
    bet.birthdate,
    (bytes, start, end) => birthdateBytesViolation(bytes, start, end, todayNumber),
  );
  if (birthdate !== undefined) return { field: "birthdate", reason: birthdate };
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
