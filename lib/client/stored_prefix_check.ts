/**
 * Checks that the bets a draw stores for an agency are the first rows of the
 * file its client uploads, as the client skips those rows: the digests the
 * helloAck carries (the whole stored range and checkpoints inside it) are
 * compared with the digests of the rows skipped, so neither the store nor
 * the file is read twice.
 */

import type { Checkpoint } from "../protocol/message_codec.ts";

/** Where the file and the stored bets part. */
export interface PrefixMismatch {
  /** The first position that may differ (0-based)… */
  from: number;
  /** …and the last one (the difference is in `from..to`). */
  to: number;
  reason: string;
}

/** Follows the skipped rows against the stored digests. */
export class StoredPrefixCheck {
  readonly #storedBets: number;
  readonly #checkpoints: readonly Checkpoint[];
  #next = 0;
  /** End of the last range that matched. */
  #matchedUpTo = 0;
  #mismatch: PrefixMismatch | undefined;

  /**
   * @param storedBets bets stored for the agency
   * @param storedDigest their digest
   * @param checkpoints digests of stored prefixes, ascending
   */
  constructor(storedBets: number, storedDigest: number, checkpoints: readonly Checkpoint[]) {
    this.#storedBets = storedBets;
    const last = checkpoints.at(-1);
    this.#checkpoints = last?.position === storedBets
      ? checkpoints
      : [...checkpoints, { position: storedBets, digest: storedDigest }];
  }

  /** Bets to skip. */
  get storedBets(): number {
    return this.#storedBets;
  }

  /** The mismatch found so far, if any. */
  get mismatch(): PrefixMismatch | undefined {
    return this.#mismatch;
  }

  /**
   * Takes the digest of the first `position` rows, after one more was skipped.
   * @returns the mismatch, once one is found
   */
  skipped(position: number, digest: number): PrefixMismatch | undefined {
    if (this.#mismatch !== undefined) return this.#mismatch;
    const checkpoint = this.#checkpoints[this.#next];
    if (checkpoint === undefined || checkpoint.position !== position) return undefined;
    this.#next += 1;
    if (checkpoint.digest === digest) {
      this.#matchedUpTo = position;
      return undefined;
    }
    this.#mismatch = {
      from: this.#matchedUpTo,
      to: position - 1,
      reason: `the file's rows ${
        this.#matchedUpTo + 1
      }..${position} (valid rows, 1-based) differ from the bets stored at those positions`,
    };
    return this.#mismatch;
  }

  /**
   * Called at the end of the file with the number of valid rows it had.
   * @returns the mismatch when the file is shorter than what is stored
   */
  ended(rows: number): PrefixMismatch | undefined {
    if (this.#mismatch !== undefined || rows >= this.#storedBets) return this.#mismatch;
    this.#mismatch = {
      from: rows,
      to: this.#storedBets - 1,
      reason: `the file has ${rows} valid rows but the draw stores ${this.#storedBets} bets`,
    };
    return this.#mismatch;
  }
}
