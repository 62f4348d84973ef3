/**
 * The database restarted under load: one to three replicas of a PostgreSQL
 * draw take several agencies' uploads through a round-robin proxy, and at a
 * random point (after the clients see a share of their acks, or after the
 * replicas logged some stored batches) PostgreSQL is stopped, fast (sessions
 * ended) or immediate (as a crash, recovered from its log at the next
 * start), and started again once an agency lost its connection over it.
 * Batches in flight are refused (`storeFailed`) or retried, never
 * acknowledged and lost: right after the restart the database holds every
 * bet acknowledged before the stop, and at the end every agency's file once,
 * every acknowledged bet, one draw, and every agency its exact winners.
 *
 * FAULT_SEED / FAULT_TRIALS / FAULT_SCALE: see helpers/trials.ts.
 */

import assert from "node:assert/strict";
import { fieldOf, linesOf } from "../../lib/dev/local_cluster.ts";
import { isLine } from "../helpers/log_lines.ts";
import { postgresTest, startPostgres, type TestPostgres } from "../helpers/postgres.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { writeAgencyData } from "./helpers/agency_data.ts";
import {
  acknowledgedBets,
  assertAcknowledgedStored,
  assertDatabaseHoldsExactly,
  assertDrawLoggedOnce,
  checkerSql,
  countBatches,
  drawnAt,
  type ReplicaRun,
  ReplicaSet,
} from "./helpers/pg_replicas.ts";
import { Rng, runTrials, trialPlan } from "./helpers/trials.ts";
import { assertUploadsExact, type RunningUpload, startUploads } from "./helpers/uploads.ts";

/** When a trial stops the database. */
type StopPoint =
  | { kind: "clientAcks"; fraction: number }
  | { kind: "serverStored"; batches: number };

/** Totals over every trial, for the report. */
const totals = {
  trials: 0,
  restarts: { fast: 0, immediate: 0 },
  bets: 0,
  batches: 0,
  acknowledgedBeforeStop: 0,
  acknowledgedChecked: 0,
  batchesAcknowledged: 0,
  batchesRefusedStoreFailed: 0,
  hellosRefused: 0,
  draws: 0,
  drawsLogged: 0,
};

/** Every acknowledged bet of every upload so far, keyed agency,document,number. */
function acknowledgedOf(uploads: readonly RunningUpload[]): Map<string, number> {
  const all = new Map<string, number>();
  for (const upload of uploads) {
    for (const [key, count] of acknowledgedBets(upload.agency, upload.lines)) all.set(key, count);
  }
  return all;
}

/** Refusals the replicas logged with code `code`: of batches, and of whole sessions. */
function refusals(
  runs: readonly ReplicaRun[],
  code: string,
): { batches: number; sessions: number } {
  const count = (action: string) =>
    runs.reduce(
      (sum, { server }) =>
        sum + linesOf(server.lines, action, "fail").filter((line) => fieldOf(line, "code") === code)
          .length,
      0,
    );
  return { batches: count("apuesta_recibida"), sessions: count("protocol_error") };
}

