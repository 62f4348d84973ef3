/**
 * The durable bet store: an append-only CSV of bets (the exercise's columns)
 * plus a commit journal (see store_journal.ts).
 *
 * One writer owns both files. Batches from every connection queue up and are
 * written together (group commit): bets appended, bets file fdatasync'ed,
 * journal records appended, journal fdatasync'ed, then every batch of the
 * group is acknowledged. A batch is on disk whole or not at all: on restore
 * the bets file is cut back to the last committed batch.
 *
 * Batches are placed by position (agency_ledger.ts): one is queued only if it
 * starts where its agency's accepted bets end, so the writer never sees a
 * duplicate, and a failed write rolls every agency back to what is on disk.
 */

import { type AgencyRow, AgencyRowScanner, betOfRow } from "../bet/agency_row_scanner.ts";
import { type Bet, WINNER_NUMBER } from "../bet/bet.ts";
import type { Checkpoint } from "../protocol/message_codec.ts";
import { EMPTY_DIGEST } from "../protocol/bet_digest.ts";
import type { Placement } from "./agency_ledger.ts";
import {
  type Admission,
  type AppendResult,
  type BetLedger,
  MisplacedBatchError,
} from "./bet_ledger.ts";
import { planGroup } from "./group_plan.ts";
import { dateNumber } from "../bet/bet_bytes.ts";
import {
  GROUP_COMMIT_BATCHES_MAX,
  GROUP_COMMIT_BYTES_MAX,
  STORE_QUEUE_BYTES_MAX,
  STORE_WRITE_STAGING_BYTES,
} from "../limits.ts";
import {
  applyJournalRecord,
  formatJournalRecord,
  type JournalRecord,
  type JournalState,
  ledgerOf,
  replayJournal,
} from "./store_journal.ts";
import { writeAll, writeChunks } from "../runtime/write_all.ts";
import { RowRing } from "./row_ring.ts";
import type { StoreRows } from "./store_rows.ts";
import type { StoreObserver } from "./store_observer.ts";
import { type WinnersAnswer, WinnersIndex } from "./winners_index.ts";

export type { AppendResult } from "./bet_ledger.ts";

/** What opening a store found on disk. */
export interface RestoreReport {
  bets: number;
  batches: number;
  agenciesFinished: number;
  /** Bytes cut from the end of the bets file (a crash's partial batch). */
  discardedBetsBytes: number;
  /** Bytes cut from the end of the journal (a crash's partial record). */
  discardedJournalBytes: number;
}

/** The files a store writes; tests substitute failing ones. */
export interface StoreFile {
  write(bytes: Uint8Array): Promise<number>;
  syncData(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): void;
}

/** Opens a store file for appending; tests pass their own. */
export type StoreFileOpener = (path: string) => Promise<StoreFile>;

/** Opens a file for appending with owner-only permissions. */
export const openAppendFile: StoreFileOpener = (path) =>
  Deno.open(path, { append: true, create: true, read: true, mode: 0o600 });

type _Operation =
  | {
    kind: "batch";
    agency: number;
    first: number;
    rows: StoreRows;
    resolve: (result: AppendResult) => void;
    reject: (error: Error) => void;
  }
  | {
    kind: "finished";
    agency: number;
    total: number;
    resolve: (result: AppendResult) => void;
    reject: (error: Error) => void;
  };

const _encoder = new TextEncoder();

/** Path of the journal that belongs to a bets file. */
export function journalPathFor(betsPath: string): string {
  return `${betsPath}.journal`;
}

/** Bytes read from a bets file at a time when it is read back. */
const _READ_CHUNK_BYTES = 256 * 1024;

/** Reports how far reading a bets file back has come. */
export type ReadProgress = (bytesRead: number, bytesTotal: number) => void;

/**
 * Reads a bets file back on bytes, checking every row with the same rules as
 * the hot paths (AgencyRowScanner in store mode). Yields once per chunk read,
 * after `onRow` saw that chunk's rows, so callers consume as it goes.
 * @throws {SyntaxError} naming the file and line of the first invalid row
 */
