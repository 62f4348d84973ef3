/**
 * One agency, two uploaders, two replicas of one PostgreSQL draw: an older
 * upload of the agency's file runs slowly against replica 0 (through a
 * throttle), and at a random point of it (right after its hello, or after
 * some of its bets were acknowledged) a newer upload of the same file says
 * hello to replica 1. The older is fenced through the database: its upload
 * ends refused with `superseded`, replica 0 closes its connection, and
 * nothing it sends afterwards is stored;
 * the newer resumes from what the older stored and completes. The database
 * then holds the agency's file exactly once, every bet the older was told
 * was stored is there, and every agency gets its exact winners.
 *
 * FAULT_SEED / FAULT_TRIALS / FAULT_SCALE: see helpers/trials.ts.
 */

import assert from "node:assert/strict";
import { fieldOf, linesOf } from "../../lib/dev/local_cluster.ts";
import { startThrottleProxy } from "../../lib/dev/throttle_proxy.ts";
import { isLine } from "../helpers/log_lines.ts";
import { postgresTest, startPostgres, type TestPostgres } from "../helpers/postgres.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { writeAgencyData } from "./helpers/agency_data.ts";
import {
  acknowledgedBets,
  assertAcknowledgedStored,
  assertDatabaseHoldsExactly,
  checkerSql,
  countBatches,
  ReplicaSet,
} from "./helpers/pg_replicas.ts";
import { Rng, runTrials, trialPlan } from "./helpers/trials.ts";
import { assertUploadsExact, type RunningUpload, startUpload } from "./helpers/uploads.ts";

/** The agency both uploaders upload for. */
const _CONTESTED = 1;

/** Totals over every trial, for the report. */
const totals = {
  trials: 0,
  bets: 0,
  batches: 0,
  olderAcknowledgedBets: 0,
  olderRefusedSuperseded: 0,
  /** The older heard it as a nack of a batch the database refused. */
  supersededByNack: 0,
  /** The older heard it as the error frame before the close. */
  supersededByError: 0,
  fencedOnReplica0: 0,
  /** The fenced connection's close_connection reasons on replica 0. */
  closeReasons: {} as Record<string, number>,
};

async function takeoverTrial(pg: TestPostgres, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const agencies = rng.int(1, 3);
  const specs = Array.from({ length: agencies }, (_, index) => ({
    bets: index === 0 ? rng.int(300, 1_500) : rng.int(20, 200),
    winners: rng.int(0, 3),
  }));
  const contestedBets = specs[0]!.bets;
  // 0: the newer says hello right after the older's hello.
  const takeoverAfterAcks = rng.chance(0.2) ? 0 : rng.int(1, Math.floor(contestedBets * 0.6));
  const olderRate = rng.int(15_000, 40_000);
  const url = await pg.createDatabase(`takeover_${seed}`);
  const drawId = `takeover-${seed}`;
  await withTempDir(async (dir) => {
    const data = await writeAgencyData(dir, specs, seed);
    const env = { STORE_URL: url, DRAW_ID: drawId, AGENCIES: String(agencies), STORAGE_DIR: dir };
    await using replicas = new ReplicaSet(env, 2);
    await replicas.startAll();
    const replica0 = replicas.live(0)!.server;
    const replica1 = replicas.live(1)!.server;
    await using throttle = {
      proxy: startThrottleProxy({ targetPort: replica0.port, bytesPerS: olderRate }),
      [Symbol.asyncDispose]() {
        return this.proxy.close();
      },
    };

    const takeover = Promise.withResolvers<void>();
    let olderAcked = 0;
    const older = startUpload({
      agency: _CONTESTED,
      port: throttle.proxy.port,
      dataFile: data.files[0]!,
      batchMaxAmount: rng.int(1, 40),
      batchWindow: rng.int(1, 16),
      onLine: (line) => {
        if (takeoverAfterAcks === 0 && isLine(line, "hello")) takeover.resolve();
        if (!isLine(line, "apuesta_enviada")) return;
        olderAcked += 1;
        if (olderAcked >= takeoverAfterAcks) takeover.resolve();
      },
    });
    const olderOutcome = older.done.then(
      (summary) => `completed with ${summary?.betsConfirmed} bets`,
      (error: Error) => error.message,
    );
    olderOutcome.then(() => takeover.resolve());
    await takeover.promise;
    const newer = startUpload({
      agency: _CONTESTED,
      port: replica1.port,
      dataFile: data.files[0]!,
      batchMaxAmount: rng.int(1, 40),
      batchWindow: rng.int(1, 16),
    });
    const others: RunningUpload[] = data.files.slice(1).map((dataFile, index) =>
      startUpload({
        agency: index + 2,
        port: rng.pick([replica0, replica1]).port,
        dataFile,
        batchMaxAmount: rng.int(1, 25),
        batchWindow: rng.int(1, 16),
      })
    );

    const outcome = await olderOutcome;
    assert.match(outcome, /superseded/, "the older upload is refused superseded");
    await assertUploadsExact([newer, ...others], data.bets);
    const codes = await replicas.stop();
    assert.deepEqual(codes, [0, 0], "both replicas exit 0 on SIGTERM");
    const fenced = linesOf(replica0.lines, "hello", "in_progress").length;
    assert.equal(fenced, 1, "replica 0 fenced the older connection once");
    const fenceAt = replica0.lines.findIndex((line) => isLine(line, "hello", "in_progress"));
    const closes = replica0.lines.slice(fenceAt).filter((line) =>
      isLine(line, "close_connection") && fieldOf(line, "agency") === String(_CONTESTED)
    );
    assert.equal(closes.length, 1, "replica 0 closed the fenced connection once, after the fence");
    const reason = fieldOf(closes[0]!, "reason") ?? "none";
    totals.closeReasons[reason] = (totals.closeReasons[reason] ?? 0) + 1;
    assert.equal(
      linesOf(replica1.lines, "hello", "in_progress").length,
      0,
      "replica 1 fenced nothing: the newer connection kept the agency",
    );

    const sql = await checkerSql(url);
    try {
      totals.bets += await assertDatabaseHoldsExactly(sql, drawId, data.bets);
      totals.batches += await countBatches(sql, drawId);
      totals.olderAcknowledgedBets += await assertAcknowledgedStored(
        sql,
        drawId,
        acknowledgedBets(_CONTESTED, older.lines),
      );
    } finally {
      await sql.end();
    }
    totals.olderRefusedSuperseded += 1;
    if (outcome.startsWith("unexpected answer")) totals.supersededByError += 1;
    else totals.supersededByNack += 1;
    totals.fencedOnReplica0 += fenced;
    totals.trials += 1;
  });
}

postgresTest(
  "two uploaders of one agency on two replicas: the older is fenced with superseded, the newer stores the file once",
  async () => {
    const plan = trialPlan("two_uploaders", 8);
    const started = Date.now();
    await using pg = await startPostgres();
    await runTrials(plan, 1, (seed) => takeoverTrial(pg, seed));
    console.log(
      `two_uploaders: ${totals.trials} trials, ${totals.olderRefusedSuperseded} older uploads refused superseded ` +
        `(${totals.supersededByNack} by a batch's nack, ${totals.supersededByError} by the error frame; ${totals.fencedOnReplica0} fenced on replica 0, closed ${
          JSON.stringify(totals.closeReasons)
        }), ${totals.olderAcknowledgedBets} bets acknowledged ` +
        `to the older and found stored, ${totals.bets} bets in ${totals.batches} batches compared, in ${
          Date.now() - started
        } ms`,
    );
  },
);
