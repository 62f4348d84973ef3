import assert from "node:assert/strict";
import { makeBatches, measure, parseScanMicroArgs, scanOptions } from "../bench/scan_micro.ts";
import { scanBatch } from "../lib/server/batch_scan.ts";
import { FileBatcher } from "../lib/client/file_batcher.ts";
import { StoredPrefixCheck } from "../lib/client/stored_prefix_check.ts";
import { Logger } from "../lib/runtime/log.ts";

Deno.test("parseScanMicroArgs() takes the flags as `deno task scan-micro -- …` passes them", async (t) => {
  await t.step("after the task's --", () => {
    assert.deepEqual(parseScanMicroArgs(["--", "--rounds", "41", "--batches", "200"]), {
      rounds: 41,
      batches: 200,
    });
  });
  await t.step("defaults", () => {
    assert.deepEqual(parseScanMicroArgs([]), { rounds: 9, batches: 2000 });
  });
  await t.step("a baseline checkout", () => {
    assert.deepEqual(parseScanMicroArgs(["--baseline", "/tmp/base"]), {
      rounds: 9,
      batches: 2000,
      baseline: "/tmp/base",
    });
  });
  await t.step("0 rounds is refused, 1 taken", () => {
    assert.throws(() => parseScanMicroArgs(["--rounds", "0"]), RangeError);
    assert.equal(parseScanMicroArgs(["--rounds", "1"]).rounds, 1);
  });
});

Deno.test("measure() runs every scan option over the batches and names each", () => {
  const options = scanOptions();
  const rows = measure(options, makeBatches(2), 1);
  assert.deepEqual(rows.map((row) => row.name), options.map((option) => option.name));
  for (const row of rows) assert.ok(Number.isFinite(row.nsPerBet), row.name);
});

Deno.test("scanOptions() batches every bet of the agency file as the client does, here and in a baseline", () => {
  const baseline = { scanBatch, client: { FileBatcher, StoredPrefixCheck, Logger } };
  const batches = makeBatches(3);
  const clients = scanOptions(baseline).filter((option) => option.name.startsWith("client:"));
  assert.deepEqual(clients.map((option) => option.name), [
    "client: FileBatcher over the agency file (rows, rules, frames)",
    "client: FileBatcher of --baseline",
  ]);
  for (const option of clients) assert.equal(option.run(batches), 300, option.name);
});
