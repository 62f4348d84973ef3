/**
 * Disk full and write errors on the store, with live agencies uploading:
 * the batches hit by the fault are refused with storeFailed (nothing of them
 * stored), the agencies are told and resend, the server keeps serving other
 * connections meanwhile, and once the disk works again every upload ends with
 * the store holding each bet of every file exactly once.
 *
 * The fault is injected through BetStore.open's StoreFileOpener (FlakyDisk);
 * when this runs as root and may mount, a second test fills a real tmpfs
 * under the real server process.
 *
 * FAULT_SEED / FAULT_TRIALS / FAULT_SCALE: see helpers/trials.ts.
 */

import assert from "node:assert/strict";
import { localBetsPath } from "../helpers/storage.ts";
import { storeRowsOf } from "../helpers/store_rows.ts";
import { BetStore } from "../../lib/store/bet_store.ts";
import { linesOf, startLocalServer } from "../../lib/dev/local_cluster.ts";
import { makeBets } from "../helpers/bets.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { assertStoreHoldsExactly, writeAgencyData } from "./helpers/agency_data.ts";
import { FlakyDisk } from "./helpers/flaky_disk.ts";
import { startTestServer } from "../helpers/test_server.ts";
import { Rng, runTrials, trialPlan } from "./helpers/trials.ts";
import {
  assertUploadsExact,
  countLines,
  type RunningUpload,
  startUploads,
  waitUntil,
} from "./helpers/uploads.ts";

const _encoder = new TextEncoder();
const _decoder = new TextDecoder();

/** Sends one line to the echo health check and returns the answer. */
async function echoProbe(port: number, text: string): Promise<string> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(_encoder.encode(`${text}\n`));
  const buffer = new Uint8Array(1024);
  let answer = "";
  while (!answer.endsWith("\n")) {
    const count = await conn.read(buffer);
    if (count === null) break;
    answer += _decoder.decode(buffer.subarray(0, count));
  }
  return answer;
}

type _Fault = "full" | "syncFails";

const totals = { trials: 0, injected: 0, refused: 0, betsCompared: 0 };

async function diskTrial(seed: number): Promise<void> {
  const rng = new Rng(seed);
  const agencies = rng.int(2, 3);
  const specs = Array.from({ length: agencies }, () => ({
    bets: rng.int(150, 400),
    winners: rng.int(0, 3),
  }));
  const fault = rng.pick<_Fault>(["full", "syncFails"]);
  const batchMaxAmount = rng.int(1, 12);
  const batchWindow = rng.int(1, 16);
  const total = specs.reduce((sum, spec) => sum + spec.bets, 0);
  const faultAfterAcks = rng.int(1, Math.floor(total / 2));
  const faultMs = rng.int(30, 400);
  await withTempDir(async (dir) => {
    const data = await writeAgencyData(dir, specs, seed);
    const storage = localBetsPath(dir);
    const disk = new FlakyDisk();
    const server = await startTestServer({ storageDir: dir, agencies, openFile: disk.open });
    const uploads: RunningUpload[] = [];
    try {
      uploads.push(...startUploads(data.files, { port: server.port, batchMaxAmount, batchWindow }));
      const done = Promise.all(uploads.map((upload) => upload.done));
      const acked = () =>
        uploads.reduce((sum, upload) => sum + countLines(upload.lines, "apuesta_enviada"), 0);
      await Promise.race([
        waitUntil(() => acked() >= faultAfterAcks, "acks before the fault"),
        done,
      ]);
      disk[fault] = true;
      const faultStarted = Date.now();
      // While the disk fails, the server still answers the health check and hellos.
      assert.equal(await echoProbe(server.port, "ping"), "ping\n");
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, faultMs - (Date.now() - faultStarted)))
      );
      disk[fault] = false;
      await assertUploadsExact(uploads, data.bets);
      // A refused batch logs apuesta_recibida, a refused finished logs protocol_error.
      const refused = server.lines.filter((line) =>
        line.includes("result: fail") && line.includes("code: storeFailed")
      );
      if (disk.failures > 0) {
        assert.ok(
          refused.length > 0,
          `a store failure is answered with storeFailed: ${
            server.lines.filter((line) => !line.includes("result: success")).join("\n")
          }`,
        );
        assert.ok(
          uploads.some((upload) =>
            upload.lines.some((line) =>
              line.includes("action: connection_lost") && line.includes("storeFailed")
            )
          ),
          `an agency was told storeFailed; the server refused:\n${
            refused.join("\n")
          }\nthe agencies logged:\n${
            uploads.flatMap((upload) => upload.lines.filter((line) => !line.includes("success")))
              .join("\n")
          }`,
        );
      }
      totals.injected += disk.failures;
      totals.refused += refused.length;
    } finally {
      for (const upload of uploads) upload.abort();
      await server.close();
    }
    totals.betsCompared += await assertStoreHoldsExactly(storage, data.bets);
    const { store, report } = await BetStore.open(storage);
    await store.close();
    assert.equal(report.discardedBetsBytes + report.discardedJournalBytes, 0, "no torn bytes left");
    totals.trials += 1;
  });
}

