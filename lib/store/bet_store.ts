/**
 * The durable bet store: an append-only CSV of bets (the exercise's columns)
 * plus a commit journal (see store_journal.ts).
 *
 * One writer owns both files. Batches from every connection queue up
 * (store_queue.ts) and are written together (group commit, group_commit.ts):
 * bets appended, bets file fdatasync'ed, journal records appended, journal
 * fdatasync'ed, then every batch of the group is acknowledged. A batch is on
 * disk whole or not at all: on restore (store_restore.ts) the bets file is
 * cut back to the last committed batch.
 *
 * Batches are placed by position (agency_ledger.ts): one is queued only if it
 * starts where its agency's accepted bets end, so the writer never sees a
 * duplicate, and a failed write rolls every agency back to what is on disk.
 */

import type { Checkpoint } from "../protocol/message_codec.ts";
import { EMPTY_DIGEST } from "../protocol/bet_digest.ts";
import type { Placement } from "./agency_ledger.ts";
import {
  type Admission,
  type AppendResult,
  type LedgerWatcher,
  MisplacedBatchError,
  type OpenedLedger,
} from "./bet_ledger.ts";
import type { ReadProgress } from "./bets_file_reader.ts";
import { commitGroup, type CommitTarget } from "./group_commit.ts";
import { planGroup } from "./group_plan.ts";
import { STORE_QUEUE_BYTES_MAX, STORE_WRITE_STAGING_BYTES } from "../limits.ts";
import { openAppendFile, type StoreFileOpener } from "./store_file.ts";
import { type JournalState, ledgerOf } from "./store_journal.ts";
import type { StoreObserver } from "./store_observer.ts";
import { type StoreOperation, StoreQueue } from "./store_queue.ts";
import { type RestoredStore, type RestoreReport, restoreStore } from "./store_restore.ts";
import type { StoreRows } from "./store_rows.ts";
import type { WinnersAnswer, WinnersIndex } from "./winners_index.ts";

export type { AppendResult } from "./bet_ledger.ts";

/** The durable, exactly-once bet store. */
export class BetStore implements OpenedLedger {
  readonly #files: CommitTarget;
  readonly #state: JournalState;
  readonly #winners: WinnersIndex;
  readonly #queue: StoreQueue;
  #draining: Promise<void> | undefined;
  #closed = false;
  readonly #batchesPerSync = { syncs: 0, batches: 0 };

  private constructor(
    restored: RestoredStore,
    queueBytesMax: number,
    observer: StoreObserver | undefined,
  ) {
    const { betsFile, journalFile } = restored;
    const staging = new Uint8Array(STORE_WRITE_STAGING_BYTES);
    this.#files = { betsFile, journalFile, staging, observer };
    this.#state = restored.state;
    this.#winners = restored.winners;
    this.#queue = new StoreQueue(queueBytesMax);
  }

  /**
   * Opens (or creates) a store, restoring its state from disk and discarding
   * a partial write left by a crash.
   * @param betsPath path of the bets CSV; the journal sits beside it
   * @param openFile opens a file for appending (tests inject failures here)
   * @param onProgress told how far reading the bets file back has come
   * @param queueBytesMax rows waiting for the disk above which {@link room} makes appenders wait
   * @param observer told about each fdatasync (the server's metrics)
   * @throws {Error} when the files disagree in a way a crash cannot explain
   */
  static async open(
    betsPath: string,
    openFile: StoreFileOpener = openAppendFile,
    onProgress: ReadProgress = () => {},
    queueBytesMax = STORE_QUEUE_BYTES_MAX,
    observer?: StoreObserver,
  ): Promise<{ store: BetStore; report: RestoreReport }> {
    const restored = await restoreStore(betsPath, openFile, onProgress);
    return { store: new BetStore(restored, queueBytesMax, observer), report: restored.report };
  }

  /** Nothing to do: only this process writes the files (its sessions claim
   * agencies among themselves). */
  claim(_agency: number): Promise<void> {
    return Promise.resolve();
  }

  /** No other process shares the files: the watcher is never called. */
  watch(_watcher: LedgerWatcher): void {}

  /** Bets stored for an agency: the position its upload resumes at. */
  storedBets(agency: number): number {
    return this.#state.ledgers.get(agency)?.storedBets ?? 0;
  }

  /** Bets stored or queued for an agency: where its next batch must start. */
  acceptedBets(agency: number): number {
    return this.#state.ledgers.get(agency)?.acceptedBets ?? 0;
  }

  /** Digest (bet_digest.ts) of an agency's stored bets. */
  storedDigest(agency: number): number {
    return this.#state.ledgers.get(agency)?.storedDigest ?? EMPTY_DIGEST;
  }