async function restartTrial(pg: TestPostgres, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const agencies = rng.int(3, 8);
  const specs = Array.from({ length: agencies }, () => ({
    bets: rng.int(200, 1_000),
    winners: rng.int(0, 3),
  }));
  const total = specs.reduce((sum, spec) => sum + spec.bets, 0);
  const replicaCount = rng.int(1, 3);
  const mode = rng.pick(["fast", "immediate"] as const);
  const point = rng.pick<() => StopPoint>([
    () => ({ kind: "clientAcks", fraction: rng.float() * 0.8 }),
    () => ({ kind: "serverStored", batches: rng.int(1, 60) }),
  ])();
  const batchMaxAmount = rng.int(1, 25);
  const batchWindow = rng.int(1, 16);
  const url = await pg.createDatabase(`restart_${seed}`);
  const drawId = `restart-${seed}`;
  await withTempDir(async (dir) => {
    const data = await writeAgencyData(dir, specs, seed);
    const env = { STORE_URL: url, DRAW_ID: drawId, AGENCIES: String(agencies), STORAGE_DIR: dir };
    const stopNow = Promise.withResolvers<void>();
    let stored = 0;
    let acked = 0;
    let lostSinceStop: PromiseWithResolvers<void> | undefined;
    await using replicas = new ReplicaSet(env, replicaCount, (_, line) => {
      if (isLine(line, "apuesta_recibida")) stored += 1;
      if (point.kind === "serverStored" && stored >= point.batches) stopNow.resolve();
    });
    await replicas.startAll();
    const uploads = startUploads(data.files, {
      port: replicas.proxy.port,
      batchMaxAmount,
      batchWindow,
      reconnectBudgetMs: 30_000,
      onLine: (line) => {
        if (isLine(line, "connection_lost", "in_progress")) lostSinceStop?.resolve();
        if (!isLine(line, "apuesta_enviada")) return;
        acked += 1;
        if (point.kind === "clientAcks" && acked >= total * point.fraction) stopNow.resolve();
      },
    });
    const allDone = Promise.all(uploads.map((upload) => upload.done));
    allDone.catch(() => {});
    const settled = allDone.then(() => true, () => true);

    const stopped = await Promise.race([
      stopNow.promise.then(() => true),
      settled.then(() => false),
    ]);
    let ackedBeforeStop = new Map<string, number>();
    const stoppedAtMs: number[] = [];
    if (stopped) {
      lostSinceStop = Promise.withResolvers();
      stoppedAtMs.push(Date.now());
      await pg.stop(mode);
      ackedBeforeStop = acknowledgedOf(uploads);
      // Down until an agency felt it (or every upload ended without the database).
      await Promise.race([lostSinceStop.promise, settled]);
      await pg.start();
      totals.restarts[mode] += 1;
      const sql = await checkerSql(url);
      try {
        totals.acknowledgedBeforeStop += await assertAcknowledgedStored(
          sql,
          drawId,
          ackedBeforeStop,
        );
      } finally {
        await sql.end();
      }
    }

    await allDone;
    const codes = await replicas.stop();
    assert.deepEqual(codes, codes.map(() => 0), "every replica exits 0 on SIGTERM");
    await assertUploadsExact(uploads, data.bets);
    const sql = await checkerSql(url);
    try {
      totals.bets += await assertDatabaseHoldsExactly(sql, drawId, data.bets);
      totals.batches += await countBatches(sql, drawId);
      totals.acknowledgedChecked += await assertAcknowledgedStored(
        sql,
        drawId,
        acknowledgedOf(uploads),
      );
      const stamped = await drawnAt(sql, drawId);
      assert.ok(stamped !== undefined, "the database stamped the draw");
      totals.drawsLogged += assertDrawLoggedOnce(replicas.runs, stamped.getTime(), stoppedAtMs);
      totals.draws += 1;
    } finally {
      await sql.end();
    }
    const storeFailed = refusals(replicas.runs, "storeFailed");
    totals.batchesRefusedStoreFailed += storeFailed.batches;
    totals.hellosRefused += storeFailed.sessions;
    totals.batchesAcknowledged += replicas.runs.reduce(
      (sum, run) => sum + linesOf(run.server.lines, "apuesta_recibida").length,
      0,
    );
    totals.trials += 1;
  });
}

postgresTest(
  "PostgreSQL restarted mid-upload: no acknowledged bet is lost, every file stored once, one draw, right winners",
  async () => {
    const plan = trialPlan("postgres_restart", 6);
    const started = Date.now();
    await using pg = await startPostgres();
    await runTrials(plan, 1, (seed) => restartTrial(pg, seed));
    console.log(
      `postgres_restart: ${totals.trials} trials, restarts ${JSON.stringify(totals.restarts)}, ` +
        `${totals.acknowledgedBeforeStop} bets acknowledged before a stop found stored after it, ` +
        `${totals.batchesAcknowledged} batches acknowledged, ${totals.batchesRefusedStoreFailed} refused storeFailed, ` +
        `${totals.hellosRefused} sessions ended storeFailed, ${totals.bets} bets in ${totals.batches} batches compared ` +
        `(${totals.acknowledgedChecked} acknowledged), ${totals.draws} draws (${totals.drawsLogged} logged by their maker), in ${
          Date.now() - started
        } ms`,
    );
  },
);
