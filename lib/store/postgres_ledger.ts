/**
 * The bet ledger in PostgreSQL (schema in pg_schema.ts), which several
 * server processes (replicas) of one draw share.
 *
 * Each process keeps in memory what it reads synchronously: the agencies it
 * claimed (read afresh from the database at each claim), the finishes it
 * knows, and, once the draw's finishes are complete, every agency's winners.
 * Batches and finishes queue up as in the file store and are written many
 * per transaction (pg_group_commit.ts); each is acknowledged only after its
 * transaction commits. Other processes' claims and draws arrive as
 * notifications, and the draw is also polled for (a lost connection misses
 * notifications).
 */

import type { Checkpoint } from "../protocol/message_codec.ts";
import { EMPTY_DIGEST } from "../protocol/bet_digest.ts";
import { ErrorCode, ProtocolError } from "../protocol/protocol.ts";
import { PG_DRAW_POLL_MS, STORE_QUEUE_BYTES_MAX } from "../limits.ts";
import { AgencyLedger } from "./agency_ledger.ts";
import {
  type Admission,
  type AppendResult,
  type LedgerWatcher,
  MisplacedBatchError,
  type OpenedLedger,
} from "./bet_ledger.ts";
import type { Sql } from "./pg_client.ts";
import { parseClaimNotice, PG_CLAIMS_CHANNEL, PG_DRAWS_CHANNEL } from "./pg_channels.ts";
import { commitPgGroup } from "./pg_group_commit.ts";
import { type NoticeHandler, PgListener } from "./pg_listener.ts";
import { claimAgency, readDrawState } from "./pg_reads.ts";
import { type StoreOperation, StoreQueue } from "./store_queue.ts";
import type { StoreRows } from "./store_rows.ts";
import { type WinnersAnswer, WinnersIndex } from "./winners_index.ts";

/** What one process knows of the draw. */
interface _Known {
  /** Claimed agencies' batches (and, stale, agencies claimed before). */
  ledgers: Map<number, AgencyLedger>;
  /** This process's claim epoch per agency. */
  epochs: Map<number, number>;
  /** Finishes known durable. */
  finished: Map<number, number>;
  /** Agencies whose last transaction's outcome is unknown: refused until claimed again. */
  unsure: Set<number>;
  /** Agencies this process is claiming now (their own notices are not news). */
  claiming: Set<number>;
}