  /** Digests of an agency's stored prefixes at batch ends, at most `max`. */
  checkpoints(agency: number, max: number): Checkpoint[] {
    return this.#state.ledgers.get(agency)?.checkpoints(max) ?? [];
  }

  /** Where a batch at `first` stands against the agency's stored and queued bets. */
  place(agency: number, first: number, rows: StoreRows): Placement {
    return ledgerOf(this.#state, agency).place(first, rows.count, rows.digest);
  }

  /** Agencies that finished, with the total each declared. */
  finishedAgencies(): ReadonlyMap<number, number> {
    return this.#state.finished;
  }

  /** The agency's winners answer: its winning bets' documents, in storage order. */
  winners(agency: number): WinnersAnswer {
    return this.#winners.answer(agency);
  }

  /** Bytes of rows appended and not yet stored or refused (the queue for the disk). */
  get queuedBytes(): number {
    return this.#queue.queuedBytes;
  }

  /** The files are open for the whole run: resolves unless the store is closed. */
  health(): Promise<void> {
    return this.#closed ? Promise.reject(new Error("store is closed")) : Promise.resolve();
  }

  /** Batches committed per fdatasync so far (group commit efficiency). */
  syncStats(): { syncs: number; batches: number } {
    return { ...this.#batchesPerSync };
  }

  /**
   * Stores a batch durably, once (see {@link BetLedger.append}). Resolves
   * after the batch is synced to disk. The rows are copied before this
   * returns.
   * @throws {MisplacedBatchError} (rejects) when the batch is misplaced
   * @throws {Error} (rejects) when the store is closed or the write fails
   *   (nothing of the batch is then stored), or `admit`'s error
   */
  append(
    agency: number,
    first: number,
    rows: StoreRows,
    admit?: Admission,
  ): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(new Error("store is closed"));
    const ledger = ledgerOf(this.#state, agency);
    const placement = ledger.place(first, rows.count, rows.digest);
    if (placement.kind === "duplicate") return Promise.resolve({ duplicate: true });
    if (placement.kind === "misplaced") {
      return Promise.reject(
        new MisplacedBatchError(agency, first, rows.count, placement.expected),
      );
    }
    const refusal = admit?.(agency);
    if (refusal !== undefined) return Promise.reject(refusal);
    ledger.accept(first, rows.count);
    const held = this.#queue.hold(rows.bytes);
    return this.#enqueue((resolve, reject) => ({
      kind: "batch",
      agency,
      first,
      rows: { ...rows, bytes: held },
      resolve,
      reject,
    })).finally(() => this.#queue.release(held));
  }

  /**
   * Backpressure for appenders: undefined while the rows waiting for the disk
   * are under the queue limit, else a promise resolved once they are.
   */
  room(): Promise<void> | undefined {
    return this.#queue.room();
  }

  /**
   * Records durably that an agency finished after `total` bets. A repeated
   * call for the same agency resolves as a duplicate.
   */
  markFinished(agency: number, total: number): Promise<AppendResult> {
    return this.#enqueue((resolve, reject) => ({
      kind: "finished",
      agency,
      total,
      resolve,
      reject,
    }));
  }

  #enqueue(
    make: (
      resolve: (result: AppendResult) => void,
      reject: (error: Error) => void,
    ) => StoreOperation,
  ): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(new Error("store is closed"));
    return new Promise((resolve, reject) => {
      this.#queue.push(make(resolve, reject));
      this.#draining ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) await this.#commit(this.#queue.takeGroup());
    this.#draining = undefined;
  }

  async #commit(group: StoreOperation[]): Promise<void> {
    const plan = planGroup(group, this.#state.betsFileBytes, this.#state.finished);
    try {
      await commitGroup(this.#files, this.#state, plan);
    } catch (error) {
      const failure = new Error(`store write failed: ${(error as Error).message}`);
      // Fail what is queued behind the group too, and roll every agency back
      // to its bets on disk: a later batch is then placed behind a gap, so it
      // can never be stored while an earlier one is not.
      for (const operation of [...group, ...this.#queue.takeAll()]) operation.reject(failure);
      for (const ledger of this.#state.ledgers.values()) ledger.rollback();
      return;
    }
    // A group of only repeated finishes wrote and synced nothing.
    if (plan.records.length > 0) this.#batchesPerSync.syncs += 1;
    this.#batchesPerSync.batches += plan.chunks.length;
    group.forEach((operation, index) => {
      if (operation.kind === "batch") this.#winners.add(operation.agency, operation.rows.winners);
      operation.resolve({ duplicate: plan.duplicate[index]! });
    });
  }

  /** Waits for queued writes, then closes both files. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#draining;
    this.#files.betsFile.close();
    this.#files.journalFile.close();
  }
}
