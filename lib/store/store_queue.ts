/**
 * The store's queue for the disk: operations waiting for the single writer,
 * taken a group at a time, and the rows of queued batches (held in a
 * RowRing) counted against a byte limit that holds appenders back.
 */

import { GROUP_COMMIT_BATCHES_MAX, GROUP_COMMIT_BYTES_MAX } from "../limits.ts";
import type { AppendResult } from "./bet_ledger.ts";
import type { PlannedOperation } from "./group_plan.ts";
import { RowRing } from "./row_ring.ts";

/** A queued batch or finished mark, with the promise its caller awaits. */
export type StoreOperation = PlannedOperation & {
  resolve: (result: AppendResult) => void;
  reject: (error: Error) => void;
};

/** Pending operations and the rows they hold, with backpressure. */
export class StoreQueue {
  readonly #operations: StoreOperation[] = [];
  /** Holds the rows of queued batches: appended rows are copied in. */
  readonly #rows: RowRing;
  readonly #queueBytesMax: number;
  readonly #groupBatchesMax: number;
  readonly #groupBytesMax: number;
  /** Bytes of rows held and not yet given back. */
  #queuedBytes = 0;
  /** Resolved when the held rows fall under #queueBytesMax. */
  #room: PromiseWithResolvers<void> | undefined;

  /**
   * @param queueBytesMax rows held above which {@link room} makes appenders wait
   * @param groupBatchesMax operations {@link takeGroup} takes at most
   * @param groupBytesMax rows {@link takeGroup} stops adding batches at
   */
  constructor(
    queueBytesMax: number,
    groupBatchesMax = GROUP_COMMIT_BATCHES_MAX,
    groupBytesMax = GROUP_COMMIT_BYTES_MAX,
  ) {
    this.#queueBytesMax = queueBytesMax;
    this.#rows = new RowRing(queueBytesMax);
    this.#groupBatchesMax = groupBatchesMax;
    this.#groupBytesMax = groupBytesMax;
  }

  /** Bytes of rows held and not yet given back (stored or refused). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Operations waiting for the writer. */
  get length(): number {
    return this.#operations.length;
  }

  /**
   * Copies a batch's rows in and counts them queued until {@link release}.
   * @returns the copy, which the queued operation holds
   */
  hold(rows: Uint8Array): Uint8Array {
    this.#queuedBytes += rows.length;
    return this.#rows.copyIn(rows);
  }

  /** Gives back rows from {@link hold} (stored or refused) and frees waiting appenders. */
  release(held: Uint8Array): void {
    this.#rows.release(held);
    this.#queuedBytes -= held.length;
    if (this.#room !== undefined && this.#queuedBytes < this.#queueBytesMax) {
      this.#room.resolve();
      this.#room = undefined;
    }
  }

  /**
   * Backpressure for appenders: undefined while the rows held are under the
   * queue limit, else a promise resolved once they are.
   */
  room(): Promise<void> | undefined {
    if (this.#queuedBytes < this.#queueBytesMax) return undefined;
    this.#room ??= Promise.withResolvers();
    return this.#room.promise;
  }

  /** Queues an operation behind the others. */
  push(operation: StoreOperation): void {
    this.#operations.push(operation);
  }

  /**
   * Takes the oldest operations for one group commit: at most
   * groupBatchesMax, and no batch once groupBytesMax of rows are taken.
   */
  takeGroup(): StoreOperation[] {
    let bytes = 0;
    let count = 0;
    while (
      count < this.#operations.length && count < this.#groupBatchesMax &&
      bytes < this.#groupBytesMax
    ) {
      const operation = this.#operations[count]!;
      if (operation.kind === "batch") bytes += operation.rows.bytes.length;
      count += 1;
    }
    return this.#operations.splice(0, count);
  }

  /** Takes every queued operation (a failed write fails them all). */
  takeAll(): StoreOperation[] {
    return this.#operations.splice(0);
  }
}
