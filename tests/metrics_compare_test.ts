import assert from "node:assert/strict";
import {
  compareMetrics,
  type ComparisonInfo,
  renderMetricsComparison,
} from "../bench/metrics_compare.ts";
import type { RunOutcome } from "../bench/scenario_run.ts";

function run(betsPerS: number, serverCpuMs = 1000, adminScrapes?: number): RunOutcome {
  return {
    ok: true,
    figures: {
      endToEndMs: 5_000_000_000 / betsPerS,
      betsPerS,
      serverCpuMs,
      serverRssBytes: 80e6,
      ...(adminScrapes === undefined ? {} : { adminScrapes }),
    },
  };
}

const _INFO: ComparisonInfo = {
  date: new Date(Date.UTC(2026, 11, 1, 10, 0)),
  commit: "abc1234",
  cpuModel: "Test CPU",
  cpus: 2,
  scenario: "(b) 5 agencies × 1,000,000 bets, 3 runs each",
  scrapeMs: 1000,
  quick: false,
};

Deno.test("compareMetrics() divides the medians, on by off, and says whether the 3% limit holds", async (t) => {
  await t.step("exactly 3% lower is within the limit", () => {
    const comparison = compareMetrics([run(1e6), run(1.1e6), run(0.9e6)], [run(0.97e6)]);
    assert.equal(comparison.ratios?.betsPerS, 0.97);
    assert.equal(comparison.withinLimit, true);
  });
  await t.step("more than 3% lower is not", () => {
    const comparison = compareMetrics([run(1e6)], [run(0.969e6, 1100)]);
    assert.equal(comparison.withinLimit, false);
    assert.equal(comparison.ratios?.serverCpuMs, 1.1);
  });
  await t.step("a failed run gives no ratio", () => {
    const comparison = compareMetrics([run(1e6)], [{ ok: false, reason: "server exited" }]);
    assert.equal(comparison.ratios, undefined);
    assert.equal(comparison.withinLimit, undefined);
  });
});

Deno.test("renderMetricsComparison() lists every run side by side, the medians and the ratios", () => {
  const text = renderMetricsComparison(_INFO, [run(1e6), run(1.2e6)], [
    run(0.99e6, 1000, 5),
    run(1.19e6, 1000, 6),
  ]);
  assert.match(text, /^## Metrics off vs on, 2026-12-01 10:00 UTC\n/);
  assert.match(
    text,
    /\| 1 \| 5\.000 \| 1,000,000 \| 1\.00 \| 80\.0 \| 5\.051 \| 990,000 \| 1\.00 \| 80\.0 \| 5 \|/,
  );
  assert.match(text, /\| median \| [^|]+ \| 1,100,000 \|/);
  assert.match(text, /^\| run \(CPU: Test CPU\) \| off: end to end s \|/m, "the CPU in the header");
  assert.match(
    text,
    /throughput 0\.991, server CPU 1\.000, server peak RSS 1\.000\. .*within 3% of off/,
  );
});

Deno.test("renderMetricsComparison() marks a failed run and gives no ratio", () => {
  const text = renderMetricsComparison(_INFO, [run(1e6)], [{ ok: false, reason: "timeout" }]);
  assert.match(text, /\| 1 \| 5\.000 \| .* \| FAILED: timeout \|/);
  assert.match(text, /No ratio: a run failed its checks\./);
});
