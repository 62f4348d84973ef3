/**
 * The batches an agency has sent and the server has not acknowledged yet,
 * by position: pure bookkeeping for the upload (agency_upload.ts), with no
 * I/O. Batches enter in upload order, so the window always covers positions
 * from {@link BatchWindow.confirmedBets} to {@link BatchWindow.sentBets}.
 */

import type { EncodedBatch } from "./batch_builder.ts";

/** A server answer that cannot be true of this upload. */
export class WindowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WindowError";
  }
}

/** In-flight batches of one upload. */
export class BatchWindow {
  /** Unacknowledged batches by first position, in position order. */
  readonly #batches = new Map<number, EncodedBatch>();
  #sentBets: number;
  #storedBatches = 0;

  /** @param resumedBets bets the server had stored when the upload started */
  constructor(resumedBets: number) {
    this.#sentBets = resumedBets;
  }

  /** Unacknowledged batches. */
  get size(): number {
    return this.#batches.size;
  }

  /** Batches taken out of the window as stored: acknowledged, or below a
   * resume's stored count. */
  get storedBatches(): number {
    return this.#storedBatches;
  }

  /** End position of the last batch sent. */
  get sentBets(): number {
    return this.#sentBets;
  }

  /** Bets before the first unacknowledged one: all stored by the server. */
  get confirmedBets(): number {
    return this.#lowest()?.first ?? this.#sentBets;
  }

  #lowest(): EncodedBatch | undefined {
    for (const batch of this.#batches.values()) return batch;
    return undefined;
  }

  /**
   * Adds the next batch.
   * @throws {RangeError} when it does not start where the last one ended (a bug)
   */
  add(batch: EncodedBatch): void {
    if (batch.first !== this.#sentBets) {
      throw new RangeError(`batch at ${batch.first} added after ${this.#sentBets} bets`);
    }
    this.#batches.set(batch.first, batch);
    this.#sentBets += batch.count;
  }

  /** The unacknowledged batches, in position order. */
  unacknowledged(): EncodedBatch[] {
    return [...this.#batches.values()];
  }

  /**
   * Takes an acknowledged batch out of the window.
   * @returns the batch, or undefined when no batch in flight starts at `first`
   * @throws {WindowError} when the ack's count differs from the batch's
   */
  acknowledge(first: number, count: number): EncodedBatch | undefined {
    const batch = this.#batches.get(first);
    if (batch === undefined) return undefined;
    if (batch.count !== count) {
      throw new WindowError(`ack of ${count} bets at ${first} for a batch of ${batch.count}`);
    }
    this.#batches.delete(first);
    this.#storedBatches += 1;
    return batch;
  }

  /**
   * Applies what a new connection's helloAck says is stored: drops every
   * batch below it, so only the rest is resent.
   * @param storedDigest the digest the server reports for its stored bets
   * @param sentDigest the digest of this upload's first `storedBets` bets
   *   (file_prefix_digest.ts), taken once `storedBets` passed {@link resumeCount}
   * @returns the batches dropped (stored, though their ack was lost)
   * @throws {WindowError} when the stored count is below what was confirmed
   *   (the server lost acknowledged bets), beyond what was sent, off a batch
   *   boundary, or its digest is not this upload's
   */
  resumeAt(storedBets: number, storedDigest: number, sentDigest: number): EncodedBatch[] {
    const dropped = this.resumeCount(storedBets);
    if (storedDigest !== sentDigest) {
      throw new WindowError(
        `the server's ${storedBets} stored bets are not the ones this upload sent (digest differs)`,
      );
    }
    for (const batch of dropped) this.#batches.delete(batch.first);
    this.#storedBatches += dropped.length;
    return dropped;
  }

  /**
   * Checks the count a helloAck says is stored, changing nothing: a resume
   * reads the file's first rows for their digest only after this passed.
   * @returns the batches a resume at `storedBets` drops
   * @throws {WindowError} as {@link resumeAt} does for the count
   */
  resumeCount(storedBets: number): EncodedBatch[] {
    const confirmed = this.confirmedBets;
    if (storedBets < confirmed) {
      throw new WindowError(
        `the server reports ${storedBets} bets stored but had confirmed ${confirmed}`,
      );
    }
    if (storedBets > this.#sentBets) {
      throw new WindowError(
        `the server reports ${storedBets} bets stored but this upload sent ${this.#sentBets}`,
      );
    }
    const dropped: EncodedBatch[] = [];
    for (const batch of this.#batches.values()) {
      if (batch.first >= storedBets) break;
      if (batch.first + batch.count > storedBets) {
        throw new WindowError(
          `the server reports ${storedBets} bets stored, inside the batch at ${batch.first}`,
        );
      }
      dropped.push(batch);
    }
    return dropped;
  }
}