Deno.test("store write failures (disk full, failed sync) refuse the hit batches with storeFailed; agencies resend and the store ends exact", async () => {
  const plan = trialPlan("store_failure", 16);
  await runTrials(plan, 2, diskTrial);
  console.log(
    `store_failure: ${totals.trials} trials, ${totals.injected} injected failures, ${totals.refused} refusals, ${totals.betsCompared} bets compared`,
  );
});

Deno.test("BetStore refuses a batch that reaches it right after a failed earlier batch of the same agency, until that one is resent", async () => {
  await withTempDir(async (dir) => {
    const storage = localBetsPath(dir);
    const disk = new FlakyDisk();
    const { store } = await BetStore.open(storage, disk.open);
    const batch = (index: number) => makeBets(1, 2, { firstDocument: 30_000_000 + index * 10 });
    const append = (index: number) =>
      store.append(1, 2 * index, storeRowsOf(batch(index), 2 * index));
    try {
      await append(0);
      disk.syncFails = true;
      const failed = append(1);
      // Batch 2 reaches the store in the same turn its predecessor's failure is
      // delivered, before the connection can learn of it (the race the fault
      // tests hit on a real full disk); the disk works again by then.
      const late = failed.catch(() => {
        disk.syncFails = false;
        return append(2);
      });
      await assert.rejects(failed, /store write failed/);
      await assert.rejects(late, /misplaced: 2 expected/);
      assert.equal(store.storedBets(1), 2);
      assert.deepEqual(await append(1), { duplicate: false });
      assert.deepEqual(await append(2), { duplicate: false });
    } finally {
      await store.close();
    }
    await assertStoreHoldsExactly(storage, [0, 1, 2].flatMap(batch));
  });
});

/** Runs mount(8); true when it succeeded. */
async function mount(args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("mount", { args, stdout: "null", stderr: "null" })
      .output();
    return success;
  } catch {
    return false;
  }
}

async function umount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: [dir], stdout: "null", stderr: "null" }).output();
}

/** Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN); false
 * too without the permissions to ask, so this module always loads. */
async function canMountTmpfs(): Promise<boolean> {
  try {
    if (Deno.build.os !== "linux" || Deno.uid() !== 0) return false;
    const dir = await Deno.makeTempDir({ prefix: "tp0_tmpfs_probe_" });
    try {
      const mounted = await mount(["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
      if (mounted) await umount(dir);
      return mounted;
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "a real full disk (64 KiB tmpfs) under the server process: storeFailed while full, serving on, exact store after the disk grows",
  ignore: !(await canMountTmpfs()),
  fn: async () => {
    await withTempDir(async (dir) => {
      const specs = [{ bets: 700, winners: 2 }, { bets: 650, winners: 1 }, {
        bets: 600,
        winners: 0,
      }];
      const data = await writeAgencyData(dir, specs, 11);
      const disk = `${dir}/disk`;
      await Deno.mkdir(disk);
      assert.ok(await mount(["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", disk]));
      try {
        const storage = localBetsPath(disk);
        const server = await startLocalServer({ STORAGE_DIR: disk, AGENCIES: "3" });
        const uploads = startUploads(data.files, {
          port: server.port,
          batchMaxAmount: 10,
          batchWindow: 8,
        });
        try {
          // Batches behind the failed one are refused as positionMismatch, and
          // may be logged first: look for the storeFailed one itself.
          const storeFailed = () =>
            linesOf(server.lines, "apuesta_recibida", "fail").filter((line) =>
              line.includes("code: storeFailed")
            );
          await waitUntil(() => storeFailed().length > 0, "a storeFailed refusal on the full disk");
          assert.match(
            storeFailed()[0]!,
            /storeFailed.*os error 28/,
          );
          assert.equal(await echoProbe(server.port, "still serving"), "still serving\n");
          await new Promise((resolve) => setTimeout(resolve, 300));
          assert.ok(await mount(["-o", "remount,size=4m", disk]), "the disk grows");
          await assertUploadsExact(uploads, data.bets);
        } finally {
          for (const upload of uploads) upload.abort();
          assert.equal(await server.stop(), 0);
        }
        const compared = await assertStoreHoldsExactly(storage, data.bets);
        console.log(`tmpfs_full: ${compared} bets compared after the disk filled and grew`);
      } finally {
        await umount(disk);
      }
    });
  },
});
