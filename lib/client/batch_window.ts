/**
 * The batches an agency has sent and the server has not acknowledged yet,
 * by position: pure bookkeeping for the upload (agency_upload.ts), with no
 * I/O. Batches enter in upload order, so the window always covers positions
 * from {@link BatchWindow.confirmedBets} to {@link BatchWindow.sentBets}.
 */

import { digestAfter } from "../protocol/bet_digest.ts";
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
  #sentDigest: number;
  #storedBatches = 0;

  /**
   * @param resumedBets bets the server had stored when the upload started
   * @param resumedDigest their digest
   */
  constructor(resumedBets: number, resumedDigest: number) {
    this.#sentBets = resumedBets;
    this.#sentDigest = resumedDigest;
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

  /** Digest of the {@link confirmedBets} first bets. */
  get confirmedDigest(): number {
    const lowest = this.#lowest();
    return lowest === undefined ? this.#sentDigest : digestAfter(lowest.digestAfter, lowest.digest);
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
    this.#sentDigest = batch.digestAfter;
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
   * @returns the batches dropped (stored, though their ack was lost)
   * @throws {WindowError} when the stored count is below what was confirmed
   *   (the server lost acknowledged bets), beyond what was sent, off a batch
   *   boundary, or its digest is not this upload's
   */
  resumeAt(storedBets: number, storedDigest: number): EncodedBatch[] {
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
    for (const batch of dropped) this.#batches.delete(batch.first);
    if (storedDigest !== this.confirmedDigest) {
      throw new WindowError(
        `the server's ${storedBets} stored bets are not the ones this upload sent (digest differs)`,
      );
    }
    this.#storedBatches += dropped.length;
    return dropped;
  }
}
