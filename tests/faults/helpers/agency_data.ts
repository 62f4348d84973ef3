/**
 * Seeded agency data files for fault trials and the exact checks made after
 * them: the store holds the multiset of the files' rows, and each agency's
 * winners are the documents of its rows that play the winning number.
 */

import assert from "node:assert/strict";
import { type Bet, hasWon } from "../../../lib/bet/bet.ts";
import { generateAgencyBets } from "../../../lib/dev/bet_generator.ts";
import { loadBets } from "../../../lib/store/bets_file_reader.ts";
import { writeAgencyFile } from "../../../lib/dev/agency_file.ts";

/** Size of one agency's file. */
export interface AgencySpec {
  bets: number;
  winners: number;
}

/** Data files written for a trial, with the bets they hold. */
export interface AgencyData {
  /** Data file of agency k at index k - 1. */
  files: string[];
  /** Every bet of every file, as the generator made it. */
  bets: Bet[];
}

/**
 * Writes agency-1.csv .. agency-N.csv into `dir`.
 * @param specs one entry per agency
 * @param seed the generator's seed
 */
export async function writeAgencyData(
  dir: string,
  specs: readonly AgencySpec[],
  seed: number,
): Promise<AgencyData> {
  const files: string[] = [];
  const bets: Bet[] = [];
  for (const [index, spec] of specs.entries()) {
    const agency = index + 1;
    const options = { agencies: specs.length, bets: spec.bets, winners: spec.winners, seed };
    files.push(await writeAgencyFile({ ...options, out: dir }, agency));
    bets.push(...generateAgencyBets({ agency, ...spec, seed }));
  }
  return { files, bets };
}

function _key(bet: Bet): string {
  return [bet.agency, bet.firstName, bet.lastName, bet.document, bet.birthdate, bet.number]
    .join("\u0000");
}

function _counts(bets: Iterable<Bet>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const bet of bets) {
    const key = _key(bet);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Reads every row of a store. */
export async function storedBets(storage: string): Promise<Bet[]> {
  const bets: Bet[] = [];
  for await (const bet of loadBets(storage)) bets.push(bet);
  return bets;
}

/**
 * Asserts that a store holds exactly the multiset `expected`: every bet as
 * often as expected, nothing else.
 * @returns the number of rows compared
 */
export async function assertStoreHoldsExactly(
  storage: string,
  expected: readonly Bet[],
): Promise<number> {
  const stored = await storedBets(storage);
  const want = _counts(expected);
  const have = _counts(stored);
  const wrong: string[] = [];
  for (const key of new Set([...want.keys(), ...have.keys()])) {
    const wanted = want.get(key) ?? 0;
    const found = have.get(key) ?? 0;
    if (wanted !== found) {
      wrong.push(`${key.replaceAll("\u0000", ",")}: stored ${found}, expected ${wanted}`);
    }
  }
  assert.deepEqual(
    wrong.slice(0, 5),
    [],
    `${wrong.length} rows differ (stored ${stored.length}, expected ${expected.length})`,
  );
  assert.equal(stored.length, expected.length);
  return stored.length;
}

/** The sorted documents of an agency's winning bets. */
export function winnersOf(bets: readonly Bet[], agency: number): string[] {
  return bets.filter((bet) => bet.agency === agency && hasWon(bet)).map((bet) => bet.document)
    .sort();
}
