/**
 * The real server as processes on one PostgreSQL (STORE_URL): two centrals
 * share a draw, agencies upload to either, the draw is made once and every
 * agency is told its exact winners; the admin port names the store, counts
 * its transactions and says not ready while the database is down.
 */

import assert from "node:assert/strict";
import {
  fieldOf,
  linesOf,
  type LocalServer,
  runLocalClient,
  startLocalServer,
} from "../lib/dev/local_cluster.ts";
import { connectPostgres } from "../lib/store/pg_client.ts";
import { writeAgencies } from "./helpers/agency_files.ts";
import { postgresTest, startPostgres } from "./helpers/postgres.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

/** Bound on a server's exit after SIGTERM; past it the server is killed and the test fails. */
const _EXIT_WAIT_MS = 30_000;

/** Stops a server; rejects when it does not exit after SIGTERM within _EXIT_WAIT_MS. */
async function stopWithin(server: LocalServer): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      server.process.kill("SIGKILL");
      reject(new Error(`server still running ${_EXIT_WAIT_MS} ms after SIGTERM`));
    }, _EXIT_WAIT_MS);
  });
  try {
    return await Promise.race([server.stop(), stuck]);
  } finally {
    clearTimeout(timer);
  }
}

const _AGENCIES = [
  { bets: 230, winners: 2 },
  { bets: 120, winners: 1 },
  { bets: 99, winners: 0 },
  { bets: 310, winners: 3 },
];

postgresTest(
  "two centrals on one database: each agency's bets stored once, one draw, exact winners everywhere",
  async () => {
    await using pg = await startPostgres();
    await withTempDir(async (dir) => {
      const files = await writeAgencies(dir, _AGENCIES);
      const env = {
        STORE_URL: pg.url,
        DRAW_ID: "two-centrals",
        AGENCIES: String(_AGENCIES.length),
        STORAGE_DIR: `${dir}/unused`,
      };
      const servers = [
        await startLocalServer(env, (l) => console.error("A", l)),
        await startLocalServer(env, (l) => console.error("B", l)),
      ];
      try {
        const runs = await Promise.all(files.map((file, index) =>
          runLocalClient({
            CLI_ID: String(index + 1),
            // Agencies 1 and 3 upload to the first central, 2 and 4 to the second.
            CLI_SERVER_ADDRESS: `127.0.0.1:${servers[index % 2]!.port}`,
            CLI_DATA_FILE: file,
            CLI_BATCH_MAXAMOUNT: "50",
          })
        ));
        for (const [index, agency] of _AGENCIES.entries()) {
          const run = runs[index]!;
          assert.equal(run.code, 0, run.lines.join("\n"));
          const told = linesOf(run.lines, "consulta_ganadores");
          assert.equal(
            fieldOf(told[0]!, "cant_ganadores"),
            String(agency.winners),
            `agency ${index + 1}`,
          );
        }
        const sorteos = servers.flatMap((server) => linesOf(server.lines, "sorteo"));
        assert.equal(sorteos.length, 2, "each central makes or hears of the draw once");
        assert.equal(
          sorteos.filter((line) => fieldOf(line, "made_by") === undefined).length,
          1,
          `one central made it: ${sorteos.join("\n")}`,
        );

        const sql = await connectPostgres(pg.url);
        try {
          const rows = await sql`
          SELECT agency, count(*)::int AS bets, count(DISTINCT position)::int AS positions
          FROM lottery.bets WHERE draw_id = 'two-centrals' GROUP BY agency ORDER BY agency`;
          assert.deepEqual(
            rows.map((row) => [row.agency, row.bets, row.positions]),
            _AGENCIES.map((agency, index) => [index + 1, agency.bets, agency.bets]),
          );
        } finally {
          await sql.end();
        }

        const admin = `http://127.0.0.1:${servers[0]!.adminPort}`;
        const status = await (await fetch(`${admin}/api/status`)).json();
        assert.equal(status.draw.storage, `postgres://postgres@127.0.0.1:${pg.port}/postgres`);
        const metrics = await (await fetch(`${admin}/metrics`)).text();
        const committed = /^tp0_store_transactions_total\{result="committed"\} (\d+)$/m.exec(
          metrics,
        );
        assert.ok(Number(committed?.[1]) >= 1, "the transactions are counted");
        assert.equal((await fetch(`${admin}/readyz`)).status, 200);
        await pg.stop();
        const down = await fetch(`${admin}/readyz`);
        assert.equal(down.status, 503);
        assert.match(await down.text(), /^not ready: the store does not answer: /);
        await pg.start();
      } finally {
        // After the database's restart too, each exits 0 at once (no connection left open).
        for (const server of servers) {
          assert.equal(await stopWithin(server), 0, server.lines.join("\n"));
        }
      }
    });
  },
);

postgresTest(
  "a server whose database never answers exits 1 with one restore fail line",
  async () => {
    await using pg = await startPostgres();
    await pg.stop();
    const error = await startLocalServer({
      STORE_URL: `postgres://postgres:s3cret@127.0.0.1:${pg.port}/postgres`,
      STORE_WAIT: "0s",
    }).then(() => undefined, (error: Error) => error);
    assert.ok(error !== undefined);
    assert.match(error.message, /^server exited with code 1 before listening/);
    assert.match(error.message, /action: restore \| result: fail \|.*did not answer within/);
    assert.doesNotMatch(error.message, /s3cret/);
  },
);
