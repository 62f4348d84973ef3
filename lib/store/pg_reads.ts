/**
 * The PostgreSQL store's reads: an agency's state at a claim, and the whole
 * draw's finishes and winners once it is complete. Each read runs in one
 * transaction, so its parts agree.
 */

import { inTransaction, type Sql } from "./pg_client.ts";
import { AgencyLedger } from "./agency_ledger.ts";
import { PG_CLAIMS_CHANNEL } from "./pg_channels.ts";
import { WinnersIndex } from "./winners_index.ts";

/** An agency as a claim finds it. */
export interface ClaimedAgency {
  /** The epoch this claim holds: batches are stored only under it. */
  epoch: number;
  /** The agency's stored batches. */
  ledger: AgencyLedger;
  /** Its declared total, when it finished. */
  finishedTotal: number | undefined;
  /** Whether the draw was made. */
  drawn: boolean;
}

/**
 * Takes the agency over: a newer epoch, which waits for the transactions of
 * the older holder that read the old one, then the agency's batches as they
 * are once those committed; other replicas are told.
 */
export function claimAgency(sql: Sql, drawId: string, agency: number): Promise<ClaimedAgency> {
  return inTransaction(sql, async (tx) => {
    const [claim] = await tx`
      INSERT INTO lottery.claims (draw_id, agency, epoch) VALUES (${drawId}, ${agency}, 1)
      ON CONFLICT (draw_id, agency) DO UPDATE SET epoch = lottery.claims.epoch + 1
      RETURNING epoch`;
    const epoch: number = claim!.epoch;
    const ledger = new AgencyLedger();
    const batches = await tx`
      SELECT first_position, bet_count, digest FROM lottery.batches
      WHERE draw_id = ${drawId} AND agency = ${agency} ORDER BY first_position`;
    for (const batch of batches) ledger.commit(batch.first_position, batch.bet_count, batch.digest);
    const [finish] = await tx`
      SELECT total FROM lottery.finishes WHERE draw_id = ${drawId} AND agency = ${agency}`;
    const [draw] = await tx`
      SELECT drawn_at IS NOT NULL AS drawn FROM lottery.draws WHERE draw_id = ${drawId}`;
    const notice = JSON.stringify({ drawId, agency, epoch });
    await tx`SELECT pg_notify(${PG_CLAIMS_CHANNEL}, ${notice})`;
    return { epoch, ledger, finishedTotal: finish?.total, drawn: draw?.drawn === true };
  });
}

/** The draw's finishes, and when every agency finished, its winners. */
export interface DrawState {
  finishes: Map<number, number>;
  /** Every agency's winners, when the finishes are complete. */
  winners: WinnersIndex | undefined;
}

/**
 * Reads the draw's finishes; when they cover `agencies`, also every
 * agency's winners (nothing is stored for a finished agency any more, so
 * they are final).
 */
export function readDrawState(sql: Sql, drawId: string, agencies: number): Promise<DrawState> {
  return inTransaction(sql, async (tx) => {
    const finishes = new Map<number, number>();
    const rows = await tx`SELECT agency, total FROM lottery.finishes WHERE draw_id = ${drawId}`;
    for (const row of rows) finishes.set(row.agency, row.total);
    if (finishes.size < agencies) return { finishes, winners: undefined };
    const winners = new WinnersIndex();
    const batches = await tx`
      SELECT agency, winner_count, winners FROM lottery.batches
      WHERE draw_id = ${drawId} AND winner_count > 0 ORDER BY agency, first_position`;
    for (const batch of batches) {
      winners.add(batch.agency, { bytes: batch.winners, count: batch.winner_count });
    }
    return { finishes, winners };
  });
}

/** Totals of what the database holds for the draw (the restore line). */
export async function countStored(
  sql: Sql,
  drawId: string,
): Promise<{ bets: number; batches: number }> {
  const [row] = await sql`
    SELECT count(*)::bigint AS batches, coalesce(sum(bet_count), 0)::bigint AS bets
    FROM lottery.batches WHERE draw_id = ${drawId}`;
  return { bets: row!.bets, batches: row!.batches };
}
