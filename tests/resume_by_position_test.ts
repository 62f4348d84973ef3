/**
 * Real server and client processes: an agency restarted with another batch
 * size and window stores each row once; an agency whose file is not what the
 * draw stores stops with a fail line and exit 1; an agency whose bets are
 * refused for good (the draw closed) says so and exits 1.
 */

import assert from "node:assert/strict";
import { formatAgencyRow } from "../lib/bet/bet_csv.ts";
import { loadBets } from "../lib/store/bets_file_reader.ts";
import {
  fieldOf,
  linesOf,
  type LocalClient,
  runLocalClient,
  spawnLocalClient,
  startLocalServer,
} from "../lib/dev/local_cluster.ts";
import { makeBets } from "./helpers/bets.ts";
import { isLine } from "./helpers/log_lines.ts";
import { localBetsPath } from "./helpers/storage.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

/** Writes `rows` agency rows of agency 1 (documents from `firstDocument`) to `path`. */
async function writeRows(path: string, rows: number, firstDocument = 1): Promise<void> {
  await Deno.writeTextFile(
    path,
    makeBets(1, rows, { firstDocument }).map(formatAgencyRow).join(""),
  );
}

function clientEnv(port: number, agency: number, file: string, extra: Record<string, string> = {}) {
  return {
    CLI_ID: String(agency),
    CLI_SERVER_ADDRESS: `127.0.0.1:${port}`,
    CLI_DATA_FILE: file,
    ...extra,
  };
}

/** Runs a client until `acks` batches are confirmed, then SIGKILLs it. */
async function killAfterAcks(env: Record<string, string>, acks: number): Promise<LocalClient> {
  let seen = 0;
  const client: LocalClient = spawnLocalClient({ ...env, CLI_LOG_LEVEL: "DEBUG" }, (line) => {
    if (!isLine(line, "apuesta_enviada")) return;
    seen += 1;
    if (seen === acks) client.process.kill("SIGKILL");
  });
  await client.exited;
  return client;
}

Deno.test("a client killed mid-upload and restarted with another batch size and window stores each row once", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/agency-1.csv`;
    await writeRows(file, 3_000);
    const server = await startLocalServer({ STORAGE_DIR: dir, AGENCIES: "1" });
    try {
      const env = (maxAmount: number, window: number) =>
        clientEnv(server.port, 1, file, {
          CLI_BATCH_MAXAMOUNT: String(maxAmount),
          CLI_BATCH_WINDOW: String(window),
        });
      // Killed after 700 bets (100 batches of 7) are confirmed, with 5 more in flight.
      await killAfterAcks(env(7, 6), 700);
      const restarted = await runLocalClient(env(100, 64));
      assert.equal(restarted.code, 0, restarted.lines.join("\n"));
      const summary = linesOf(restarted.lines, "carga_finalizada")[0]!;
      assert.equal(fieldOf(summary, "bets_sent"), "3000");
      assert.ok(Number(fieldOf(summary, "resumed_at")) >= 700, summary);
    } finally {
      assert.equal(await server.stop(), 0);
    }
    const documents = (await Array.fromAsync(loadBets(localBetsPath(dir)))).map((b) => b.document);
    assert.equal(documents.length, 3_000);
    assert.equal(new Set(documents).size, 3_000, "no row stored twice");
  });
});

Deno.test("after the draw, a client whose file is not what the draw stores, or who brings more bets, fails with one line and exit 1", async (t) => {
  await withTempDir(async (dir) => {
    await writeRows(`${dir}/stored.csv`, 500);
    await writeRows(`${dir}/other.csv`, 500, 90_000);
    const edited = makeBets(1, 500, { firstDocument: 1 });
    edited[120] = { ...edited[120]!, number: (edited[120]!.number + 1) % 10_000 };
    await Deno.writeTextFile(`${dir}/edited.csv`, edited.map(formatAgencyRow).join(""));
    await writeRows(`${dir}/short.csv`, 300);
    await writeRows(`${dir}/longer.csv`, 600);
    const server = await startLocalServer({ STORAGE_DIR: dir, AGENCIES: "1", DRAW_ID: "draw-a" });
    try {
      const first = await runLocalClient(
        clientEnv(server.port, 1, `${dir}/stored.csv`, { CLI_BATCH_MAXAMOUNT: "50" }),
      );
      assert.equal(first.code, 0, first.lines.join("\n"));
      const cases: [string, string, RegExp][] = [
        ["another file", "other.csv", /does not match .*first position that differs: 0\.\.49/],
        ["a row edited at position 120", "edited.csv", /first position that differs: 100\.\.149/],
        ["a shorter file", "short.csv", /has 300 valid rows but the draw stores 500 bets/],
        ["the same file with more bets", "longer.csv", /refused: drawClosed/],
      ];
      for (const [name, fileName, reason] of cases) {
        await t.step(name, async () => {
          const run = await runLocalClient(clientEnv(server.port, 1, `${dir}/${fileName}`));
          assert.equal(run.code, 1, run.lines.join("\n"));
          const fail = linesOf(run.lines, "carga_finalizada", "fail");
          assert.equal(fail.length, 1, run.lines.join("\n"));
          assert.match(fail[0]!, reason);
          assert.equal(fieldOf(fail[0]!, "draw_id"), "draw-a");
          assert.equal(linesOf(run.lines, "carga_finalizada", "success").length, 0);
          assert.equal(linesOf(run.lines, "consulta_ganadores").length, 0, "no winners told");
        });
      }
      await t.step("a mismatch names the agency and the draw", async () => {
        const run = await runLocalClient(clientEnv(server.port, 1, `${dir}/other.csv`));
        assert.match(linesOf(run.lines, "carga_finalizada", "fail")[0]!, /agency 1, draw draw-a/);
      });
    } finally {
      assert.equal(await server.stop(), 0);
    }
    const storage = `${dir}/draws/draw-a/bets.csv`;
    const documents = (await Array.fromAsync(loadBets(storage))).map((bet) => bet.document);
    assert.equal(documents.length, 500, "nothing of the other files was stored");
  });
});
