/** The benchmark's PostgreSQL mode: fresh draws, the stored counts read back, no password shown. */

import assert from "node:assert/strict";
import { benchDrawId, shownEnvValue, storedInDatabase } from "../bench/database_check.ts";
import { drawIdViolation } from "../lib/config/draw_id.ts";
import { openPostgresLedger } from "../lib/store/pg_open.ts";
import { makeBets } from "./helpers/bets.ts";
import { postgresTest, startPostgres } from "./helpers/postgres.ts";
import { storeRowsOf } from "./helpers/store_rows.ts";

Deno.test("benchDrawId() gives a valid draw id naming the scenario", () => {
  const id = benchDrawId("b");
  assert.equal(drawIdViolation(id), undefined);
  assert.match(id, /^bench-b-/);
});

Deno.test("shownEnvValue() hides STORE_URL's password and nothing else", () => {
  assert.equal(
    shownEnvValue("STORE_URL", "postgres://u:s3cret@db:5432/x"),
    "postgres://u:***@db:5432/x",
  );
  assert.equal(shownEnvValue("SERVER_LISTEN_BACKLOG", "128"), "128");
});

postgresTest(
  "storedInDatabase() counts each agency's bets and winners of one draw only",
  async () => {
    await using pg = await startPostgres();
    for (const [draw, count] of [["bench-b-one", 7], ["bench-b-other", 3]] as const) {
      const { store } = await openPostgresLedger(pg.url, draw, 2);
      await store.append(1, 0, storeRowsOf(makeBets(1, count, { winnersAt: [1] })));
      await store.append(2, 0, storeRowsOf(makeBets(2, 2)));
      await store.close();
    }
    assert.deepEqual(
      [...await storedInDatabase(pg.url, "bench-b-one")].sort(),
      [[1, { bets: 7, winners: 1 }], [2, { bets: 2, winners: 0 }]],
    );
  },
);
