/**
 * A real client process killed with SIGKILL mid-upload (often mid-frame, with
 * batches in flight) and started again, each run with another batch size and
 * window: the server's hello tells it how many bets are stored, it resumes at
 * that position instead of resending the file, and the store ends with every
 * bet once.
 *
 * FAULT_SEED / FAULT_TRIALS / FAULT_SCALE: see helpers/trials.ts.
 */

import assert from "node:assert/strict";
import { localBetsPath } from "../helpers/storage.ts";
import {
  fieldOf,
  linesOf,
  type LocalClient,
  spawnLocalClient,
  startLocalServer,
} from "../../lib/dev/local_cluster.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { assertStoreHoldsExactly, winnersOf, writeAgencyData } from "./helpers/agency_data.ts";
import { Rng, runTrials, trialPlan } from "./helpers/trials.ts";

const totals = { trials: 0, kills: 0, resumedBets: 0, duplicates: 0, betsCompared: 0 };

async function clientKillTrial(seed: number): Promise<void> {
  const rng = new Rng(seed);
  const specs = [
    { bets: rng.int(1500, 3000), winners: rng.int(0, 3) },
    { bets: rng.int(200, 600), winners: rng.int(0, 3) },
  ];
  const kills = rng.int(1, 3);
  let windowMax = 0;
  await withTempDir(async (dir) => {
    const data = await writeAgencyData(dir, specs, seed);
    const storage = localBetsPath(dir);
    const server = await startLocalServer({ STORAGE_DIR: dir, AGENCIES: "2" });
    // Every run picks its own batch size and window: resume must not depend on them.
    const env = (agency: number) => {
      const batchWindow = rng.int(1, 16);
      windowMax = Math.max(windowMax, batchWindow);
      return {
        CLI_ID: String(agency),
        CLI_SERVER_ADDRESS: `127.0.0.1:${server.port}`,
        CLI_DATA_FILE: data.files[agency - 1]!,
        CLI_BATCH_MAXAMOUNT: String(rng.int(1, 150)),
        CLI_BATCH_WINDOW: String(batchWindow),
        CLI_LOG_LEVEL: "DEBUG",
      };
    };
    try {
      const other = spawnLocalClient(env(2));
      let ackedBefore = 0;
      for (let kill = 0; kill < kills; kill += 1) {
        // Kill once a random share of the remaining bets is acknowledged.
        const target = ackedBefore + rng.int(1, Math.max(1, specs[0]!.bets - ackedBefore - 1));
        let acked = 0;
        const killed = Promise.withResolvers<void>();
        const client: LocalClient = spawnLocalClient(env(1), (line) => {
          if (!line.includes("action: apuesta_enviada | result: success")) return;
          acked += 1;
          if (acked === target - ackedBefore) {
            client.process.kill("SIGKILL");
            killed.resolve();
          }
        });
        const code = await client.exited;
        if (acked < target - ackedBefore) {
          assert.equal(code, 0, "a run that was not killed finished");
          break;
        }
        await killed.promise;
        totals.kills += 1;
        // Each run starts where the server says the runs before it stopped.
        const hello = linesOf(client.lines, "hello")[0]!;
        const resumedFrom = Number(fieldOf(hello, "stored_bets"));
        assert.ok(
          resumedFrom >= ackedBefore,
          `hello says ${resumedFrom} stored, ${ackedBefore} acked`,
        );
        ackedBefore = Math.max(ackedBefore, resumedFrom) + acked;
      }
      const last = spawnLocalClient(env(1));
      const [lastCode, otherCode] = await Promise.all([last.exited, other.exited]);
      assert.equal(lastCode, 0, last.lines.join("\n"));
      assert.equal(otherCode, 0, other.lines.join("\n"));
      const hello = linesOf(last.lines, "hello")[0]!;
      const resumedFrom = Number(fieldOf(hello, "stored_bets"));
      assert.ok(
        resumedFrom >= ackedBefore,
        `hello says ${resumedFrom} stored, ${ackedBefore} acked`,
      );
      totals.resumedBets += resumedFrom;
      for (const [index, run] of [last, other].entries()) {
        const told = linesOf(run.lines, "consulta_ganadores")[0]!;
        assert.equal(
          Number(fieldOf(told, "cant_ganadores")),
          winnersOf(data.bets, index + 1).length,
        );
      }
      // Resuming skips what was stored: only batches in flight at a kill come twice.
      const duplicates = linesOf(server.lines, "apuesta_duplicada").length;
      assert.ok(duplicates <= kills * windowMax, `${duplicates} duplicate batches`);
      totals.duplicates += duplicates;
    } finally {
      assert.equal(await server.stop(), 0);
    }
    totals.betsCompared += await assertStoreHoldsExactly(storage, data.bets);
    totals.trials += 1;
  });
}

Deno.test("a client SIGKILLed mid-upload and started again with another batch size and window resumes at the stored position; the store ends exact", async () => {
  const plan = trialPlan("client_sigkill", 8);
  await runTrials(plan, 1, clientKillTrial);
  console.log(
    `client_sigkill: ${totals.trials} trials, ${totals.kills} kills, ${totals.resumedBets} bets skipped on resume, ${totals.duplicates} duplicate batches, ${totals.betsCompared} bets compared`,
  );
});