async function* _scanStoreFile(
  path: string,
  onRow: (row: AgencyRow) => void,
  onProgress: ReadProgress,
): AsyncGenerator<void> {
  using file = await Deno.open(path, { read: true });
  const bytesTotal = (await file.stat()).size;
  const scanner = new AgencyRowScanner(dateNumber(new Date()), onRow, (skipped) => {
    throw new SyntaxError(`${path} line ${skipped.lineNumber}: ${skipped.reason}`);
  }, true);
  const chunk = new Uint8Array(_READ_CHUNK_BYTES);
  let bytesRead = 0;
  while (true) {
    const count = await file.read(chunk);
    if (count === null) break;
    bytesRead += count;
    scanner.push(chunk.subarray(0, count));
    onProgress(bytesRead, bytesTotal);
    yield;
  }
  scanner.end();
  yield;
}

/**
 * Streams the bets of a bets file, validating each row as it is read back.
 * @param path a bets file written by the store
 * @throws {SyntaxError} naming the line when a row is not a valid bet
 */
export async function* loadBets(path: string): AsyncGenerator<Bet> {
  const bets: Bet[] = [];
  const onRow = (row: AgencyRow) => bets.push(betOfRow(row));
  for await (const _ of _scanStoreFile(path, onRow, () => {})) yield* bets.splice(0);
}

async function _fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
}

/** The durable, exactly-once bet store. */
export class BetStore implements BetLedger {
  readonly #betsFile: StoreFile;
  readonly #journalFile: StoreFile;
  readonly #state: JournalState;
  readonly #winners: WinnersIndex;
  #queue: _Operation[] = [];
  #draining: Promise<void> | undefined;
  #closed = false;
  #batchesPerSync = { syncs: 0, batches: 0 };
  /** Gathers a group's rows into few writes (groups are written one at a time). */
  readonly #staging = new Uint8Array(STORE_WRITE_STAGING_BYTES);
  /** Holds the rows of queued batches: appended rows are copied in. */
  readonly #rows: RowRing;
  readonly #queueBytesMax: number;
  /** Bytes of the rows appended and not yet stored or refused. */
  #queuedBytes = 0;
  /** Resolved when the queued rows fall under #queueBytesMax. */
  #room: PromiseWithResolvers<void> | undefined;
  /** Told how long each fdatasync took (metrics); undefined: nobody asks. */
  readonly #observer: StoreObserver | undefined;

