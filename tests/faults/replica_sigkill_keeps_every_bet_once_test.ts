/**
 * Replicas killed: three server processes share one PostgreSQL draw, twenty
 * agencies upload through a round-robin proxy (the swarm's routing mesh),
 * and replicas are SIGKILLed at random points (after a random delay, after
 * the clients see acks, after a replica logs stored batches, when agencies
 * finish, right after the draw) and restarted at once, as a swarm would.
 * The agencies reconnect to another replica and resume by position. After
 * each trial the database holds every agency's file once, at its positions,
 * the draw is stamped and logged as made by one run, and every agency got
 * its exact winners.
 *
 * FAULT_SEED / FAULT_TRIALS / FAULT_SCALE: see helpers/trials.ts.
 */

import assert from "node:assert/strict";
import { isLine } from "../helpers/log_lines.ts";
import { postgresTest, startPostgres, type TestPostgres } from "../helpers/postgres.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { writeAgencyData } from "./helpers/agency_data.ts";
import {
  assertDatabaseHoldsExactly,
  assertDrawLoggedOnce,
  checkerSql,
  countBatches,
  countRunLines,
  drawnAt,
  ReplicaSet,
} from "./helpers/pg_replicas.ts";
import { Rng, runTrials, trialPlan } from "./helpers/trials.ts";
import { assertUploadsExact, type RunningUpload, startUploads } from "./helpers/uploads.ts";

const _REPLICAS = 3;
const _AGENCIES = 20;

/** Where a trial kills a replica. */
type KillPoint =
  | { kind: "delay"; ms: number }
  | { kind: "clientAcks"; fraction: number }
  | { kind: "serverStored"; batches: number }
  | { kind: "finished"; agencies: number }
  | { kind: "draw" };

/** Totals over every trial, for the report. */
const totals = {
  trials: 0,
  restarts: 0,
  bets: 0,
  batches: 0,
  acknowledged: 0,
  refused: 0,
  drawsStamped: 0,
  drawsLogged: 0,
  kills: {} as Record<KillPoint["kind"], number>,
};

function planKills(rng: Rng): KillPoint[] {
  return Array.from({ length: rng.int(1, 4) }, () =>
    rng.pick<() => KillPoint>([
      () => ({ kind: "delay", ms: rng.int(0, 800) }),
      () => ({ kind: "clientAcks", fraction: rng.float() / 2 }),
      () => ({ kind: "serverStored", batches: rng.int(1, 40) }),
      () => ({ kind: "finished", agencies: rng.int(1, _AGENCIES) }),
      () => ({ kind: "draw" }),
    ])());
}

