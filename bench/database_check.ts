/**
 * The benchmark against the PostgreSQL store (`--env STORE_URL=…`): each run
 * gets a draw of its own in that database, and what the run stored is read
 * back from it to check against the data.
 */

import { connectPostgres } from "../lib/store/pg_client.ts";
import { redactStoreUrl } from "../lib/store/store_url.ts";

/** A draw id no earlier run in the database used. */
export function benchDrawId(runName: string): string {
  return `bench-${runName}-${Date.now().toString(36)}`;
}

/** Bets and winners per agency that the draw holds in the database. */
export async function storedInDatabase(
  url: string,
  drawId: string,
): Promise<Map<number, { bets: number; winners: number }>> {
  const sql = await connectPostgres(url);
  try {
    const rows = await sql`
      SELECT agency, sum(bet_count)::bigint AS bets, sum(winner_count)::bigint AS winners
      FROM lottery.batches WHERE draw_id = ${drawId} GROUP BY agency`;
    return new Map(rows.map((row) => [row.agency, { bets: row.bets, winners: row.winners }]));
  } finally {
    await sql.end();
  }
}

/** The overrides as the report shows them: a store URL without its password. */
export function shownEnvValue(key: string, value: string): string {
  return key === "STORE_URL" ? redactStoreUrl(value) : value;
}
