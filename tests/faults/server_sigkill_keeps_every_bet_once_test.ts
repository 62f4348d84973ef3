/**
 * Crash and restart: the real server process is killed with SIGKILL at random
 * points of an ingest of several agencies (after a random delay, right after
 * the clients see acks, right after the server logs a stored batch, when
 * agencies finish, right after the draw), sometimes with a torn tail added to
 * its files as an unsynced write would leave; it is restarted on the same
 * storage and port, the in-test uploads reconnect and finish. After each
 * trial the store holds the multiset of the data files' rows exactly, the
 * draw happened once, and every agency got its right winners.
 *
 * FAULT_SEED / FAULT_TRIALS / FAULT_SCALE: see helpers/trials.ts.
 */

import assert from "node:assert/strict";
import { localBetsPath } from "../helpers/storage.ts";
import {
  fieldOf,
  linesOf,
  type LocalServer,
  startLocalServer,
} from "../../lib/dev/local_cluster.ts";
import { journalPathFor } from "../../lib/store/store_file.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { assertStoreHoldsExactly, writeAgencyData } from "./helpers/agency_data.ts";
import { Rng, runTrials, trialPlan } from "./helpers/trials.ts";
import {
  assertUploadsExact,
  countLines,
  type RunningUpload,
  startUploads,
} from "./helpers/uploads.ts";

/** Where a trial kills the server. */
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
  tornTails: 0,
  betsCompared: 0,
  kills: {} as Record<KillPoint["kind"], number>,
};

function planKills(rng: Rng, agencies: number): KillPoint[] {
  const kills: KillPoint[] = [];
  const count = rng.int(1, 3);
  while (kills.length < count) {
    kills.push(
      rng.pick<() => KillPoint>([
        () => ({ kind: "delay", ms: rng.int(0, 250) }),
        () => ({ kind: "clientAcks", fraction: rng.float() }),
        () => ({ kind: "serverStored", batches: rng.int(1, 30) }),
        () => ({ kind: "finished", agencies: rng.int(1, agencies) }),
        () => ({ kind: "draw" }),
      ])(),
    );
  }
  return kills;
}

/** Appends what an interrupted, never journaled write can leave behind. */
async function tearTail(rng: Rng, storage: string): Promise<boolean> {
  let torn = false;
  if (rng.chance(0.3)) {
    await Deno.writeFile(storage, rng.bytes(rng.int(1, 300)), { append: true, create: true });
    torn = true;
  }
  if (rng.chance(0.3)) {
    const record = `B ${rng.int(1, 4)} ${rng.int(1, 999)} ${rng.int(1, 25)} ${rng.int(1, 99_999)}`;
    const partial = record.slice(0, rng.int(1, record.length));
    await Deno.writeTextFile(journalPathFor(storage), partial, { append: true, create: true });
    torn = true;
  }
  return torn;
}

