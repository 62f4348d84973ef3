/**
 * Streams an agency's data file as validated bets; malformed rows are
 * reported with their line number and skipped.
 */

import { type Bet, todayIsoDate, validateBet } from "./bet.ts";
import { parseAgencyRow } from "./bet_csv.ts";
import { parseCsvLine, readLines } from "./csv.ts";
import { AGENCIES_MAX, NAME_BYTES_MAX } from "./limits.ts";

/** A row that was not sent, and why. */
export interface SkippedRow {
  lineNumber: number;
  reason: string;
}

/** Longest data file line accepted. */
const _AGENCY_LINE_BYTES_MAX = 4 * NAME_BYTES_MAX + 256;

/**
 * Yields the file's valid bets in order; calls `onSkip` for each bad row.
 * Blank lines are ignored.
 * @throws {RangeError} when a line is absurdly long (not a data file)
 */
export async function* readAgencyBets(
  stream: ReadableStream<Uint8Array>,
  agency: number,
  onSkip: (row: SkippedRow) => void,
): AsyncGenerator<Bet> {
  const today = todayIsoDate();
  for await (
    const { lineNumber, text } of readLines(stream, _AGENCY_LINE_BYTES_MAX)
  ) {
    if (text.trim() === "") continue;
    let bet: Bet;
    try {
      bet = parseAgencyRow(parseCsvLine(text), agency);
    } catch (error) {
      onSkip({ lineNumber, reason: (error as Error).message });
      continue;
    }
    const violation = validateBet(bet, today, AGENCIES_MAX);
    if (violation !== undefined) {
      onSkip({ lineNumber, reason: `${violation.field} ${violation.reason}` });
      continue;
    }
    yield bet;
  }
}
