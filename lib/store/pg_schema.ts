/**
 * The PostgreSQL store's tables, in the schema `lottery`, created by the
 * server at start when missing and stamped with a version, so a server never
 * writes into tables laid out by a newer one.
 *
 * - `draws`: one row per draw: the agencies it waits for, and when it was made.
 * - `batches`: each stored batch of an agency, by first position: its count,
 *   digest (bet_digest.ts), its bets as the file store's CSV rows (text), and
 *   its winners' documents in wire form.
 * - `finishes`: each agency's `finished`, with the total it declared.
 * - `claims`: which connection holds each agency's upload, as an epoch each
 *   hello increases; a batch is stored only under the epoch it was sent in.
 * - `bets` (view): one row per bet, for operators' queries.
 */

import { inTransaction, type Sql } from "./pg_client.ts";

/** The layout this server writes; a database stamped newer is refused. */
export const PG_SCHEMA_VERSION = 1;

/** Serializes schema creation between replicas starting at once. */
const _SCHEMA_LOCK_KEY = 7_574_001;

const _CREATE = [
  `CREATE SCHEMA IF NOT EXISTS lottery`,
  `CREATE TABLE lottery.schema_version (version integer NOT NULL)`,
  `CREATE TABLE lottery.draws (
    draw_id text PRIMARY KEY,
    agencies integer NOT NULL,
    drawn_at timestamptz
  )`,
  `CREATE TABLE lottery.batches (
    draw_id text NOT NULL,
    agency integer NOT NULL,
    first_position bigint NOT NULL,
    bet_count integer NOT NULL,
    digest bigint NOT NULL,
    rows text NOT NULL,
    winner_count integer NOT NULL,
    winners bytea NOT NULL,
    PRIMARY KEY (draw_id, agency, first_position)
  )`,
  // Stored out of line without compression: compressing each batch's rows
  // cost more than the rest of the transaction.
  `ALTER TABLE lottery.batches ALTER COLUMN rows SET STORAGE EXTERNAL`,
  `CREATE TABLE lottery.finishes (
    draw_id text NOT NULL,
    agency integer NOT NULL,
    total bigint NOT NULL,
    PRIMARY KEY (draw_id, agency)
  )`,
  `CREATE TABLE lottery.claims (
    draw_id text NOT NULL,
    agency integer NOT NULL,
    epoch bigint NOT NULL,
    PRIMARY KEY (draw_id, agency)
  )`,
  `CREATE VIEW lottery.bets AS
    SELECT b.draw_id, b.agency, b.first_position + line.n - 1 AS position, line.row
    FROM lottery.batches b,
      unnest(string_to_array(rtrim(b.rows, E'\\n'), E'\\n'))
        WITH ORDINALITY AS line(row, n)`,
];

/**
 * Creates the tables when the database has none, else checks their version.
 * @throws {Error} when the database holds a newer layout than this server writes
 */
export async function ensurePgSchema(sql: Sql): Promise<void> {
  await inTransaction(sql, async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${_SCHEMA_LOCK_KEY})`;
    const [table] = await tx`SELECT to_regclass('lottery.schema_version') AS name`;
    if (table?.name === null) {
      for (const statement of _CREATE) await tx.unsafe(statement);
      await tx`INSERT INTO lottery.schema_version (version) VALUES (${PG_SCHEMA_VERSION})`;
      return;
    }
    const [row] = await tx`SELECT max(version) AS version FROM lottery.schema_version`;
    const version = Number(row?.version ?? 0);
    if (version > PG_SCHEMA_VERSION) {
      throw new Error(
        `the database's lottery schema is version ${version}, newer than this server's ${PG_SCHEMA_VERSION}: run a newer server`,
      );
    }
  });
}
