/**
 * Seeds and trial counts of the randomized fault tests, so a failure can be
 * replayed:
 *
 * - `FAULT_SEED`: the base seed (default: a fresh one, printed);
 * - `FAULT_TRIALS`: trials of every randomized test (default: each test's own);
 * - `FAULT_SCALE`: multiplies each test's default count (the soak task sets it).
 *
 * Trial 0 runs with the base seed itself, so `FAULT_SEED=<a trial's seed>
 * FAULT_TRIALS=1` replays that one trial.
 */

import { seededRandom } from "../../../lib/dev/bet_generator.ts";

/** Seed and count of one randomized test. */
export interface TrialPlan {
  seed: number;
  count: number;
}

function _envInteger(name: string): number | undefined {
  const text = Deno.env.get(name);
  if (text === undefined || text === "") return undefined;
  if (!/^\d+$/.test(text)) throw new RangeError(`${name} "${text}" is not a whole number`);
  return Number(text);
}

/**
 * Reads the seed and trial count of a randomized test and prints them.
 * @param name the test, for the printed line
 * @param defaultCount trials when neither FAULT_TRIALS nor FAULT_SCALE is set
 */
export function trialPlan(name: string, defaultCount: number): TrialPlan {
  const seed = _envInteger("FAULT_SEED") ?? Math.floor(Math.random() * 2 ** 31);
  const count = _envInteger("FAULT_TRIALS") ?? defaultCount * (_envInteger("FAULT_SCALE") ?? 1);
  console.log(`${name}: seed ${seed}, ${count} trials (replay: FAULT_SEED=${seed})`);
  return { seed, count };
}

/** The seed of trial `index`: the base seed for trial 0, a mix of both after. */
export function trialSeed(seed: number, index: number): number {
  if (index === 0) return seed;
  return Math.floor(seededRandom(seed ^ Math.imul(index, 0x9e3779b1))() * 2 ** 31);
}

/** A seeded source of random choices. */
export class Rng {
  readonly #next: () => number;

  constructor(seed: number) {
    this.#next = seededRandom(seed);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.#next();
  }

  /** An integer in min..max, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.#next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.#next() < p;
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)]!;
  }

  /** `length` random bytes. */
  bytes(length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    for (let index = 0; index < length; index += 1) bytes[index] = this.int(0, 255);
    return bytes;
  }
}

/**
 * Runs `count` trials, `concurrency` at a time; a failure names its trial and
 * the seed that replays it.
 * @throws {Error} the first trial failure, with its replay seed
 */
export async function runTrials(
  plan: TrialPlan,
  concurrency: number,
  trial: (seed: number, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: Error | undefined;
  const worker = async () => {
    while (next < plan.count && failure === undefined) {
      const index = next;
      next += 1;
      const seed = trialSeed(plan.seed, index);
      try {
        await trial(seed, index);
      } catch (error) {
        failure ??= new Error(
          `trial ${index} failed (replay: FAULT_SEED=${seed} FAULT_TRIALS=1): ${
            (error as Error).message
          }`,
          { cause: error },
        );
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failure !== undefined) throw failure;
}
