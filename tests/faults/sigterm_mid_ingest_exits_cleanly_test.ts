/**
 * SIGTERM to the real server process during a heavy ingest of several
 * agencies: it exits 0 within its grace period; what it stored is whole
 * batches, a prefix of each agency's file, and exactly the batches the
 * agencies saw acknowledged (none stored unacknowledged); after a restart on
 * the same storage and port the agencies resend the rest and the store ends
 * with every bet once.
 *
 * FAULT_SEED / FAULT_TRIALS / FAULT_SCALE: see helpers/trials.ts.
 */

import assert from "node:assert/strict";
import { localBetsPath } from "../helpers/storage.ts";
import type { Bet } from "../../lib/bet/bet.ts";
import { BetStore } from "../../lib/store/bet_store.ts";
import { type LocalServer, startLocalServer } from "../../lib/dev/local_cluster.ts";
import { isLine, LineWatch } from "../helpers/log_lines.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { assertStoreHoldsExactly, storedBets, writeAgencyData } from "./helpers/agency_data.ts";
import { Rng, runTrials, trialPlan } from "./helpers/trials.ts";
import { assertUploadsExact, countLines, startUploads, waitUntil } from "./helpers/uploads.ts";

const _GRACE_MS = 2_000;
/** Exit may take this much past the grace period (closing, process exit). */
const _EXIT_SLACK_MS = 1_500;

const totals = { trials: 0, storedAtStop: 0, exitMsMax: 0, betsCompared: 0 };

function sameBet(a: Bet, b: Bet): boolean {
  return a.agency === b.agency && a.firstName === b.firstName && a.lastName === b.lastName &&
    a.document === b.document && a.birthdate === b.birthdate && a.number === b.number;
}

async function sigtermTrial(seed: number): Promise<void> {
  const rng = new Rng(seed);
  const agencies = 3;
  const specs = Array.from({ length: agencies }, () => ({
    bets: rng.int(20_000, 30_000),
    winners: rng.int(0, 4),
  }));
  const batchMaxAmount = rng.pick([50, 100]);
  const stopAfterBatches = rng.int(20, 300);
  await withTempDir(async (dir) => {
    const data = await writeAgencyData(dir, specs, seed);
    const storage = localBetsPath(dir);
    const env = {
      STORAGE_DIR: dir,
      AGENCIES: String(agencies),
      SHUTDOWN_GRACE: `${_GRACE_MS}ms`,
    };
    const watch = new LineWatch();
    let server: LocalServer = await startLocalServer(env, watch.onLine);
    const port = server.port;
    let stored = 0;
    const stopPoint = watch.waitFor(
      (line) => {
        if (isLine(line, "apuesta_recibida")) stored += 1;
        return stored >= stopAfterBatches || isLine(line, "sorteo");
      },
      `${stopAfterBatches} stored batches or the draw`,
    );
    const uploads = startUploads(data.files, {
      port,
      batchMaxAmount,
      batchWindow: 64,
      reconnectBudgetMs: 30_000,
    });
    try {
      await stopPoint;
      const started = performance.now();
      server.process.kill("SIGTERM");
      assert.equal(await server.exited, 0, "exit code 0 after SIGTERM");
      const exitMs = performance.now() - started;
      totals.exitMsMax = Math.max(totals.exitMsMax, Math.round(exitMs));
      assert.ok(exitMs < _GRACE_MS + _EXIT_SLACK_MS, `exited after ${Math.round(exitMs)} ms`);
      assert.match(server.lines.at(-1)!, /action: shutdown \| result: success/);

      // Each agency has read what the server sent before it closed.
      await waitUntil(
        () =>
          uploads.every((upload) =>
            countLines(upload.lines, "connection_lost", "in_progress") > 0 ||
            countLines(upload.lines, "connect", "in_progress") > 0
          ),
        "every agency noticing the closed connection",
      );
      // What is on disk now: whole batches, each agency's file prefix, every ack covered.
      const { store, report } = await BetStore.open(storage);
      await store.close();
      assert.equal(report.discardedBetsBytes + report.discardedJournalBytes, 0, "no torn write");
      const onDisk = await storedBets(storage);
      for (const [index, upload] of uploads.entries()) {
        const agency = index + 1;
        const mine = onDisk.filter((bet) => bet.agency === agency);
        const file = data.bets.filter((bet) => bet.agency === agency);
        assert.ok(
          mine.every((bet, position) => sameBet(bet, file[position]!)),
          `agency ${agency}: stored rows are a prefix of its file`,
        );
        assert.ok(
          mine.length % batchMaxAmount === 0 || mine.length === file.length,
          `agency ${agency}: ${mine.length} stored bets are whole batches of ${batchMaxAmount}`,
        );
        const acked = countLines(upload.lines, "apuesta_enviada");
        assert.equal(acked, mine.length, `agency ${agency}: every stored bet was acknowledged`);
        totals.storedAtStop += mine.length;
      }

      server = await startLocalServer({ ...env, SERVER_PORT: String(port) });
      await assertUploadsExact(uploads, data.bets);
    } finally {
      for (const upload of uploads) upload.abort();
      await server.stop();
    }
    totals.betsCompared += await assertStoreHoldsExactly(storage, data.bets);
    totals.trials += 1;
  });
}

Deno.test("SIGTERM during a heavy ingest: exit 0 within the grace period, whole batches stored and each of them acknowledged, exact store after restart", async () => {
  const plan = trialPlan("sigterm_ingest", 3);
  await runTrials(plan, 1, sigtermTrial);
  console.log(
    `sigterm_ingest: ${totals.trials} trials, slowest exit ${totals.exitMsMax} ms (grace ${_GRACE_MS} ms), ${totals.storedAtStop} bets stored and acked at the stops, ${totals.betsCompared} bets compared`,
  );
});