/** Bets of a draw in PostgreSQL, shared by every replica of the central. */
export class PostgresLedger implements OpenedLedger {
  readonly #sql: Sql;
  readonly #drawId: string;
  readonly #agencies: number;
  readonly #queue: StoreQueue;
  readonly #known: _Known = {
    ledgers: new Map(),
    epochs: new Map(),
    finished: new Map(),
    unsure: new Set(),
    claiming: new Set(),
  };
  readonly #watchers: LedgerWatcher[] = [];
  readonly #stats = { syncs: 0, batches: 0 };
  /** Every agency's winners, read once the finishes are complete. */
  #winners: WinnersIndex | undefined;
  #draining: Promise<void> | undefined;
  #closed = false;
  #drawPoll: ReturnType<typeof setInterval> | undefined;
  #drawRead: Promise<void> | undefined;
  #listener: PgListener | undefined;

  /**
   * Use {@link openPostgresLedger} (pg_open.ts), which prepares the database.
   * @param finishes the draw's finishes as read at open
   * @param winners every agency's winners, when the finishes are complete
   */
  constructor(
    sql: Sql,
    drawId: string,
    agencies: number,
    finishes: Map<number, number>,
    winners: WinnersIndex | undefined,
    queueBytesMax = STORE_QUEUE_BYTES_MAX,
  ) {
    this.#sql = sql;
    this.#drawId = drawId;
    this.#agencies = agencies;
    this.#queue = new StoreQueue(queueBytesMax);
    this.#known.finished = finishes;
    this.#winners = winners;
  }

  /** Starts hearing other replicas' claims and draws, on a connection to `url` of its own. */
  async listen(url: string): Promise<void> {
    const handlers = new Map<string, NoticeHandler>([
      [PG_CLAIMS_CHANNEL, (payload) => this.#heardClaim(payload)],
    ]);
    if (this.#winners === undefined) {
      handlers.set(PG_DRAWS_CHANNEL, (payload) => {
        if (payload === this.#drawId) this.#refreshDraw(true);
      });
    }
    this.#listener = await PgListener.open(url, handlers);
    if (this.#winners !== undefined) return;
    const poll = setInterval(() => this.#refreshDraw(true), PG_DRAW_POLL_MS);
    Deno.unrefTimer(Number(poll));
    this.#drawPoll = poll;
  }

  watch(watcher: LedgerWatcher): void {
    this.#watchers.push(watcher);
  }

  async claim(agency: number): Promise<void> {
    const known = this.#known;
    known.claiming.add(agency);
    try {
      const claimed = await claimAgency(this.#sql, this.#drawId, agency);
      if (claimed.epoch <= (known.epochs.get(agency) ?? 0)) return;
      known.epochs.set(agency, claimed.epoch);
      known.ledgers.set(agency, claimed.ledger);
      known.unsure.delete(agency);
      if (claimed.finishedTotal !== undefined) {
        await this.#addFinishes(new Map([[agency, claimed.finishedTotal]]), true);
      }
      if (claimed.drawn && this.#winners === undefined) await this.#refreshDraw(true);
    } finally {
      known.claiming.delete(agency);
    }
  }

  room(): Promise<void> | undefined {
    return this.#queue.room();
  }

  storedBets(agency: number): number {
    return this.#known.ledgers.get(agency)?.storedBets ?? 0;
  }

  acceptedBets(agency: number): number {
    return this.#known.ledgers.get(agency)?.acceptedBets ?? 0;
  }

  storedDigest(agency: number): number {
    return this.#known.ledgers.get(agency)?.storedDigest ?? EMPTY_DIGEST;
  }

  checkpoints(agency: number, max: number): Checkpoint[] {
    return this.#known.ledgers.get(agency)?.checkpoints(max) ?? [];
  }

  finishedAgencies(): ReadonlyMap<number, number> {
    return this.#known.finished;
  }

  winners(agency: number): WinnersAnswer {
    return (this.#winners ?? _NO_WINNERS_YET).answer(agency);
  }

  get queuedBytes(): number {
    return this.#queue.queuedBytes;
  }

  syncStats(): { syncs: number; batches: number } {
    return { ...this.#stats };
  }

  append(agency: number, first: number, rows: StoreRows, admit?: Admission): Promise<AppendResult> {
    const unusable = this.#unusable(agency);
    if (unusable !== undefined) return Promise.reject(unusable);
    let ledger = this.#known.ledgers.get(agency);
    if (ledger === undefined) this.#known.ledgers.set(agency, ledger = new AgencyLedger());
    const placement = ledger.place(first, rows.count, rows.digest);
    if (placement.kind === "duplicate") return Promise.resolve({ duplicate: true });
    if (placement.kind === "misplaced") {
      return Promise.reject(new MisplacedBatchError(agency, first, rows.count, placement.expected));
    }
    const refusal = admit?.(agency);
    if (refusal !== undefined) return Promise.reject(refusal);
    ledger.accept(first, rows.count);
    const held = this.#queue.hold(rows.bytes);
    return this.#enqueue({ kind: "batch", agency, first, rows: { ...rows, bytes: held } })
      .finally(() => this.#queue.release(held));
  }

  markFinished(agency: number, total: number): Promise<AppendResult> {
    if (this.#known.finished.has(agency)) return Promise.resolve({ duplicate: true });
    const unusable = this.#unusable(agency);
    if (unusable !== undefined) return Promise.reject(unusable);
    return this.#enqueue({ kind: "finished", agency, total });
  }

  /** Why nothing can be written for the agency now, if so. */
  #unusable(agency: number): Error | undefined {
    if (this.#closed) return new Error("store is closed");
    if (this.#known.unsure.has(agency)) {
      return new ProtocolError(
        ErrorCode.storeFailed,
        `the database's answer for agency ${agency} was lost: reconnect to read what is stored`,
      );
    }
    return undefined;
  }

  #enqueue(
    operation: { kind: "batch"; agency: number; first: number; rows: StoreRows } | {
      kind: "finished";
      agency: number;
      total: number;
    },
  ): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ ...operation, resolve, reject });
      this.#draining ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) await this.#commit(this.#queue.takeGroup());
    this.#draining = undefined;
  }

  async #commit(group: StoreOperation[]): Promise<void> {
    const known = this.#known;
    let outcome;
    try {
      outcome = await commitPgGroup(this.#sql, this.#drawId, this.#agencies, group, known.epochs);
    } catch (error) {
      const failure = new Error(`store write failed: ${(error as Error).message}`);
      // The commit may have happened: the group's agencies are read afresh
      // at their next claim; what queued behind is refused, as in the file store.
      for (const operation of group) known.unsure.add(operation.agency);
      for (const operation of [...group, ...this.#queue.takeAll()]) operation.reject(failure);
      for (const ledger of known.ledgers.values()) ledger.rollback();
      return;
    }
    this.#stats.syncs += 1;
    if (outcome.finishes !== undefined) await this.#addFinishes(outcome.finishes, false);
    group.forEach((operation, index) => {
      if (outcome.fenced.has(operation.agency)) {
        known.ledgers.get(operation.agency)?.rollback();
        operation.reject(_superseded(operation.agency));
        return;
      }
      if (operation.kind === "batch") {
        known.ledgers.get(operation.agency)!.commit(
          operation.first,
          operation.rows.count,
          operation.rows.digest,
        );
        this.#stats.batches += 1;
      }
      operation.resolve({ duplicate: outcome.duplicate[index]! });
    });
  }

  /**
   * Adds durable finishes. The set only becomes complete together with
   * every agency's winners, read from the database first.
   * @param elsewhere the finishes were read, not written by this process:
   *   when they complete the set, another process recorded the last one
   *   and made the draw (the watchers are told)
   */
  async #addFinishes(finishes: ReadonlyMap<number, number>, elsewhere: boolean): Promise<void> {
    const union = new Map([...this.#known.finished, ...finishes]);
    if (union.size >= this.#agencies && this.#winners === undefined) {
      await this.#refreshDraw(elsewhere);
      return;
    }
    this.#known.finished = union;
  }

  /**
   * Reads the draw's finishes; once complete, every winner.
   * @param elsewhere the draw may have been made by another process: tell the watchers
   */
  #refreshDraw(elsewhere: boolean): Promise<void> {
    if (this.#winners !== undefined || this.#closed) return Promise.resolve();
    return this.#drawRead ??= readDrawState(this.#sql, this.#drawId, this.#agencies)
      .then(({ finishes, winners }) => {
        if (winners === undefined) return;
        this.#winners = winners;
        this.#known.finished = finishes;
        clearInterval(this.#drawPoll);
        if (!elsewhere) return;
        for (const watcher of this.#watchers) watcher.finishesChanged?.();
      })
      .catch(() => {}) // The poll asks again.
      .finally(() => this.#drawRead = undefined);
  }

  #heardClaim(payload: string): void {
    const notice = parseClaimNotice(payload);
    if (notice === undefined || notice.drawId !== this.#drawId) return;
    const { agency, epoch } = notice;
    const known = this.#known;
    if (known.claiming.has(agency) || epoch <= (known.epochs.get(agency) ?? 0)) return;
    // What this process knows of the agency is stale from now on; the
    // database refuses its writes under the old epoch, and its next claim
    // reads it afresh.
    for (const watcher of this.#watchers) watcher.claimedElsewhere?.(agency);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#drawPoll);
    await this.#draining;
    await this.#drawRead;
    await this.#listener?.close();
    await this.#sql.end({ timeout: 5 });
  }
}

/** Answers before the draw's winners are read (nobody asks then). */
const _NO_WINNERS_YET = new WinnersIndex();

function _superseded(agency: number): ProtocolError {
  return new ProtocolError(
    ErrorCode.superseded,
    `a newer connection of agency ${agency} took over on another server`,
  );
}
