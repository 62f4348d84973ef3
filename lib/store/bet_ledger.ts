/**
 * The contract between the server and whatever keeps a draw's bets: what an
 * agency session reads and writes, and what the draw (lib/server/lottery.ts)
 * needs. BetStore keeps them in two local files for one process;
 * PostgresLedger keeps them in a database that several processes share, so
 * what one process reads of an agency is brought up to date when it claims
 * the agency, and other processes' draws and claims reach it as events.
 */

import type { Checkpoint } from "../protocol/message_codec.ts";
import type { StoreRows } from "./store_rows.ts";
import type { WinnersAnswer } from "./winners_index.ts";

/** What an append reports. */
export interface AppendResult {
  /** True when the same batch was already stored: nothing was written. */
  duplicate: boolean;
}

/**
 * Decides whether a batch placed next may still be stored.
 * @returns the error that refuses it, or undefined to store it
 */
export type Admission = (agency: number) => Error | undefined;

/** A batch that neither starts where the agency's accepted bets end nor
 * repeats a stored batch: a gap, an overlap or other bets at a position. */
export class MisplacedBatchError extends RangeError {
  /** Position the agency's next batch must start at. */
  readonly expected: number;

  constructor(
    readonly agency: number,
    readonly first: number,
    readonly count: number,
    expected: number,
  ) {
    super(`batch of agency ${agency} at ${first} is misplaced: ${expected} expected`);
    this.name = "MisplacedBatchError";
    this.expected = expected;
  }
}

/** What other processes on the same store did; the file store, which no
 * other process shares, never calls it. */
export interface LedgerWatcher {
  /** Finishes recorded elsewhere changed {@link BetLedger.finishedAgencies}. */
  finishesChanged?(): void;
  /** Another process claimed the agency: this one must store nothing more for it. */
  claimedElsewhere?(agency: number): void;
}

/** One draw's bets, by agency and position in each agency's upload. */
export interface BetLedger {
  /**
   * Makes this process the agency's uploader at the store and brings what it
   * reads of the agency up to date; called at each hello, once this
   * process's older connections of the agency are fenced and settled. In a
   * store several processes share, the agency's batches and finish pending
   * in another process are then committed or refused, and that process
   * refuses the later ones with `superseded` (see {@link LedgerWatcher}).
   * @throws {Error} (rejects) when the store cannot be reached
   */
  claim(agency: number): Promise<void>;

  /** Registers a watcher of other processes' draws and claims. */
  watch(watcher: LedgerWatcher): void;

  /**
   * Backpressure: undefined while the ledger takes more batches at once,
   * else a promise resolved once it does. Appending without waiting for it
   * is allowed, only slower for everyone.
   */
  room(): Promise<void> | undefined;

  /** Bets of the agency that are durable: the position its upload resumes at. */
  storedBets(agency: number): number;

  /** Bets durable or queued for the agency: the position its next batch must start at. */
  acceptedBets(agency: number): number;

  /** Digest (bet_digest.ts) of the agency's durable bets, in position order. */
  storedDigest(agency: number): number;

  /**
   * Digests of the agency's durable prefixes at batch ends, at most `max`,
   * spread evenly and ending with the whole durable range.
   */
  checkpoints(agency: number, max: number): Checkpoint[];

  /**
   * Stores a batch by position, exactly once. A batch that starts where the
   * agency's accepted bets end is asked to `admit`, then queued; the promise
   * resolves only once it is durable (an ack sent on it survives a crash).
   * The same batch again (same first position, count and digest) resolves
   * at once as a duplicate, whatever `admit` says. `rows.bytes` may be
   * reused as soon as this returns.
   * @param admit refuses a batch placed next; absent: every one is stored
   * @throws {MisplacedBatchError} (rejects) when the batch is neither next nor a duplicate
   * @throws (rejects) `admit`'s error; an Error when the write fails: nothing
   *   of the batch is then stored, and the batches accepted behind it fail too
   */
  append(agency: number, first: number, rows: StoreRows, admit?: Admission): Promise<AppendResult>;

  /**
   * Records durably that the agency finished after `total` bets; a repeat
   * resolves as a duplicate. The draw is made from these records, once, when
   * every agency has one: a record is never lost nor changed, so the draw
   * cannot happen twice nor be undone.
   */
  markFinished(agency: number, total: number): Promise<AppendResult>;

  /** Agencies whose finish is durable, with the total each declared. A
   * shared store lists every agency once the draw's set is complete, and
   * only then answers {@link winners} for all of them. */
  finishedAgencies(): ReadonlyMap<number, number>;

  /** The agency's winning bets' documents, in storage order (asked after the draw). */
  winners(agency: number): WinnersAnswer;
}

/** A ledger as the central holds it: opened, observed, closed. */
export interface OpenedLedger extends BetLedger {
  /** Bytes of rows appended and not yet stored or refused. */
  readonly queuedBytes: number;
  /**
   * Resolves when the store can take writes now; rejects saying why not
   * (the admin port's /readyz asks it).
   */
  health(): Promise<void>;
  /** Batches committed per durable write so far (group commit efficiency). */
  syncStats(): { syncs: number; batches: number };
  /** Waits for queued writes, then closes. Safe to call twice. */
  close(): Promise<void>;
}
