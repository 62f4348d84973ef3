/**
 * One group commit of the PostgreSQL store: every queued batch and finish in
 * one transaction, acknowledged only after it commits.
 *
 * Fencing across processes: the transaction first reads each agency's claim
 * epoch FOR SHARE. An operation sent under an older epoch than the
 * database's (another process took the agency over) is not written. A claim
 * (pg_claims.ts) updates the epoch row, so it waits for every transaction
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

/** Inserts the group's batches (all rows in one parameter, cut by offsets). */
async function _insertBatches(
  tx: TransactionSql,
  drawId: string,
  group: readonly PlannedOperation[],
  fenced: ReadonlySet<number>,
): Promise<void> {
  const columns = {
    agency: [] as number[],
    first: [] as number[],
    count: [] as number[],
    digest: [] as number[],
    rowsAt: [] as number[],
    rowsBytes: [] as number[],
    winnerCount: [] as number[],
    winnersAt: [] as number[],
    winnersBytes: [] as number[],
  };
  const rowChunks: Uint8Array[] = [];
  const winnerChunks: Uint8Array[] = [];
  let rowsAt = 1;
  let winnersAt = 1;
  for (const operation of group) {
    if (operation.kind !== "batch" || fenced.has(operation.agency)) continue;
    const { rows } = operation;
    columns.agency.push(operation.agency);
    columns.first.push(operation.first);
    columns.count.push(rows.count);
    columns.digest.push(rows.digest);
    columns.rowsAt.push(rowsAt);
    columns.rowsBytes.push(rows.bytes.length);
    columns.winnerCount.push(rows.winners.count);
    columns.winnersAt.push(winnersAt);
    columns.winnersBytes.push(rows.winners.bytes.length);
    rowChunks.push(rows.bytes);
    winnerChunks.push(rows.winners.bytes);
    rowsAt += rows.bytes.length;
    winnersAt += rows.winners.bytes.length;
  }
  if (columns.agency.length === 0) return;
  await tx`
    INSERT INTO lottery.batches
      (draw_id, agency, first_position, bet_count, digest, rows, winner_count, winners)
    SELECT ${drawId}, b.agency, b.first, b.count, b.digest,
      convert_from(substring(${_concat(rowChunks)}::bytea FROM b.rows_at FOR b.rows_bytes), 'UTF8'),
      b.winner_count,
      substring(${_concat(winnerChunks)}::bytea FROM b.winners_at FOR b.winners_bytes)
    FROM unnest(
      ${tx.array(columns.agency, PG_INT4_ARRAY)}::int[], ${
    tx.array(columns.first, PG_INT8_ARRAY)
  }::bigint[],
      ${tx.array(columns.count, PG_INT4_ARRAY)}::int[], ${
    tx.array(columns.digest, PG_INT8_ARRAY)
  }::bigint[],
      ${tx.array(columns.rowsAt, PG_INT4_ARRAY)}::int[], ${
    tx.array(columns.rowsBytes, PG_INT4_ARRAY)
  }::int[],
      ${tx.array(columns.winnerCount, PG_INT4_ARRAY)}::int[], ${
    tx.array(columns.winnersAt, PG_INT4_ARRAY)
  }::int[],
      ${tx.array(columns.winnersBytes, PG_INT4_ARRAY)}::int[]
    ) AS b(agency, first, count, digest, rows_at, rows_bytes, winner_count, winners_at, winners_bytes)`;
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

function _concat(chunks: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const all = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}
