/** Sample bets for tests. */

import { type Bet, WINNER_NUMBER } from "../../lib/bet/bet.ts";

/** A valid bet; `overrides` replace its fields. */
export function makeBet(overrides: Partial<Bet> = {}): Bet {
  return {
    agency: 1,
    firstName: "Ana",
    lastName: "Pérez",
    document: "30123456",
    birthdate: "1990-05-17",
    number: 1234,
    ...overrides,
  };
}

/** Options of {@link makeBets}. */
export interface MakeBetsOptions {
  /** Bets at these 0-based positions play the winning number. */
  winnersAt?: readonly number[];
  /** Document of the first bet; the others count up from it. */
  firstDocument?: number;
}

/** `count` valid bets of an agency with distinct documents. */
export function makeBets(agency: number, count: number, options: MakeBetsOptions = {}): Bet[] {
  const winnersAt = new Set(options.winnersAt ?? []);
  const firstDocument = options.firstDocument ?? 20_000_000 + agency * 100_000;
  const bets: Bet[] = [];
  for (let index = 0; index < count; index += 1) {
    bets.push(makeBet({
      agency,
      firstName: index % 2 === 0 ? "José María" : 'Ana "Anita"',
      lastName: index % 3 === 0 ? "Pérez, Núñez" : "O'Connor",
      document: String(firstDocument + index),
      number: winnersAt.has(index) ? WINNER_NUMBER : index % WINNER_NUMBER,
    }));
  }
  return bets;
}

/** Bets whose fields test quoting and encoding, each with a name. */
export const TRICKY_BETS: [string, Bet][] = [
  ["plain", makeBet()],
  ["comma and quotes", makeBet({ firstName: 'Ana "Anita"', lastName: "Pérez, Núñez" })],
  ["leading and trailing spaces", makeBet({ firstName: " Ana ", lastName: "de la Fuente " })],
  ["emoji and apostrophe", makeBet({ firstName: "Zoé 😀", lastName: "O'Connor" })],
  ["quotes only", makeBet({ firstName: '"', lastName: '""' })],
  ["number 0 and leading-zero document", makeBet({ number: 0, document: "00012345" })],
  ["agency 100000 and number 9999", makeBet({ agency: 100_000, number: 9999 })],
];
