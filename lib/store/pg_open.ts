/**
 * Opens the PostgreSQL store of a draw: reaches the database (retrying for a
 * bounded time: in compose or a swarm it may start with the server), creates
 * or checks the schema, registers the draw, and reads what is stored.
 */

import { PG_START_RETRY_MS } from "../limits.ts";
import { RetryBackoff } from "../runtime/retry_backoff.ts";
import { connectPostgres, type Sql } from "./pg_client.ts";
import { redactStoreUrl } from "./store_url.ts";
import { countStored, readDrawState } from "./pg_reads.ts";
import { ensurePgSchema } from "./pg_schema.ts";
import { PostgresLedger } from "./postgres_ledger.ts";
import type { StoreObserver } from "./store_observer.ts";

/** What the opened store holds, for the restore line. */
export interface PgOpenReport {
  bets: number;
  batches: number;
  agenciesFinished: number;
}

/** Told about each failed attempt to reach the database at start. */
export type PgWaiting = (attempt: number, error: Error) => void;

/**
 * @throws {Error} when the database stays unreachable for `retryMs`, holds a
 *   newer schema, or registered the draw with another number of agencies
 */
export async function openPostgresLedger(
  url: string,
  drawId: string,
  agencies: number,
  onWaiting: PgWaiting = () => {},
  retryMs = PG_START_RETRY_MS,
  observer?: StoreObserver,
): Promise<{ store: PostgresLedger; report: PgOpenReport }> {
  const sql = await connectPostgres(url);
  try {
    await _reach(sql, url, onWaiting, retryMs);
    await ensurePgSchema(sql);
    await _registerDraw(sql, drawId, agencies);
    const { finishes, winners } = await readDrawState(sql, drawId, agencies);
    const { bets, batches } = await countStored(sql, drawId);
    const store = new PostgresLedger(sql, drawId, agencies, finishes, winners, observer);
    await store.listen(url);
    return { store, report: { bets, batches, agenciesFinished: finishes.size } };
  } catch (error) {
    await sql.end({ timeout: 1 });
    throw error;
  }
}

async function _reach(sql: Sql, url: string, onWaiting: PgWaiting, retryMs: number) {
  const backoff = new RetryBackoff({ budgetMs: retryMs, immediateRetries: 0 });
  backoff.startClock(Date.now());
  while (true) {
    try {
      await sql`SELECT 1`;
      return;
    } catch (error) {
      const pause = backoff.failed();
      if (backoff.isPastBudget(Date.now() + pause)) {
        throw new Error(
          `PostgreSQL at ${redactStoreUrl(url)} did not answer within ${retryMs} ms: ${
            (error as Error).message
          }`,
        );
      }
      onWaiting(backoff.failures, error as Error);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/** Registers the draw, or checks that its registered agencies match. */
async function _registerDraw(sql: Sql, drawId: string, agencies: number): Promise<void> {
  await sql`
    INSERT INTO lottery.draws (draw_id, agencies) VALUES (${drawId}, ${agencies})
    ON CONFLICT (draw_id) DO NOTHING`;
  const [row] = await sql`SELECT agencies FROM lottery.draws WHERE draw_id = ${drawId}`;
  if (row?.agencies !== agencies) {
    throw new Error(
      `draw ${drawId} waits for ${row?.agencies} agencies in the database, but AGENCIES is ${agencies}: use another DRAW_ID or the same AGENCIES`,
    );
  }
}