/** Starts the server on `port`, retrying while the old socket lets go of it. */
async function restartOn(
  env: Record<string, string>,
  port: number,
  onLine: (line: string) => void,
): Promise<LocalServer> {
  for (let attempt = 1;; attempt += 1) {
    try {
      return await startLocalServer({ ...env, SERVER_PORT: String(port) }, onLine);
    } catch (error) {
      if (attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function crashTrial(seed: number): Promise<void> {
  const rng = new Rng(seed);
  const agencies = rng.int(2, 4);
  const specs = Array.from({ length: agencies }, () => ({
    bets: rng.int(100, 400),
    winners: rng.int(0, 3),
  }));
  const batchMaxAmount = rng.int(1, 25);
  const batchWindow = rng.int(1, 16);
  const kills = planKills(rng, agencies);
  await withTempDir(async (dir) => {
    const data = await writeAgencyData(dir, specs, seed);
    const storage = localBetsPath(dir);
    const env = { STORAGE_DIR: dir, AGENCIES: String(agencies), SHUTDOWN_GRACE: "2s" };

    // The armed kill point, checked on every line of the server and the uploads.
    let armed: { point: KillPoint; acksTarget: number; fire: () => void } | undefined;
    let runLines: string[] = [];
    const uploads: RunningUpload[] = [];
    const acked = () =>
      uploads.reduce((sum, up) => sum + countLines(up.lines, "apuesta_enviada"), 0);
    const check = () => {
      if (armed === undefined) return;
      const { point } = armed;
      const due = (point.kind === "clientAcks" && acked() >= armed.acksTarget) ||
        (point.kind === "serverStored" &&
          countLines(runLines, "apuesta_recibida") >= point.batches) ||
        (point.kind === "finished" &&
          countLines(runLines, "agencia_finalizada") >= point.agencies) ||
        (point.kind === "draw" && countLines(runLines, "sorteo") >= 1);
      if (due) armed.fire();
    };
    const onServerLine = () => check();

    let server = await startLocalServer(env, onServerLine);
    const port = server.port;
    const runs: LocalServer[] = [server];
    runLines = server.lines;
    const total = specs.reduce((sum, spec) => sum + spec.bets, 0);
    uploads.push(...startUploads(data.files, { port, batchMaxAmount, batchWindow, onLine: check }));
    let settled = false;
    const allDone = Promise.all(uploads.map((upload) => upload.done)).finally(() => settled = true);
    allDone.catch(() => {});

    /** Arms a kill point; true once it killed the server, false if the uploads ended first. */
    const killAt = async (point: KillPoint): Promise<boolean> => {
      const target = server;
      const outcome = Promise.withResolvers<boolean>();
      armed = {
        point,
        acksTarget: point.kind === "clientAcks"
          ? acked() + Math.max(1, Math.floor((total - acked()) * point.fraction))
          : 0,
        fire: () => {
          armed = undefined;
          target.process.kill("SIGKILL");
          outcome.resolve(true);
        },
      };
      const timer = point.kind === "delay" ? setTimeout(() => armed?.fire(), point.ms) : undefined;
      allDone.then(() => outcome.resolve(false), () => outcome.resolve(false));
      check();
      const killed = await outcome.promise;
      clearTimeout(timer);
      armed = undefined;
      return killed;
    };
    for (const point of kills) {
      if (settled || !(await killAt(point))) break;
      await server.exited;
      totals.kills[point.kind] = (totals.kills[point.kind] ?? 0) + 1;
      if (await tearTail(rng, storage)) totals.tornTails += 1;
      server = await restartOn(env, port, onServerLine);
      runLines = server.lines;
      runs.push(server);
      totals.restarts += 1;
    }

    await allDone;
    assert.equal(await server.stop(), 0, "the last server run exits 0 on SIGTERM");
    await assertUploadsExact(uploads, data.bets);
    totals.betsCompared += await assertStoreHoldsExactly(storage, data.bets);
    assertDrawnOnce(runs, agencies);
    totals.trials += 1;
  });
}

/**
 * The draw is made once over every run: a run logs `sorteo` exactly once
 * with `restored: true` when it found the draw made on disk, and at most
 * once with `restored: false` otherwise; over all runs the draw is made
 * (restored: false) at most once, and when never, it was made durably just
 * before a kill (a later run restored every agency as finished).
 */
function assertDrawnOnce(runs: readonly LocalServer[], agencies: number): void {
  let draws = 0;
  let restoredDrawn = false;
  for (const [index, run] of runs.entries()) {
    const restore = linesOf(run.lines, "restore")[0];
    assert.ok(restore !== undefined, `run ${index} logged its restore`);
    const finished = Number(fieldOf(restore, "agencies_finished"));
    const sorteos = linesOf(run.lines, "sorteo");
    const restored = sorteos.filter((line) => fieldOf(line, "restored") === "true").length;
    if (finished >= agencies) {
      restoredDrawn = true;
      assert.deepEqual(
        [sorteos.length, restored],
        [1, 1],
        `run ${index} restored a made draw: one sorteo line, restored, and no new draw`,
      );
    } else {
      assert.equal(restored, 0, `run ${index} restored no made draw`);
      draws += sorteos.length;
    }
  }
  assert.ok(draws === 1 || (draws === 0 && restoredDrawn), `draws made: ${draws}`);
}

Deno.test("server SIGKILLed at random points and restarted: the store holds every bet of every file once, one draw, right winners", async () => {
  const plan = trialPlan("server_sigkill", 50);
  const started = Date.now();
  await runTrials(plan, 2, crashTrial);
  console.log(
    `server_sigkill: ${totals.trials} trials, kills ${
      JSON.stringify(totals.kills)
    }, ${totals.restarts} restarts, ${totals.tornTails} torn tails, ${totals.betsCompared} bets compared in ${
      Date.now() - started
    } ms`,
  );
});
