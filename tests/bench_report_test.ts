/** Unit tests for the benchmark's figures, targets, report and chart. */

import assert from "node:assert/strict";
import {
  chartData,
  evaluateTargets,
  median,
  renderResultsSection,
  type RunInfo,
  type ScenarioResult,
  summarize,
} from "../bench/bench_report.ts";
import { parseBenchArgs } from "../bench/bench.ts";
import { agencyRanges, type RunFigures } from "../bench/scenario_run.ts";
import { scenarioTable } from "../bench/scenarios.ts";
import { niceCeiling, renderThroughputSvg } from "../bench/throughput_chart.ts";

const _INFO: RunInfo = {
  date: new Date("2026-01-02T03:04:05Z"),
  quick: false,
  runs: 3,
  seed: 1,
  window: 64,
  env: {},
  cpus: 2,
  memoryBytes: 24 * 2 ** 30,
  cpuModel: "Test CPU",
  deno: "2.9.6",
  v8: "15",
  commit: "abc1234",
  notes: [],
};

function _result(id: "a" | "b" | "c" | "d" | "e", figures: RunFigures | undefined): ScenarioResult {
  return {
    scenario: scenarioTable(false)[id],
    maxAmount: 100,
    sweep: false,
    transport: "plain",
    dataBytes: 1e6,
    protocol: figures === undefined
      ? { runs: 3, failures: ["store holds 9 bets of agency 1"], figures: undefined }
      : { runs: 3, failures: [], figures },
    baseline: {
      runs: 3,
      failures: [],
      figures: {
        endToEndMs: 50,
        endToEndFromSpawnMs: 50,
        betsPerS: 4_000_000,
        finishToWinnersMs: 12.5,
      },
    },
  };
}

/** The result with the floor's server RSS set. */
function _withFloorRss(result: ScenarioResult, bytes: number): ScenarioResult {
  const floor = result.baseline!;
  return {
    ...result,
    baseline: { ...floor, figures: { ...floor.figures, serverRssBytes: bytes } },
  };
}

Deno.test("median() takes the middle value, or the mean of the two middle ones", async (t) => {
  await t.step("none", () => assert.equal(median([]), undefined));
  await t.step("one", () => assert.equal(median([7]), 7));
  await t.step("odd", () => assert.equal(median([3, 1, 2]), 2));
  await t.step("even", () => assert.equal(median([4, 1, 3, 2]), 2.5));
});

Deno.test("summarize() gives medians, and no figure at all when a run failed", () => {
  const passed = summarize([
    { ok: true, figures: { endToEndMs: 30, betsPerS: 10 } },
    { ok: true, figures: { endToEndMs: 10, betsPerS: 30 } },
    { ok: true, figures: { endToEndMs: 20, betsPerS: 20, batchesPerSync: 4 } },
  ]);
  assert.deepEqual(passed, {
    runs: 3,
    failures: [],
    figures: { endToEndMs: 20, betsPerS: 20, batchesPerSync: 4 },
  });
  const failed = summarize([
    { ok: true, figures: { endToEndMs: 30 } },
    { ok: false, reason: "client 2 exited with code 1" },
  ]);
  assert.deepEqual(failed, {
    runs: 2,
    failures: ["client 2 exited with code 1"],
    figures: undefined,
  });
});

