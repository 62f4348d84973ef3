/**
 * PgListener and the PostgreSQL store's notifications against a real
 * PostgreSQL (tests/helpers/postgres.ts): notifications are heard, heard
 * again after the database restarted, and a server that listened exits on
 * SIGTERM after a database restart (with postgres.js's own sql.listen, a
 * connection it reopened outlived the store and held the process).
 */

import assert from "node:assert/strict";
import { connectPostgres } from "../lib/store/pg_client.ts";
import { PgListener } from "../lib/store/pg_listener.ts";
import { startLocalServer } from "../lib/dev/local_cluster.ts";
import { waitForLine } from "./helpers/log_lines.ts";
import { postgresTest, startPostgres } from "./helpers/postgres.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

/** Bound on hearing a notification sent after a restart. */
const _HEARD_MS_MAX = 30_000;

/** Bound on a server's exit after it logged its shutdown (it should be at once). */
const _EXIT_MS_MAX = 10_000;

postgresTest("PgListener hears notifications, and again after the database restarted", async () => {
  await using pg = await startPostgres();
  const heard: string[] = [];
  const listener = await PgListener.open(
    pg.url,
    new Map([["lottery_test", (payload: string) => heard.push(payload)]]),
  );
  const sender = await connectPostgres(pg.url);
  try {
    /** Notifies `payload` until the listener heard it. */
    const notifyUntilHeard = async (payload: string) => {
      const deadline = Date.now() + _HEARD_MS_MAX;
      while (!heard.includes(payload)) {
        assert.ok(Date.now() < deadline, `${payload} heard within ${_HEARD_MS_MAX} ms`);
        await sender`SELECT pg_notify('lottery_test', ${payload})`.catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await notifyUntilHeard("before");
    await pg.stop("immediate");
    await pg.start();
    await notifyUntilHeard("after");
  } finally {
    await sender.end();
    await listener.close();
  }
  assert.deepEqual([...new Set(heard)], ["before", "after"]);
});

for (const mode of ["fast", "immediate"] as const) {
  postgresTest(
    `a server on a PostgreSQL store exits on SIGTERM after the database restarted (${mode} stop)`,
    async () => {
      await using pg = await startPostgres();
      await withTempDir(async (dir) => {
        const server = await startLocalServer({
          STORE_URL: pg.url,
          DRAW_ID: `exit-${mode}`,
          AGENCIES: "2",
          ADMIN_PORT: "off",
          STORAGE_DIR: dir,
        });
        await pg.stop(mode);
        await pg.start();
        server.process.kill("SIGTERM");
        await waitForLine(server.lines, "shutdown");
        // main() returned: the process ends unless something still holds it.
        const guard = setTimeout(() => server.process.kill("SIGKILL"), _EXIT_MS_MAX);
        const code = await server.exited;
        clearTimeout(guard);
        assert.equal(
          code,
          0,
          `exit code once the shutdown was logged (137: still running after ${_EXIT_MS_MAX} ms)`,
        );
      });
    },
  );
}
