import assert from "node:assert/strict";
import { ThroughputSampler } from "../lib/admin/throughput_sampler.ts";

Deno.test("ThroughputSampler: the first sample is the baseline, later ones give rates per agency and in total", () => {
  const sampler = new ThroughputSampler(2, 10);
  const bets = [0, 500, 100];
  sampler.sample(1_000, (agency) => bets[agency]!);
  assert.equal(sampler.totalBets, 600);
  assert.equal(sampler.totalRate, 0, "restored bets are not an upload");
  assert.deepEqual(sampler.history(), []);
  bets[1] = 700;
  bets[2] = 100;
  sampler.sample(3_000, (agency) => bets[agency]!);
  assert.equal(sampler.rate(1), 100);
  assert.equal(sampler.rate(2), 0);
  assert.equal(sampler.totalRate, 100);
  assert.deepEqual(sampler.history(), [[3_000, 100]]);
});

Deno.test("ThroughputSampler.rate() is 0 outside 1..agencies", () => {
  const sampler = new ThroughputSampler(1, 1);
  assert.equal(sampler.rate(0), 0);
  assert.equal(sampler.rate(2), 0);
});

Deno.test("ThroughputSampler ignores a sample that is not later than the last one", () => {
  const sampler = new ThroughputSampler(1, 5);
  sampler.sample(1_000, () => 0);
  sampler.sample(2_000, () => 10);
  sampler.sample(2_000, () => 99);
  assert.equal(sampler.totalBets, 10);
  assert.equal(sampler.history().length, 1);
});

Deno.test("ThroughputSampler keeps at most historyMax points, dropping the oldest", async (t) => {
  for (const samples of [0, 3, 4]) {
    await t.step(`${samples} samples after the baseline, historyMax 3`, () => {
      const sampler = new ThroughputSampler(1, 3);
      for (let k = 0; k <= samples; k += 1) sampler.sample(1_000 * (k + 1), () => k);
      const history = sampler.history();
      assert.equal(history.length, Math.min(samples, 3));
      if (samples === 4) assert.equal(history[0]![0], 3_000, "the oldest point was dropped");
    });
  }
});

Deno.test("ThroughputSampler rejects 0 agencies or 0 history", () => {
  assert.throws(() => new ThroughputSampler(0, 1), { name: "RangeError" });
  assert.throws(() => new ThroughputSampler(1, 0), { name: "RangeError" });
});