Deno.test("evaluateTargets() judges the targets against the floor of the same run", async (t) => {
  const verdicts = evaluateTargets([
    // Floor: 50 ms end to end, 4,000,000 bets/s, 12.5 ms fan-out (see _result).
    _result("a", { endToEndFromSpawnMs: 75, finishToWinnersMs: 50.5 }),
    _result("b", { betsPerS: 1_999_999, serverRssBytes: 100e6, finishToWinnersMs: 3 }),
    _result("c", undefined),
    _withFloorRss(
      _result("e", { betsPerS: 2_000_000, serverRssBytes: 220e6, finishToWinnersMs: 15.625 }),
      200e6,
    ),
  ]);
  const byTarget = new Map(verdicts.map((verdict) => [verdict.target, verdict]));
  const verdict = (target: string) => byTarget.get(target)?.verdict;
  await t.step("a ratio at its bound is met, below a lower bound is not", () => {
    const a = byTarget.get(
      "(a) end to end from the server's spawn ≤ 1.5× the floor's (from its server's spawn)",
    );
    assert.deepEqual(a, {
      target: a?.target,
      measured: "0.075 s",
      floor: "0.050 s",
      ratio: "1.50×",
      verdict: "met",
    });
    assert.equal(verdict("(b) bets/s ≥ 0.5× the floor's"), "not met");
    assert.equal(byTarget.get("(b) bets/s ≥ 0.5× the floor's")?.ratio, "0.50×");
  });
  await t.step("absolute bounds: at the bound met", () => {
    assert.equal(verdict("(b) server RSS ≤ 100 MB"), "met");
  });
  await t.step("(e)'s bounds are ratios to the floor: at the bound met, just over not", () => {
    const rss = "(e) server RSS ≤ 1.1× the floor's";
    const rate = "(e) bets/s ≥ 0.5× the floor's";
    const winners =
      "(e) winners after the last finished ≤ 1.25× the floor's answers after its last sender";
    assert.deepEqual(byTarget.get(rss), {
      target: rss,
      measured: "220.0 MB",
      floor: "200.0 MB",
      ratio: "1.10×",
      verdict: "met",
    });
    assert.equal(verdict(rate), "met");
    assert.equal(byTarget.get(rate)?.floor, "4,000,000 bets/s");
    assert.equal(verdict(winners), "met");
    assert.equal(byTarget.get(winners)?.floor, "12.5 ms");
    const over = new Map(
      evaluateTargets([
        _withFloorRss(
          _result("e", { betsPerS: 1_999_999, serverRssBytes: 220.1e6, finishToWinnersMs: 15.7 }),
          200e6,
        ),
      ]).map((one) => [one.target, one.verdict]),
    );
    assert.deepEqual([over.get(rss), over.get(rate), over.get(winners)], [
      "not met",
      "not met",
      "not met",
    ]);
    assert.ok(
      [...over.keys()].every((target) => !/\(e\).*\d MB|\(e\).*\d ms|1,000,000/.test(target)),
      "no absolute bound left for (e)",
    );
  });
  await t.step("a ratio target without the floor's figure is not met", () => {
    const noFloorRss = evaluateTargets([
      _result("e", { betsPerS: 2_000_000, serverRssBytes: 1e6, finishToWinnersMs: 1 }),
    ]);
    assert.equal(
      noFloorRss.find((one) => one.target === "(e) server RSS ≤ 1.1× the floor's")?.verdict,
      "not met",
    );
  });
  await t.step("failed runs fail every target of their scenario, checks included", () => {
    assert.equal(verdict("(c) every agency gets its exact winners, none fails"), "not met");
    assert.equal(verdict("(c) bets/s ≥ 0.5× the floor's"), "not met");
    assert.equal(verdict("(e) every agency gets its exact winners, none fails"), "met");
  });
  await t.step("the 50 ms winners latency holds for (a), (b), (c)", () => {
    assert.equal(verdict("(a) winners ≤ 50 ms after the last finished"), "not met");
    assert.equal(
      byTarget.get("(a) winners ≤ 50 ms after the last finished")?.floor,
      "12.5 ms",
    );
  });
  await t.step("a scenario not in the run is not run", () => {
    const onlyA = evaluateTargets([_result("a", { endToEndFromSpawnMs: 80 })]);
    assert.ok(
      onlyA.filter((one) => !one.target.startsWith("(a)")).every((one) =>
        one.verdict === "not run"
      ),
    );
    assert.equal(onlyA[0]?.verdict, "not met", "80 ms is 1.6× the floor's 50 ms");
  });
});

