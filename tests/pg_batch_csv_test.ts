/** The PostgreSQL store's COPY input: rows as they are, quotes doubled, winners in bytea hex. */

import assert from "node:assert/strict";
import { encodeBatchesCsv } from "../lib/store/pg_batch_csv.ts";
import { encodeWinnerDocuments } from "../lib/protocol/message_codec.ts";
import { BetStore } from "../lib/store/bet_store.ts";
import { openPostgresLedger } from "../lib/store/pg_open.ts";
import { connectPostgres } from "../lib/store/pg_client.ts";
import { makeBet } from "./helpers/bets.ts";
import { storeRowsOf } from "./helpers/store_rows.ts";
import { postgresTest, startPostgres } from "./helpers/postgres.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const _encoder = new TextEncoder();
const _decoder = new TextDecoder();

Deno.test("encodeBatchesCsv() quotes each batch's rows whole, doubling quotes, and hex-encodes its winners", () => {
  const rows = {
    bytes: _encoder.encode(
      '1,"Ana ""la"" Gómez",Pérez,30000001,1990-01-02,7574\n1,Luis,Paz,30000002,1991-02-03,1\n',
    ),
    count: 2,
    digest: 4_000_000_000,
    winners: encodeWinnerDocuments(["30000001"]),
  };
  assert.equal(
    _decoder.decode(encodeBatchesCsv("d-1", [{ agency: 3, first: 40, rows }])),
    'd-1,3,40,2,4000000000,"1,""Ana """"la"""" Gómez"",Pérez,30000001,1990-01-02,7574\n' +
      '1,Luis,Paz,30000002,1991-02-03,1\n",1,\\x083330303030303031\n',
  );
});

Deno.test("encodeBatchesCsv() passes rows without a quote as they are, and an empty winners list as \\x", () => {
  const rows = {
    bytes: _encoder.encode("2,Ana,Paz,30000003,1992-03-04,1\n"),
    count: 1,
    digest: 0,
    winners: encodeWinnerDocuments([]),
  };
  assert.equal(
    _decoder.decode(encodeBatchesCsv("d", [{ agency: 2, first: 0, rows }])),
    'd,2,0,1,0,"2,Ana,Paz,30000003,1992-03-04,1\n",0,\\x\n',
  );
});

postgresTest(
  "the database keeps a batch's rows byte for byte as the file store writes them, quotes and accents included",
  async () => {
    await using pg = await startPostgres();
    const bets = [
      makeBet({ agency: 1, firstName: 'Ana "la"', lastName: "Gómez, Núñez", document: "30000001" }),
      makeBet({ agency: 1, firstName: "Luis", lastName: "Paz", document: "30000002" }),
    ];
    const rows = storeRowsOf(bets);
    const inFile = await withTempDir(async (dir) => {
      const { store } = await BetStore.open(`${dir}/bets.csv`);
      await store.append(1, 0, rows);
      await store.close();
      return await Deno.readTextFile(`${dir}/bets.csv`);
    });
    const { store } = await openPostgresLedger(pg.url, "quotes", 1);
    await store.append(1, 0, rows);
    await store.close();
    const sql = await connectPostgres(pg.url);
    const [row] = await sql`SELECT rows FROM lottery.batches WHERE draw_id = 'quotes'`;
    await sql.end();
    assert.equal(row!.rows, inFile);
    assert.match(inFile, /"Ana ""la"""/, "the row itself holds quotes");
  },
);
