/**
 * The PostgreSQL store's single writer: batches and finishes of every
 * connection queue up (store_queue.ts, with the file store's backpressure)
 * and are written many per transaction (pg_group_commit.ts); each is
 * resolved only after its transaction commits, and what it committed is
 * applied to the replica's view of its agencies and of the draw.
 */

import { ErrorCode, ProtocolError } from "../protocol/protocol.ts";
import { GROUP_COMMIT_BATCHES_MAX, PG_GROUP_BYTES_MAX } from "../limits.ts";
import type { AgencyLedger } from "./agency_ledger.ts";
import type { AppendResult } from "./bet_ledger.ts";
import type { Sql } from "./pg_client.ts";
import type { PgDraw } from "./pg_draw.ts";
import { commitPgGroup } from "./pg_group_commit.ts";
import type { PlannedOperation } from "./group_plan.ts";
import type { StoreObserver } from "./store_observer.ts";
import { type StoreOperation, StoreQueue } from "./store_queue.ts";

/** What one replica knows of the agencies it claimed. */
export interface KnownAgencies {
  /** Claimed agencies' batches (and, stale, agencies claimed before). */
  ledgers: Map<number, AgencyLedger>;
  /** This replica's claim epoch per agency. */
  epochs: Map<number, number>;
  /** Agencies whose last transaction's outcome is unknown: refused until claimed again. */
  unsure: Set<number>;
  /** Agencies this replica is claiming now (their own notices are not news). */
  claiming: Set<number>;
}

/** Queues operations and commits them in groups, one transaction at a time. */
export class PgWriter {
  readonly #sql: Sql;
  readonly #drawId: string;
  readonly #agencies: number;
  readonly #known: KnownAgencies;
  readonly #draw: PgDraw;
  readonly #observer: StoreObserver | undefined;
  readonly #queue: StoreQueue;
  readonly #stats = { syncs: 0, batches: 0 };
  #draining: Promise<void> | undefined;

  constructor(
    sql: Sql,
    drawId: string,
    agencies: number,
    known: KnownAgencies,
    draw: PgDraw,
    observer: StoreObserver | undefined,
    queueBytesMax: number,
  ) {
    this.#sql = sql;
    this.#drawId = drawId;
    this.#agencies = agencies;
    this.#known = known;
    this.#draw = draw;
    this.#observer = observer;
    this.#queue = new StoreQueue(queueBytesMax, GROUP_COMMIT_BATCHES_MAX, PG_GROUP_BYTES_MAX);
  }

  /** Bytes of rows queued and not yet committed or refused. */
  get queuedBytes(): number {
    return this.#queue.queuedBytes;
  }

  /** Backpressure: undefined while the queue has room, else a promise resolved once it does. */
  room(): Promise<void> | undefined {
    return this.#queue.room();
  }

  /** Transactions committed and the batches they stored. */
  syncStats(): { syncs: number; batches: number } {
    return { ...this.#stats };
  }

  /**
   * Queues an operation (a batch's rows are copied in first).
   * @returns its outcome, once its transaction committed
   */
  write(operation: PlannedOperation): Promise<AppendResult> {
    if (operation.kind === "finished") return this.#enqueue(operation);
    const held = this.#queue.hold(operation.rows.bytes);
    return this.#enqueue({ ...operation, rows: { ...operation.rows, bytes: held } })
      .finally(() => this.#queue.release(held));
  }

  /** Resolves once nothing is queued. */
  async settled(): Promise<void> {
    await this.#draining;
  }

  #enqueue(operation: PlannedOperation): Promise<AppendResult> {
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
    const started = performance.now();
    try {
      outcome = await commitPgGroup(this.#sql, this.#drawId, this.#agencies, group, known.epochs);
      this.#observer?.transaction((performance.now() - started) / 1000, true);
    } catch (error) {
      this.#observer?.transaction((performance.now() - started) / 1000, false);
      const failure = new Error(`store write failed: ${(error as Error).message}`);
      // The commit may have happened: the group's agencies are read afresh
      // at their next claim; what queued behind is refused, as in the file store.
      for (const operation of group) known.unsure.add(operation.agency);
      for (const operation of [...group, ...this.#queue.takeAll()]) operation.reject(failure);
      for (const ledger of known.ledgers.values()) ledger.rollback();
      return;
    }
    this.#stats.syncs += 1;
    if (outcome.finishes !== undefined) await this.#draw.add(outcome.finishes, false);
    group.forEach((operation, index) => {
      if (outcome.fenced.has(operation.agency)) {
        known.ledgers.get(operation.agency)?.rollback();
        operation.reject(_superseded(operation.agency));
        return;
      }
      if (operation.kind === "batch") {
        const { first, rows } = operation;
        known.ledgers.get(operation.agency)!.commit(first, rows.count, rows.digest);
        this.#stats.batches += 1;
      }
      operation.resolve({ duplicate: outcome.duplicate[index]! });
    });
  }
}

function _superseded(agency: number): ProtocolError {
  return new ProtocolError(
    ErrorCode.superseded,
    `a newer connection of agency ${agency} took over on another server`,
  );
}