Deno.test("renderResultsSection() shows figures, the floor ratio, failures and targets", () => {
  const section = renderResultsSection(_INFO, [
    _result("b", { endToEndMs: 5000, betsPerS: 1_000_000, serverRssBytes: 80e6 }),
    _result("c", undefined),
  ]);
  assert.match(section, /^## 2026-01-02 03:04:05 UTC — full run/);
  assert.match(section, /2 CPUs \(Test CPU\), 24\.0 GiB memory/);
  assert.match(section, /\| \(b\) .* \| 5\.000 \| 1,000,000 \| 4,000,000 \| 100\.0× \| 80\.0 \|/);
  assert.match(section, /\| finished→winners ms \| floor finished→answers ms \|/);
  assert.match(section, /\| – \| 12\.5 \| – \|/, "the floor's fan-out beside an unmeasured one");
  assert.match(section, /\| FAILED 1\/3: store holds 9 bets of agency 1 \|/);
  assert.match(
    section,
    /\| \(b\) bets\/s ≥ 0\.5× the floor's \| 1,000,000 bets\/s \| 4,000,000 bets\/s \| 0\.25× \| not met \|/,
  );
  assert.match(
    section,
    /\| target \(CPU: Test CPU\) \| measured \| floor \(same run\) \| ratio to floor \| verdict \|/,
  );
  const lines = section.split("\n");
  const headers = lines.filter((_, index) => lines[index + 1]?.startsWith("| ---") === true);
  assert.equal(headers.length, 2, "the scenario table and the targets table");
  for (const header of headers) assert.match(header, /^\| \w[^|]* \(CPU: Test CPU\) \|/);
});

Deno.test("renderResultsSection() puts (b) over TLS beside plain, and targets read plain TCP only", () => {
  const plain = _result("b", { endToEndMs: 4000, betsPerS: 1_250_000, serverCpuMs: 2000 });
  const tls: ScenarioResult = {
    ..._result("b", { endToEndMs: 5000, betsPerS: 1_000_000, serverCpuMs: 2500 }),
    transport: "tls",
    baseline: undefined,
  };
  const certs: ScenarioResult = { ..._result("b", undefined), transport: "tls+client-certs" };
  const section = renderResultsSection(_INFO, [plain, tls, certs]);
  assert.match(section, /^\| transport \(CPU: Test CPU\) \| end to end s \|/m);
  assert.match(section, /\| plain TCP \| 4\.000 \| 1,250,000 \| 1\.00× \| 2\.00 \|/);
  assert.match(section, /\| TLS \(node:tls server\) \| 5\.000 \| 1,000,000 \| 1\.25× \| 2\.50 \|/);
  assert.match(section, /\| TLS \+ client certificates \| – \| – \| – \|.*FAILED 1\/3/);
  assert.equal((section.match(/^\| \(b\) 5 agencies/gm) ?? []).length, 1, "one headline (b) row");
  assert.match(
    section,
    /\| \(b\) bets\/s ≥ 0\.5× the floor's \| 1,250,000 bets\/s \| .* \| not met \|/,
  );
});

Deno.test("chartData() and renderThroughputSvg() plot scenarios and the frame sweep", () => {
  const sweep = { ..._result("a", { betsPerS: 5_000 }), maxAmount: 25, sweep: true };
  const chart = chartData(_INFO, [_result("a", { betsPerS: 9_000 }), sweep]);
  assert.deepEqual(chart.byAgencies[0]!.points, [{ x: 5, y: 9_000, label: "(a)" }]);
  assert.deepEqual(chart.byFrame[0]!.points.map((point) => point.x), [100, 25]);
  const svg = renderThroughputSvg(chart);
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<polyline points="/);
  assert.doesNotMatch(svg, /NaN|undefined/);
  const empty = renderThroughputSvg({ title: "t", byAgencies: [], byFrame: [] });
  assert.equal((empty.match(/not measured in this run/g) ?? []).length, 2);
});

Deno.test("niceCeiling() rounds up to 1, 2 or 5 times a power of ten", async (t) => {
  for (const [value, expected] of [[0, 1], [1, 1], [1.1, 2], [3, 5], [7, 10], [120_000, 200_000]]) {
    await t.step(`${value}`, () => assert.equal(niceCeiling(value!), expected));
  }
});

Deno.test("agencyRanges() splits agencies into contiguous ranges", () => {
  assert.deepEqual(agencyRanges(5, 2), [{ first: 1, last: 2 }, { first: 3, last: 5 }]);
  assert.deepEqual(agencyRanges(1, 2), [{ first: 1, last: 1 }]);
  assert.deepEqual(agencyRanges(3, 3), [{ first: 1, last: 1 }, { first: 2, last: 2 }, {
    first: 3,
    last: 3,
  }]);
});

Deno.test("parseBenchArgs() defaults, (d) only on request, bad flags", async (t) => {
  await t.step("defaults run (a), (b), (c), (e) and skip (d)", () => {
    const options = parseBenchArgs(["--"]);
    assert.ok(options !== "help");
    assert.deepEqual(options.scenarios, ["a", "b", "c", "e"]);
    assert.equal(options.largeSkipped, true);
    assert.equal(options.runs, 3);
    assert.equal(options.results, "bench/out/results.md");
  });
  await t.step("--large adds (d)", () => {
    const options = parseBenchArgs(["--large", "--scenario", "b"]);
    assert.ok(options !== "help");
    assert.deepEqual(options.scenarios, ["b", "d"]);
  });
  await t.step("--quick writes into --out and runs once", () => {
    const options = parseBenchArgs(["--quick", "--out", "/tmp/x", "--env", "A=b=c"]);
    assert.ok(options !== "help");
    assert.equal(options.runs, 1);
    assert.equal(options.results, "/tmp/x/results.md");
    assert.deepEqual(options.env, { A: "b=c" });
  });
  await t.step("unknown scenario", () => {
    assert.throws(() => parseBenchArgs(["--scenario", "f"]), RangeError);
  });
  await t.step("runs 0 and 101", () => {
    assert.throws(() => parseBenchArgs(["--runs", "0"]), RangeError);
    assert.throws(() => parseBenchArgs(["--runs", "101"]), RangeError);
  });
});
