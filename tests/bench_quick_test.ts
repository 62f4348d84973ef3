/**
 * `deno task bench -- --quick` end to end: the harness runs every scenario on
 * tiny data (real server, clients, load generator, baseline; (b) also over
 * TLS and TLS with client certificates), every run passes its correctness
 * checks, and the reports are written. No time is
 * asserted: the machine may be busy.
 */

import assert from "node:assert/strict";
import type { ScenarioResult } from "../bench/bench_report.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { writeAgencies } from "./helpers/agency_files.ts";

const _ROOT = new URL("../", import.meta.url).pathname;

/**
 * Runs `deno task bench -- --out OUT ARGS…` and asserts it exits 0.
 * @returns its stdout
 */
async function _bench(out: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "bench", "--", "--out", out, ...args],
    cwd: _ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `bench failed:\n${stdout}\n${stderr}`);
  return stdout;
}

/** The scenario results of the run written to `out` (OUT/last_run.json). */
async function _lastRun(out: string): Promise<ScenarioResult[]> {
  const report = JSON.parse(await Deno.readTextFile(`${out}/last_run.json`)) as {
    results: ScenarioResult[];
  };
  return report.results;
}

Deno.test("deno task bench -- --quick runs every scenario and every run passes its checks", async () => {
  await withTempDir(async (out) => {
    const stdout = await _bench(out, [
      "--quick",
      ...["--scenario", "a", "--scenario", "b", "--scenario", "c", "--scenario", "d"],
      // A burst of connects can overflow a small backlog and wait seconds on
      // SYN-ACK retransmits: this test is about the harness, not that setting.
      ...["--env", "SERVER_LISTEN_BACKLOG=128"],
    ]);
    const results = await _lastRun(out);
    const ids = results.filter((result) => !result.sweep).map((result) =>
      `${result.scenario.id} ${result.transport}`
    );
    assert.deepEqual(ids, [
      "a plain",
      "b plain",
      "b tls",
      "b tls+client-certs",
      "c plain",
      "d plain",
    ]);
    assert.deepEqual(
      results.filter((result) => result.sweep).map((result) => result.maxAmount),
      [25, 50, 180],
    );
    for (const result of results) {
      const name = `(${result.scenario.id}) maxAmount ${result.maxAmount}`;
      assert.deepEqual(result.protocol.failures, [], name);
      assert.ok((result.protocol.figures?.betsPerS ?? 0) > 0, `${name} has no throughput`);
      assert.ok((result.protocol.figures?.serverRssBytes ?? 0) > 0, `${name} has no server RSS`);
      assert.ok((result.protocol.figures?.clientRssBytes ?? 0) > 0, `${name} has no client RSS`);
      assert.ok(result.protocol.figures?.batchesPerSync !== undefined, `${name}: no store_stats`);
      assert.ok(result.protocol.figures?.finishToWinnersMs !== undefined, name);
      if (!result.sweep && result.transport === "plain") {
        assert.deepEqual(result.baseline?.failures, [], `${name} floor`);
        assert.ok((result.baseline?.figures?.betsPerS ?? 0) > 0, `${name} floor throughput`);
        assert.ok(
          (result.baseline?.figures?.finishToWinnersMs ?? -1) >= 0,
          `${name} floor fan-out`,
        );
      }
    }

    const markdown = await Deno.readTextFile(`${out}/results.md`);
    assert.match(markdown, /^# Benchmark results/);
    assert.match(markdown, /quick smoke run/);
    // 4 scenarios, (a)'s 4 frame sizes, (b)'s 3 transports.
    assert.equal((markdown.match(/\| passed \(1\/1\) \|/g) ?? []).length, 11);
    assert.match(markdown, /\| TLS \+ client certificates \| [0-9.]+ \| [0-9,]+ \| [0-9.]+× \|/);
    assert.match(stdout, /\| \(c\) many agencies \(load generator\) \| 40 × 200/);
    const svg = await Deno.readTextFile(`${out}/throughput.svg`);
    assert.match(svg, /^<svg [^>]*>[\s\S]*<\/svg>\n$/);
    assert.equal((svg.match(/<circle cx=/g) ?? []).length, 8 + 4 + 3);
  });
});

Deno.test("deno task bench -- --quick --metrics-compare runs (b) with metrics off and on, watched, and reports the ratios", async () => {
  await withTempDir(async (out) => {
    await _bench(out, ["--quick", "--metrics-compare", "--runs", "1"]);
    const report = JSON.parse(await Deno.readTextFile(`${out}/metrics_compare.json`)) as {
      off: { ok: boolean; figures: { adminScrapes?: number } }[];
      on: { ok: boolean; figures: { adminScrapes?: number } }[];
      comparison: { ratios: { betsPerS: number } | undefined };
    };
    assert.deepEqual([...report.off, ...report.on].map((run) => run.ok), [true, true]);
    assert.equal(report.off[0]!.figures.adminScrapes, undefined, "nothing to scrape when off");
    assert.ok((report.on[0]!.figures.adminScrapes ?? 0) >= 1, "the on run was scraped");
    assert.ok((report.comparison.ratios?.betsPerS ?? 0) > 0);
    assert.match(await Deno.readTextFile(`${out}/results.md`), /## Metrics off vs on, .*quick/);
  });
});

Deno.test("deno task bench -- --dataset runs (a) on given CRLF agency files of different sizes, taking turns with the floor", async () => {
  await withTempDir(async (dir) => {
    const dataset = `${dir}/dataset`;
    await writeAgencies(dataset, [
      { bets: 300, winners: 2 },
      { bets: 120, winners: 1 },
      { bets: 45, winners: 0 },
    ], true);
    const out = `${dir}/out`;
    const stdout = await _bench(out, [
      ...["--quick", "--scenario", "a"],
      ...["--dataset", dataset, "--no-sweep", "--runs", "2"],
    ]);
    assert.match(stdout, /\| \(a\) exercise size, --dataset \| 3 files, 465 bets /);
    // The protocol and its floor take turns, so both see the machine of the same moment.
    assert.deepEqual(stdout.match(/^bench: \(a\)( floor)? run \d\/2/gm), [
      "bench: (a) run 1/2",
      "bench: (a) floor run 1/2",
      "bench: (a) run 2/2",
      "bench: (a) floor run 2/2",
    ]);
    const [result] = await _lastRun(out);
    assert.deepEqual(result?.protocol.failures, []);
    assert.deepEqual(result?.baseline?.failures, []);
    assert.equal(result?.scenario.dataset?.bets, 465);
  });
});

Deno.test("deno task bench -- --cpu-prof DIR leaves a CPU profile of every process of each run", async () => {
  await withTempDir(async (dir) => {
    const profiles = `${dir}/profiles`;
    await _bench(`${dir}/out`, [
      ...["--quick", "--scenario", "a", "--no-sweep", "--cpu-prof", profiles],
    ]);
    const found: string[] = [];
    for await (const run of Deno.readDir(profiles)) {
      for await (const process of Deno.readDir(`${profiles}/${run.name}`)) {
        for await (const file of Deno.readDir(`${profiles}/${run.name}/${process.name}`)) {
          if (file.name.endsWith(".cpuprofile")) found.push(`${run.name}/${process.name}`);
        }
      }
    }
    const expected = [
      "a-floor-run1/floor-server",
      ...[1, 2, 3, 4, 5].map((k) => `a-floor-run1/floor-sender-${k}-${k}`),
      "a-run1/server",
      ...[1, 2, 3, 4, 5].map((k) => `a-run1/client-${k}`),
    ];
    assert.deepEqual(found.sort(), expected.sort());
  });
});