  private constructor(
    betsFile: StoreFile,
    journalFile: StoreFile,
    state: JournalState,
    winners: WinnersIndex,
    queueBytesMax: number,
    observer: StoreObserver | undefined,
  ) {
    this.#observer = observer;
    this.#queueBytesMax = queueBytesMax;
    this.#rows = new RowRing(queueBytesMax);
    this.#betsFile = betsFile;
    this.#journalFile = journalFile;
    this.#state = state;
    this.#winners = winners;
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
    const journalPath = journalPathFor(betsPath);
    const slash = betsPath.lastIndexOf("/");
    if (slash > 0) {
      await Deno.mkdir(betsPath.slice(0, slash), { recursive: true });
    }

    const journalText = await Deno.readTextFile(journalPath).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return "";
      throw error;
    });
    const state = replayJournal(journalText);
    const discardedJournalBytes = journalText.length - state.journalBytes;
    const betsBytes = await _fileSize(betsPath);
    if (betsBytes < state.betsFileBytes) {
      throw new Error(
        `${betsPath} has ${betsBytes} bytes but its journal commits ${state.betsFileBytes}: the bets file was cut or replaced`,
      );
    }
    // Closes the files if anything below throws; moved out on success.
    using cleanup = new DisposableStack();
    const betsFile = await openFile(betsPath);
    cleanup.defer(() => betsFile.close());
    const journalFile = await openFile(journalPath);
    cleanup.defer(() => journalFile.close());
    await betsFile.truncate(state.betsFileBytes);
    await journalFile.truncate(state.journalBytes);

    const winners = new WinnersIndex();
    const counted = new Map<number, number>();
    let bets = 0;
    if (state.betsFileBytes > 0) {
      const onRow = (row: AgencyRow) => {
        bets += 1;
        counted.set(row.agency, (counted.get(row.agency) ?? 0) + 1);
        if (row.number === WINNER_NUMBER) {
          winners.addDocument(row.agency, row.bytes, row.starts[2]!, row.ends[2]!);
        }
      };
      for await (const _ of _scanStoreFile(betsPath, onRow, onProgress)) { /* consume */ }
    }
    for (const [agency, ledger] of state.ledgers) {
      if ((counted.get(agency) ?? 0) !== ledger.storedBets) {
        throw new Error(
          `${betsPath} holds ${
            counted.get(agency) ?? 0
          } bets of agency ${agency} but its journal commits ${ledger.storedBets}`,
        );
      }
    }
    cleanup.move();
    return {
      store: new BetStore(betsFile, journalFile, state, winners, queueBytesMax, observer),
      report: {
        bets,
        batches: state.batches,
        agenciesFinished: state.finished.size,
        discardedBetsBytes: betsBytes - state.betsFileBytes,
        discardedJournalBytes,
      },
    };
  }

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
    return this.#queuedBytes;
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
    const bytes = rows.bytes.length;
    this.#queuedBytes += bytes;
    const held = this.#rows.copyIn(rows.bytes);
    return this.#enqueue((resolve, reject) => ({
      kind: "batch",
      agency,
      first,
      rows: { ...rows, bytes: held },
      resolve,
      reject,
    })).finally(() => {
      this.#rows.release(held);
      this.#release(bytes);
    });
  }

  /**
   * Backpressure for appenders: undefined while the rows waiting for the disk
   * are under the queue limit, else a promise resolved once they are.
   */
  room(): Promise<void> | undefined {
    if (this.#queuedBytes < this.#queueBytesMax) return undefined;
    this.#room ??= Promise.withResolvers();
    return this.#room.promise;
  }

  #release(bytes: number): void {
    this.#queuedBytes -= bytes;
    if (this.#room !== undefined && this.#queuedBytes < this.#queueBytesMax) {
      this.#room.resolve();
      this.#room = undefined;
    }
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
    ) => _Operation,
  ): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(new Error("store is closed"));
    return new Promise((resolve, reject) => {
      this.#queue.push(make(resolve, reject));
      this.#draining ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) await this.#commit(this.#takeGroup());
    this.#draining = undefined;
  }

  #takeGroup(): _Operation[] {
    let bytes = 0;
    let count = 0;
    while (
      count < this.#queue.length && count < GROUP_COMMIT_BATCHES_MAX &&
      bytes < GROUP_COMMIT_BYTES_MAX
    ) {
      const operation = this.#queue[count]!;
      if (operation.kind === "batch") bytes += operation.rows.bytes.length;
      count += 1;
    }
    return this.#queue.splice(0, count);
  }

  async #commit(group: _Operation[]): Promise<void> {
    const plan = planGroup(group, this.#state.betsFileBytes, this.#state.finished);
    try {
      await this.#write(plan.chunks, plan.records);
    } catch (error) {
      const failure = new Error(`store write failed: ${(error as Error).message}`);
      // Fail what is queued behind the group too, and roll every agency back
      // to its bets on disk: a later batch is then placed behind a gap, so it
      // can never be stored while an earlier one is not.
      for (const operation of [...group, ...this.#queue.splice(0)]) operation.reject(failure);
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

  /** Writes a group; on failure cuts both files back to their committed size. */
  async #write(chunks: Uint8Array[], records: JournalRecord[]): Promise<void> {
    if (records.length === 0) return;
    const betsBefore = this.#state.betsFileBytes;
    const journalBefore = this.#state.journalBytes;
    const journal = _encoder.encode(records.map(formatJournalRecord).join(""));
    try {
      if (chunks.length > 0) {
        await writeChunks(this.#betsFile, chunks, this.#staging);
        const betsSyncStarted = performance.now();
        await this.#betsFile.syncData();
        this.#observer?.synced("bets", (performance.now() - betsSyncStarted) / 1000);
      }
      await writeAll(this.#journalFile, journal);
      const journalSyncStarted = performance.now();
      await this.#journalFile.syncData();
      this.#observer?.synced("journal", (performance.now() - journalSyncStarted) / 1000);
    } catch (error) {
      await this.#betsFile.truncate(betsBefore).catch(() => {});
      await this.#journalFile.truncate(journalBefore).catch(() => {});
      throw error;
    }
    for (const record of records) applyJournalRecord(this.#state, record);
    this.#state.journalBytes += journal.length;
  }

  /** Waits for queued writes, then closes both files. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#draining;
    this.#betsFile.close();
    this.#journalFile.close();
  }
}
