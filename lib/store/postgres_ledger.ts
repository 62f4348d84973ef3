/**
 * The bet ledger in PostgreSQL (schema in pg_schema.ts), which several
 * server processes (replicas) of one draw share.
 *
 * Each process keeps in memory what it reads synchronously: the agencies it
 * claimed (read afresh from the database at each claim), and what it knows
 * of the draw (pg_draw.ts).
 * Batches and finishes queue up as in the file store and are written many
 * per transaction (pg_group_commit.ts); each is acknowledged only after its
 * transaction commits. Other processes' claims and draws arrive as
 * notifications, and the draw is also polled for (a lost connection misses
 * notifications).
 */

import type { Checkpoint } from "../protocol/message_codec.ts";
import { EMPTY_DIGEST } from "../protocol/bet_digest.ts";
import { ErrorCode, ProtocolError } from "../protocol/protocol.ts";
import { PG_DRAW_POLL_MS, PG_HEALTH_TIMEOUT_MS, STORE_QUEUE_BYTES_MAX } from "../limits.ts";
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
import { type KnownAgencies, PgWriter } from "./pg_writer.ts";
import { type NoticeHandler, PgListener } from "./pg_listener.ts";
import { claimAgency } from "./pg_reads.ts";
import type { StoreObserver } from "./store_observer.ts";
import type { StoreRows } from "./store_rows.ts";
import type { WinnersAnswer, WinnersIndex } from "./winners_index.ts";
import { PgDraw } from "./pg_draw.ts";

/** Bets of a draw in PostgreSQL, shared by every replica of the central. */
export class PostgresLedger implements OpenedLedger {
  readonly #sql: Sql;
  readonly #drawId: string;
  readonly #agencies: number;
  readonly #writer: PgWriter;
  readonly #known: KnownAgencies = {
    ledgers: new Map(),
    epochs: new Map(),
    unsure: new Set(),
    claiming: new Set(),
  };
  readonly #watchers: LedgerWatcher[] = [];
  readonly #draw: PgDraw;
  #closed = false;
  #drawPoll: ReturnType<typeof setInterval> | undefined;
  #listener: PgListener | undefined;

  /**
   * Use {@link openPostgresLedger} (pg_open.ts), which prepares the database.
   * @param finishes the draw's finishes as read at open
   * @param winners every agency's winners, when the finishes are complete
   * @param observer told how long each transaction took (metrics)
   */
  constructor(
    sql: Sql,
    drawId: string,
    agencies: number,
    finishes: Map<number, number>,
    winners: WinnersIndex | undefined,
    observer: StoreObserver | undefined,
    queueBytesMax = STORE_QUEUE_BYTES_MAX,
  ) {
    this.#sql = sql;
    this.#drawId = drawId;
    this.#agencies = agencies;
    this.#draw = new PgDraw(sql, drawId, agencies, finishes, winners, () => {
      for (const watcher of this.#watchers) watcher.finishesChanged?.();
    });
    this.#writer = new PgWriter(
      sql,
      drawId,
      agencies,
      this.#known,
      this.#draw,
      observer,
      queueBytesMax,
    );
  }

  /** Starts hearing other replicas' claims and draws, on a connection to `url` of its own. */
  async listen(url: string): Promise<void> {
    this.#listener = await PgListener.open(
      url,
      new Map<string, NoticeHandler>([
        [PG_CLAIMS_CHANNEL, (payload) => this.#heardClaim(payload)],
        [PG_DRAWS_CHANNEL, (payload) => {
          if (payload === this.#drawId) this.#draw.refresh(true);
        }],
      ]),
    );
    const poll = setInterval(() => this.#draw.refresh(true), PG_DRAW_POLL_MS);
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
        // Read, not written here: if it completes the draw, another made it.
        await this.#draw.add(new Map([[agency, claimed.finishedTotal]]), true);
      }
      if (claimed.drawn) await this.#draw.refresh(true);
    } finally {
      known.claiming.delete(agency);
    }
  }

  room(): Promise<void> | undefined {
    return this.#writer.room();
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
    return this.#draw.finished;
  }

  winners(agency: number): WinnersAnswer {
    return this.#draw.winners(agency);
  }

  get queuedBytes(): number {
    return this.#writer.queuedBytes;
  }

  /** Asks the database for an answer within PG_HEALTH_TIMEOUT_MS. */
  async health(): Promise<void> {
    if (this.#closed) throw new Error("store is closed");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the database did not answer within ${PG_HEALTH_TIMEOUT_MS} ms`)),
        PG_HEALTH_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([this.#sql`SELECT 1`, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  syncStats(): { syncs: number; batches: number } {
    return this.#writer.syncStats();
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
    return this.#writer.write({ kind: "batch", agency, first, rows });
  }

  markFinished(agency: number, total: number): Promise<AppendResult> {
    if (this.#draw.finished.has(agency)) return Promise.resolve({ duplicate: true });
    const unusable = this.#unusable(agency);
    if (unusable !== undefined) return Promise.reject(unusable);
    return this.#writer.write({ kind: "finished", agency, total });
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
    await this.#writer.settled();
    await this.#draw.settled();
    await this.#listener?.close();
    await this.#sql.end({ timeout: 5 });
  }
}
