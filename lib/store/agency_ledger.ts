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

import { digestAfter, EMPTY_DIGEST, joinDigests } from "../protocol/bet_digest.ts";
import type { Checkpoint } from "../protocol/message_codec.ts";

/** Where a batch stands against what an agency has. */
export type Placement =
  | { kind: "next" }
  | { kind: "duplicate" }
  | { kind: "misplaced"; expected: number };

/** Starting capacity, in batches, of an agency's committed-batch arrays. */
const _BATCHES_INITIAL = 16;

/** One agency's stored and accepted bets. */
export class AgencyLedger {
  #storedBets = 0;
  #storedDigest = EMPTY_DIGEST;
  #acceptedBets = 0;
  /** End position and prefix digest after each committed batch (the batch
   * starts where the one before ends), ascending: 12 bytes a batch, looked
   * up by binary search, so millions of batches cost tens of MB, not
   * hundreds (a Map of objects would cost more). */
  #ends = new Float64Array(_BATCHES_INITIAL);
  #endDigests = new Uint32Array(_BATCHES_INITIAL);
  #batchCount = 0;

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
    return this.#batchCount;
  }

  /** Where a batch of `count` bets with `digest` at `first` stands. */
  place(first: number, count: number, digest: number): Placement {
    if (count === 0) {
      return first <= this.#storedBets
        ? { kind: "duplicate" }
        : { kind: "misplaced", expected: this.#acceptedBets };
    }
    if (first === this.#acceptedBets) return { kind: "next" };
    if (this.#isCommitted(first, count, digest)) return { kind: "duplicate" };
    return { kind: "misplaced", expected: this.#acceptedBets };
  }

  /** Whether a committed batch starts at `first` with `count` bets and `digest`. */
  #isCommitted(first: number, count: number, digest: number): boolean {
    // The first batch whose end lies past `first` is the one that holds it.
    let low = 0;
    let high = this.#batchCount;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#ends[middle]! <= first) low = middle + 1;
      else high = middle;
    }
    if (low === this.#batchCount) return false;
    const start = low === 0 ? 0 : this.#ends[low - 1]!;
    const before = low === 0 ? EMPTY_DIGEST : this.#endDigests[low - 1]!;
    return start === first && this.#ends[low]! - start === count &&
      digestAfter(this.#endDigests[low]!, before) === digest;
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
    if (this.#batchCount === this.#ends.length) this.#grow();
    this.#ends[this.#batchCount] = this.#storedBets;
    this.#endDigests[this.#batchCount] = this.#storedDigest;
    this.#batchCount += 1;
  }

  #grow(): void {
    const ends = new Float64Array(2 * this.#ends.length);
    ends.set(this.#ends);
    this.#ends = ends;
    const digests = new Uint32Array(2 * this.#endDigests.length);
    digests.set(this.#endDigests);
    this.#endDigests = digests;
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
    const total = this.#batchCount;
    const taken = Math.min(total, max);
    const checkpoints: Checkpoint[] = [];
    for (let k = 1; k <= taken; k += 1) {
      const index = Math.ceil((k * total) / taken) - 1;
      checkpoints.push({ position: this.#ends[index]!, digest: this.#endDigests[index]! });
    }
    return checkpoints;
  }
}
