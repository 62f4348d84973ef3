/**
 * inTransaction() against a real PostgreSQL (tests/helpers/postgres.ts):
 * it commits and rolls back as a transaction does, and a transaction whose
 * connection is lost mid-query rejects without taking the process down
 * (postgres.js would write its ROLLBACK on the closed socket from a timer),
 * and the pool serves the next query.
 */

import assert from "node:assert/strict";
import {
  connectPostgres,
  inTransaction,
  PG_INT4_ARRAY,
  PG_INT8_ARRAY,
  type Sql,
} from "../lib/store/pg_client.ts";
import { postgresTest, startPostgres } from "./helpers/postgres.ts";

/** Runs `body` with a pool on the server at `url`, ended afterwards. */
async function withPool<T>(url: string, body: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = await connectPostgres(url);
  try {
    return await body(sql);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

postgresTest(
  "inTransaction() commits what its body wrote and rolls back a body that throws",
  async () => {
    await using pg = await startPostgres();
    await withPool(pg.url, async (sql) => {
      await sql`CREATE TABLE notes (id integer PRIMARY KEY)`;
      assert.equal(
        await inTransaction(sql, async (tx) => (await tx`INSERT INTO notes VALUES (1)`).count),
        1,
      );
      await assert.rejects(
        inTransaction(sql, async (tx) => {
          await tx`INSERT INTO notes VALUES (2)`;
          await tx`INSERT INTO notes VALUES (1)`;
        }),
        /duplicate key/,
        "the database's error reaches the caller",
      );
      await assert.rejects(
        inTransaction(sql, async (tx) => {
          await tx`INSERT INTO notes VALUES (3)`;
          throw new RangeError("the body's own error");
        }),
        RangeError,
      );
      const rows = await sql`SELECT id FROM notes ORDER BY id`;
      assert.deepEqual(rows.map((row) => row.id), [1], "only the committed row is there");
    });
  },
);

postgresTest(
  "inTransaction() whose backend is terminated mid-query rejects, and the process and the pool live on",
  async () => {
    await using pg = await startPostgres();
    await withPool(pg.url, async (sql) => {
      await withPool(pg.url, async (killer) => {
        const backend = Promise.withResolvers<number>();
        const transaction = inTransaction(sql, async (tx) => {
          const [row] = await tx`SELECT pg_backend_pid() AS pid`;
          backend.resolve(row!.pid);
          await tx`SELECT pg_sleep(30)`;
        });
        // It may reject before the terminating query returns.
        transaction.catch(() => {});
        const [terminated] = await killer`SELECT pg_terminate_backend(${await backend
          .promise}) AS ok`;
        assert.equal(terminated!.ok, true, "the transaction's backend was terminated");
        await assert.rejects(transaction, /CONNECTION_CLOSED|terminating connection/);
      });
      // The crash this guards against comes from a timer after the close:
      // these round trips let it fire.
      for (let query = 0; query < 3; query += 1) {
        const [row] = await sql`SELECT 1 AS one`;
        assert.equal(row!.one, 1, `query ${query} after the loss is served`);
      }
    });
  },
);

postgresTest(
  "inTransaction() in flight when PostgreSQL stops at once rejects, and the pool serves queries after the restart",
  async () => {
    await using pg = await startPostgres();
    await withPool(pg.url, async (sql) => {
      const running = Promise.withResolvers<void>();
      const transaction = inTransaction(sql, async (tx) => {
        await tx`SELECT 1`;
        running.resolve();
        await tx`SELECT pg_sleep(30)`;
      });
      // It may reject before pg_ctl returns.
      transaction.catch(() => {});
      await running.promise;
      await pg.stop("immediate");
      await assert.rejects(transaction);
      await pg.start();
      for (let query = 0; query < 3; query += 1) {
        const [row] = await sql`SELECT 1 AS one`;
        assert.equal(row!.one, 1, `query ${query} after the restart is served`);
      }
    });
  },
);

postgresTest(
  "a pool on a database that cancels every statement fails its queries, and nothing is left uncaught",
  async () => {
    await using pg = await startPostgres();
    // statement_timeout=1 ms, set at connect, cancels the first statement of
    // each connection, as a database dying under it would fail it.
    await withPool(`${pg.url}?statement_timeout=1`, async (sql) => {
      for (let query = 0; query < 3; query += 1) {
        await assert.rejects(sql`SELECT pg_sleep(0.1)`, /statement timeout/);
      }
    });
  },
);

postgresTest("inTransaction() stores int4 and int8 arrays as the store passes them", async () => {
  await using pg = await startPostgres();
  await withPool(pg.url, async (sql) => {
    const rows = await inTransaction(
      sql,
      (tx) =>
        tx`SELECT a, b FROM unnest(${tx.array([1, 2, 3], PG_INT4_ARRAY)}::int[],
        ${tx.array([2 ** 40, 0, 5], PG_INT8_ARRAY)}::bigint[]) AS t(a, b)`,
    );
    assert.deepEqual(rows.map((row) => [row.a, row.b]), [[1, 2 ** 40], [2, 0], [3, 5]]);
  });
});
