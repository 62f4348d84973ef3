/**
 * Seeded synthetic agency data: Spanish and Argentine names with accents,
 * 8-digit DNIs, plausible birthdates and numbers 0..9999, with an exact number
 * of winning bets per agency so tests know every answer in advance.
 */

import { type Bet, WINNER_NUMBER } from "../bet/bet.ts";

const _FIRST_NAMES = [
  "María",
  "José",
  "Lucía",
  "Martín",
  "Sofía",
  "Joaquín",
  "Valentina",
  "Tomás",
  "Camila",
  "Agustín",
  "Florencia",
  "Matías",
  "Julieta",
  "Nicolás",
  "Ana Belén",
  "Juan Pablo",
  "Ramón",
  "Inés",
  "Germán",
  "Mónica",
  "Héctor",
  "Noemí",
  "Raúl",
  "Verónica",
  "Ángel",
  "Begoña",
  "Iñaki",
  "Zoé",
  "Máximo",
  "Celeste",
];
const _LAST_NAMES = [
  "González",
  "Rodríguez",
  "Gómez",
  "Fernández",
  "López",
  "Díaz",
  "Martínez",
  "Pérez",
  "García",
  "Sánchez",
  "Romero",
  "Sosa",
  "Álvarez",
  "Torres",
  "Ruiz",
  "Ramírez",
  "Flores",
  "Acosta",
  "Benítez",
  "Medina",
  "Suárez",
  "Herrera",
  "Aguirre",
  "Giménez",
  "Gutiérrez",
  "Peña",
  "Ibáñez",
  "Muñoz",
  "O'Connor",
  "de la Fuente",
];

/** A small, fast, seeded PRNG (mulberry32); returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What to generate for one agency. */
export interface AgencyDataOptions {
  agency: number;
  /** Bets in the file. */
  bets: number;
  /** Bets that play the winning number, exactly (at most `bets`). */
  winners: number;
  seed: number;
}

function _pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/**
 * Generates an agency's bets, lazily, in file order.
 * @throws {RangeError} when winners exceed bets or a count is negative
 */
export function* generateAgencyBets(
  options: AgencyDataOptions,
): Generator<Bet> {
  const { agency, bets, winners, seed } = options;
  if (!Number.isInteger(bets) || bets < 0) {
    throw new RangeError(`bets must be a whole number >= 0, got ${bets}`);
  }
  if (!Number.isInteger(winners) || winners < 0 || winners > bets) {
    throw new RangeError(
      `winners must be a whole number in 0..${bets}, got ${winners}`,
    );
  }
  const random = seededRandom(seed * 100_003 + agency);
  let winnersLeft = winners;
  for (let index = 0; index < bets; index += 1) {
    // Choose winners so that exactly `winners` of the `bets` rows win.
    const wins = random() * (bets - index) < winnersLeft;
    if (wins) winnersLeft -= 1;
    let number = Math.floor(random() * 10_000);
    if (!wins && number === WINNER_NUMBER) number = (number + 1) % 10_000;
    const year = 1940 + Math.floor(random() * 66);
    const month = 1 + Math.floor(random() * 12);
    const day = 1 + Math.floor(random() * 28);
    yield {
      agency,
      firstName: _pick(random, _FIRST_NAMES),
      lastName: _pick(random, _LAST_NAMES),
      document: String(10_000_000 + Math.floor(random() * 89_999_999)),
      birthdate: `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`,
      number: wins ? WINNER_NUMBER : number,
    };
  }
}
