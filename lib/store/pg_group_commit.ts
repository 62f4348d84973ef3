/**
 * One group commit of the PostgreSQL store: every queued batch and finish in
 * one transaction, acknowledged only after it commits.
 *
 * Fencing across processes: the transaction first reads each agency's claim
 * epoch FOR SHARE. An operation sent under an older epoch than the
 * database's (another process took the agency over) is not written. A claim
 * (claimAgency, pg_reads.ts) updates the epoch row, so it waits for every transaction
 * that read it to commit: once the newer claim commits, the older holder
 * stores nothing more, and the claim reads every batch it stored.
 *
 * The draw: a group with a finish takes the draw's advisory lock, so the
 * finishes of all processes are counted one transaction at a time; the one
 * that records the last agency's finish stamps the draw and notifies the
 * others.
 */

import {
  inTransaction,
  PG_INT4_ARRAY,
  PG_INT8_ARRAY,
  type Sql,
  type TransactionSql,
} from "./pg_client.ts";
import type { PlannedOperation } from "./group_plan.ts";
import { PG_DRAWS_CHANNEL } from "./pg_channels.ts";
import { BATCH_COPY_COLUMNS, type CopiedBatch, encodeBatchesCsv } from "./pg_batch_csv.ts";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** What a committed group did. */
export interface PgGroupOutcome {
  /** Agencies claimed by a newer epoch than this process's: nothing of theirs was written. */
  fenced: Set<number>;
  /** Per operation, in order: true when it wrote nothing (a repeated finish, or fenced). */
  duplicate: boolean[];
  /** Every finish of the draw after the commit, when the group recorded one. */
  finishes: Map<number, number> | undefined;
}

/** The advisory lock key that serializes the finishes of a draw. */
function _drawLockKey(drawId: string): string {
  return `lottery.draw:${drawId}`;
}

/**
 * Writes a group in one transaction.
 * @param epochs this process's claim epoch per agency (0 when it never claimed)
 * @param agencies agencies the draw waits for
 * @throws the database's error: the transaction is rolled back (or its
 *   outcome is unknown when the connection broke during the commit)
 */
export function commitPgGroup(
  sql: Sql,
  drawId: string,
  agencies: number,
  group: readonly PlannedOperation[],
  epochs: ReadonlyMap<number, number>,
): Promise<PgGroupOutcome> {
  return inTransaction(sql, async (tx) => {
    const hasFinish = group.some((operation) => operation.kind === "finished");
    if (hasFinish) await tx`SELECT pg_advisory_xact_lock(hashtext(${_drawLockKey(drawId)}))`;
    const fenced = await _fencedAgencies(tx, drawId, group, epochs);
    await _insertBatches(tx, drawId, group, fenced);
    const { duplicate, inserted } = await _insertFinishes(tx, drawId, group, fenced);
    let finishes: Map<number, number> | undefined;
    if (inserted > 0) {
      finishes = new Map();
      const rows = await tx`
        SELECT agency, total FROM lottery.finishes WHERE draw_id = ${drawId}`;
      for (const row of rows) finishes.set(row.agency, row.total);
      if (finishes.size >= agencies) {
        const drawn = await tx`
          UPDATE lottery.draws SET drawn_at = now()
          WHERE draw_id = ${drawId} AND drawn_at IS NULL RETURNING draw_id`;
        if (drawn.length > 0) await tx`SELECT pg_notify(${PG_DRAWS_CHANNEL}, ${drawId})`;
      }
    }
    return { fenced, duplicate, finishes };
  });
}

/** Agencies of the group whose claim moved past this process's epoch. */
async function _fencedAgencies(
  tx: TransactionSql,
  drawId: string,
  group: readonly PlannedOperation[],
  epochs: ReadonlyMap<number, number>,
): Promise<Set<number>> {
  const agencies = [...new Set(group.map((operation) => operation.agency))];
  const rows = await tx`
    SELECT agency, epoch FROM lottery.claims
    WHERE draw_id = ${drawId} AND agency = ANY(${tx.array(agencies, PG_INT4_ARRAY)})
    FOR SHARE`;
  const fenced = new Set<number>();
  for (const row of rows) {
    if (row.epoch !== (epochs.get(row.agency) ?? 0)) fenced.add(row.agency);
  }
  return fenced;
}

/** Copies the group's batches in, their rows as they are (pg_batch_csv.ts). */
async function _insertBatches(
  tx: TransactionSql,
  drawId: string,
  group: readonly PlannedOperation[],
  fenced: ReadonlySet<number>,
): Promise<void> {
  const batches: CopiedBatch[] = [];
  for (const operation of group) {
    if (operation.kind === "batch" && !fenced.has(operation.agency)) batches.push(operation);
  }
  if (batches.length === 0) return;
  const copy = await tx.unsafe(
    `COPY lottery.batches (${BATCH_COPY_COLUMNS}) FROM STDIN (FORMAT csv)`,
  )
    .writable();
  await pipeline(Readable.from([encodeBatchesCsv(drawId, batches)]), copy);
}

/** Records the group's finishes; a finish already recorded writes nothing. */
async function _insertFinishes(
  tx: TransactionSql,
  drawId: string,
  group: readonly PlannedOperation[],
  fenced: ReadonlySet<number>,
): Promise<{ duplicate: boolean[]; inserted: number }> {
  const agencies: number[] = [];
  const totals: number[] = [];
  for (const operation of group) {
    if (operation.kind !== "finished" || fenced.has(operation.agency)) continue;
    agencies.push(operation.agency);
    totals.push(operation.total);
  }
  const recorded = new Set<number>();
  if (agencies.length > 0) {
    const rows = await tx`
      INSERT INTO lottery.finishes (draw_id, agency, total)
      SELECT ${drawId}, f.agency, f.total
      FROM unnest(${tx.array(agencies, PG_INT4_ARRAY)}::int[], ${
      tx.array(totals, PG_INT8_ARRAY)
    }::bigint[])
        AS f(agency, total)
      ON CONFLICT (draw_id, agency) DO NOTHING
      RETURNING agency`;
    for (const row of rows) recorded.add(row.agency);
  }
  const inserted = recorded.size;
  // Only the first finish of an agency in the group counts as its record.
  const duplicate = group.map((operation) => {
    if (fenced.has(operation.agency)) return true;
    if (operation.kind !== "finished") return false;
    return !recorded.delete(operation.agency);
  });
  return { duplicate, inserted };
}