async function replicaTrial(pg: TestPostgres, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const specs = Array.from({ length: _AGENCIES }, () => ({
    bets: rng.int(150, 800),
    winners: rng.int(0, 3),
  }));
  const total = specs.reduce((sum, spec) => sum + spec.bets, 0);
  const batchMaxAmount = rng.int(1, 25);
  const batchWindow = rng.int(1, 16);
  const kills = planKills(rng);
  const url = await pg.createDatabase(`replicas_${seed}`);
  const drawId = `replicas-${seed}`;
  await withTempDir(async (dir) => {
    const data = await writeAgencyData(dir, specs, seed);
    const env = { STORE_URL: url, DRAW_ID: drawId, AGENCIES: String(_AGENCIES), STORAGE_DIR: dir };

    // Counters since the armed kill point was set, and the kill it fires.
    interface Armed {
      point: KillPoint;
      acked: number;
      acksTarget: number;
      stored: number;
      fire: (index: number) => void;
    }
    let armed: Armed | undefined;
    let ackedSeen = 0;
    let finishedSeen = 0;
    const onClientLine = (line: string) => {
      if (!isLine(line, "apuesta_enviada")) return;
      ackedSeen += 1;
      if (armed?.point.kind !== "clientAcks") return;
      armed.acked += 1;
      if (armed.acked >= armed.acksTarget) armed.fire(rng.int(0, _REPLICAS - 1));
    };
    const onServerLine = (index: number, line: string) => {
      if (isLine(line, "agencia_finalizada")) finishedSeen += 1;
      const point = armed?.point;
      if (armed === undefined || point === undefined) return;
      if (point.kind === "serverStored" && isLine(line, "apuesta_recibida")) {
        armed.stored += 1;
        if (armed.stored >= point.batches) armed.fire(index);
      } else if (
        point.kind === "finished" && isLine(line, "agencia_finalizada") &&
        finishedSeen >= point.agencies
      ) {
        armed.fire(index);
      } else if (point.kind === "draw" && isLine(line, "sorteo")) {
        armed.fire(index);
      }
    };

    await using replicas = new ReplicaSet(env, _REPLICAS, onServerLine);
    await replicas.startAll();
    const uploads: RunningUpload[] = startUploads(data.files, {
      port: replicas.proxy.port,
      batchMaxAmount,
      batchWindow,
      onLine: onClientLine,
      reconnectBudgetMs: 30_000,
    });
    let settled = false;
    const allDone = Promise.all(uploads.map((upload) => upload.done)).finally(() => settled = true);
    allDone.catch(() => {});

    /** Arms a kill point; resolves with the replica killed, or undefined if the uploads ended first. */
    const killAt = async (point: KillPoint): Promise<number | undefined> => {
      const outcome = Promise.withResolvers<number | undefined>();
      const arming: Armed = {
        point,
        acked: 0,
        acksTarget: point.kind === "clientAcks"
          ? Math.max(1, Math.floor((total - ackedSeen) * point.fraction))
          : 0,
        stored: 0,
        fire: (index) => {
          armed = undefined;
          outcome.resolve(index);
        },
      };
      armed = arming;
      if (point.kind === "finished" && finishedSeen >= point.agencies) {
        arming.fire(rng.int(0, _REPLICAS - 1));
      }
      const timer = point.kind === "delay"
        ? setTimeout(() => armed?.fire(rng.int(0, _REPLICAS - 1)), point.ms)
        : undefined;
      allDone.then(() => outcome.resolve(undefined), () => outcome.resolve(undefined));
      const index = await outcome.promise;
      clearTimeout(timer);
      armed = undefined;
      return index;
    };
    // A killed replica restarts in the background, as a swarm restarts a
    // task, while the next kill point is armed; a kill picks a live replica.
    const restarts: Promise<unknown>[] = [];
    for (const point of kills) {
      if (settled) break;
      const picked = await killAt(point);
      if (picked === undefined) break;
      const index = replicas.live(picked) !== undefined ? picked : replicas.liveIndexes()[0];
      if (index === undefined) continue;
      await replicas.kill(index);
      totals.kills[point.kind] = (totals.kills[point.kind] ?? 0) + 1;
      restarts.push(replicas.start(index).then(() => totals.restarts += 1));
    }
    await Promise.all(restarts);
    await allDone;
    const codes = await replicas.stop();
    assert.deepEqual(codes, codes.map(() => 0), "every live replica exits 0 on SIGTERM");
    await assertUploadsExact(uploads, data.bets);
    const sql = await checkerSql(url);
    try {
      totals.bets += await assertDatabaseHoldsExactly(sql, drawId, data.bets);
      totals.batches += await countBatches(sql, drawId);
      const stamped = await drawnAt(sql, drawId);
      assert.ok(stamped !== undefined, "the database stamped the draw");
      totals.drawsStamped += 1;
      totals.drawsLogged += assertDrawLoggedOnce(replicas.runs, stamped.getTime());
    } finally {
      await sql.end();
    }
    totals.acknowledged += countRunLines(replicas.runs, "apuesta_recibida");
    totals.refused += countRunLines(replicas.runs, "apuesta_recibida", "fail");
    totals.trials += 1;
  });
}

postgresTest(
  "replicas SIGKILLed at random points and restarted: the database holds every bet of every file once, one draw, right winners",
  async () => {
    const plan = trialPlan("replica_sigkill", 10);
    const started = Date.now();
    await using pg = await startPostgres();
    await runTrials(plan, 1, (seed) => replicaTrial(pg, seed));
    console.log(
      `replica_sigkill: ${totals.trials} trials, kills ${
        JSON.stringify(totals.kills)
      }, ${totals.restarts} restarts, ${totals.bets} bets in ${totals.batches} batches compared, ` +
        `${totals.acknowledged} batches acknowledged, ${totals.refused} refused, ` +
        `${totals.drawsStamped} draws stamped (${totals.drawsLogged} logged by their maker), in ${
          Date.now() - started
        } ms`,
    );
  },
);
