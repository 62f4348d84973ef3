/**
 * What the store holds for one agency, by position: the bets committed to
 * disk, the bets accepted on top of them and still queued for the disk, and
 * each committed batch's range and digest. Pure bookkeeping: the store's
 * single writer drives it, the journal replay rebuilds it.
 *
 * The rules, in one place:
 * - a batch is stored only if it starts exactly where the accepted bets end;
 * - it is a duplicate only if a committed batch has the same first position,
 *   count and digest (or it holds no bets and starts inside what is stored);
 * - anything else (a gap, an overlap, another cut) is misplaced, and the
 *   answer names the position expected next;
 * - a failed write rolls the accepted bets back to the committed ones, so no
 *   batch can be stored behind one that was not.
 */

import { EMPTY_DIGEST, joinDigests } from "../protocol/bet_digest.ts";
import type { Checkpoint } from "../protocol/message_codec.ts";

/** Where a batch stands against what an agency has. */
export type Placement =
  | { kind: "next" }
  | { kind: "duplicate" }
  | { kind: "misplaced"; expected: number };

interface _CommittedBatch {
  count: number;
  digest: number;
}

/** One agency's stored and accepted bets. */
export class AgencyLedger {
  #storedBets = 0;
  #storedDigest = EMPTY_DIGEST;
  #acceptedBets = 0;
  /** Committed batches by first position. */
  readonly #batches = new Map<number, _CommittedBatch>();
  /** End position and prefix digest after each committed batch, ascending. */
  readonly #ends: number[] = [];
  readonly #endDigests: number[] = [];

  /** Bets committed to disk. */
  get storedBets(): number {
    return this.#storedBets;
  }

  /** Digest of the committed bets. */
  get storedDigest(): number {
    return this.#storedDigest;
  }

  /** Bets committed or queued: where the next batch must start. */
  get acceptedBets(): number {
    return this.#acceptedBets;
  }

  /** Committed batches. */
  get batches(): number {
    return this.#ends.length;
  }

  /** Where a batch of `count` bets with `digest` at `first` stands. */
  place(first: number, count: number, digest: number): Placement {
    if (count === 0) {
      return first <= this.#storedBets
        ? { kind: "duplicate" }
        : { kind: "misplaced", expected: this.#acceptedBets };
    }
    if (first === this.#acceptedBets) return { kind: "next" };
    const committed = this.#batches.get(first);
    if (committed !== undefined && committed.count === count && committed.digest === digest) {
      return { kind: "duplicate" };
    }
    return { kind: "misplaced", expected: this.#acceptedBets };
  }

  /**
   * Queues a batch placed as next.
   * @throws {RangeError} when it does not start at {@link acceptedBets} (a caller's bug)
   */
  accept(first: number, count: number): void {
    if (first !== this.#acceptedBets) {
      throw new RangeError(`batch at ${first} accepted while ${this.#acceptedBets} are accepted`);
    }
    this.#acceptedBets += count;
  }

  /**
   * Records a batch as committed to disk (after its sync, or on replay).
   * @throws {RangeError} when it does not start where the committed bets end
   */
  commit(first: number, count: number, digest: number): void {
    if (first !== this.#storedBets) {
      throw new RangeError(`batch at ${first} follows ${this.#storedBets} stored bets`);
    }
    this.#storedBets += count;
    this.#storedDigest = joinDigests(this.#storedDigest, digest);
    if (this.#acceptedBets < this.#storedBets) this.#acceptedBets = this.#storedBets;
    if (count === 0) return;
    this.#batches.set(first, { count, digest });
    this.#ends.push(this.#storedBets);
    this.#endDigests.push(this.#storedDigest);
  }

  /** Forgets the accepted batches not committed (their write failed). */
  rollback(): void {
    this.#acceptedBets = this.#storedBets;
  }

  /**
   * Digests of committed prefixes at batch ends, at most `max` of them,
   * spread evenly and always ending with the whole stored range.
   */
  checkpoints(max: number): Checkpoint[] {
    const total = this.#ends.length;
    const taken = Math.min(total, max);
    const checkpoints: Checkpoint[] = [];
    for (let k = 1; k <= taken; k += 1) {
      const index = Math.ceil((k * total) / taken) - 1;
      checkpoints.push({ position: this.#ends[index]!, digest: this.#endDigests[index]! });
    }
    return checkpoints;
  }
}
