/**
 * The cost of the metrics: the same scenario run with the admin port off
 * and on, alternating in one sitting, reported side by side with the ratios
 * of the medians (the target: throughput with metrics on within 3% of off).
 */

import { median } from "./bench_report.ts";
import type { RunFigures, RunOutcome } from "./scenario_run.ts";

/** Throughput with metrics on may fall at most this far below off: metrics
 * must be cheap enough to leave on. */
export const METRICS_LOSS_MAX = 0.03;

/** How the comparison was run, for its heading. */
export interface ComparisonInfo {
  date: Date;
  commit: string;
  cpuModel: string;
  cpus: number;
  /** e.g. `(b) 5 agencies x 1M bets, 5 × 1,000,000 bets` */
  scenario: string;
  scrapeMs: number;
  quick: boolean;
}

/** Medians of each side and on/off ratios; undefined figures when a run failed. */
export interface Comparison {
  off: RunFigures | undefined;
  on: RunFigures | undefined;
  /** on / off of the medians. */
  ratios: { betsPerS: number; serverCpuMs: number; serverRssBytes: number } | undefined;
  /** True when throughput on is at least (1 - METRICS_LOSS_MAX) of off. */
  withinLimit: boolean | undefined;
}

function _medians(outcomes: readonly RunOutcome[]): RunFigures | undefined {
  if (outcomes.length === 0 || outcomes.some((outcome) => !outcome.ok)) return undefined;
  const figures: RunFigures = {};
  for (const name of ["endToEndMs", "betsPerS", "serverCpuMs", "serverRssBytes"] as const) {
    const value = median(outcomes.map((outcome) => outcome.ok ? outcome.figures[name] ?? 0 : 0));
    if (value !== undefined) figures[name] = value;
  }
  return figures;
}

/** Compares the runs with metrics off and on. */
export function compareMetrics(
  off: readonly RunOutcome[],
  on: readonly RunOutcome[],
): Comparison {
  const offFigures = _medians(off);
  const onFigures = _medians(on);
  if (offFigures === undefined || onFigures === undefined) {
    return { off: offFigures, on: onFigures, ratios: undefined, withinLimit: undefined };
  }
  const ratio = (name: "betsPerS" | "serverCpuMs" | "serverRssBytes") =>
    (onFigures[name] ?? 0) / (offFigures[name] ?? 1);
  const ratios = {
    betsPerS: ratio("betsPerS"),
    serverCpuMs: ratio("serverCpuMs"),
    serverRssBytes: ratio("serverRssBytes"),
  };
  return {
    off: offFigures,
    on: onFigures,
    ratios,
    withinLimit: ratios.betsPerS >= 1 - METRICS_LOSS_MAX,
  };
}

function _cells(figures: RunFigures | undefined, scrapes = false): string[] {
  if (figures === undefined) return scrapes ? ["–", "–", "–", "–", "–"] : ["–", "–", "–", "–"];
  const cells = [
    ((figures.endToEndMs ?? 0) / 1000).toFixed(3),
    Math.round(figures.betsPerS ?? 0).toLocaleString("en-US"),
    ((figures.serverCpuMs ?? 0) / 1000).toFixed(2),
    ((figures.serverRssBytes ?? 0) / 1e6).toFixed(1),
  ];
  if (scrapes) cells.push(String(figures.adminScrapes ?? "–"));
  return cells;
}

function _run(outcome: RunOutcome | undefined, scrapes = false): string[] {
  if (outcome === undefined) return _cells(undefined, scrapes);
  if (!outcome.ok) {
    return [`FAILED: ${outcome.reason}`, ..._cells(undefined, scrapes).slice(1)];
  }
  return _cells(outcome.figures, scrapes);
}

/**
 * The comparison as a Markdown section for the results file (bench/out/results.md).
 * @param off runs with ADMIN_PORT=off, in order
 * @param on runs with the admin port on and watched, in order
 */
export function renderMetricsComparison(
  info: ComparisonInfo,
  off: readonly RunOutcome[],
  on: readonly RunOutcome[],
): string {
  const comparison = compareMetrics(off, on);
  const stamp = info.date.toISOString().slice(0, 16).replace("T", " ");
  const lines = [
    `## Metrics off vs on, ${stamp} UTC${info.quick ? " (quick smoke run)" : ""}`,
    "",
    `\`deno task bench -- --metrics-compare\` at ${info.commit} on ${info.cpus} × ${info.cpuModel}: ` +
    `${info.scenario}, runs alternating off, on, off, on, … Off is \`ADMIN_PORT=off\` (no admin ` +
    `port, no counters); on is \`ADMIN_PORT=0\` with a /metrics scrape every ${info.scrapeMs} ms ` +
    "and one status page stream open for the whole run. Every run was checked against the store.",
    "",
    `| run (CPU: ${info.cpuModel}) | off: end to end s | off: bets/s | off: server CPU s | off: server RSS MB | on: end to end s | on: bets/s | on: server CPU s | on: server RSS MB | on: scrapes |`,
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (let index = 0; index < Math.max(off.length, on.length); index += 1) {
    lines.push(
      `| ${index + 1} | ${[..._run(off[index]), ..._run(on[index], true)].join(" | ")} |`,
    );
  }
  lines.push(
    `| median | ${[..._cells(comparison.off), ..._cells(comparison.on), "–"].join(" | ")} |`,
  );
  lines.push("");
  if (comparison.ratios === undefined) {
    lines.push("No ratio: a run failed its checks.");
  } else {
    const { betsPerS, serverCpuMs, serverRssBytes } = comparison.ratios;
    lines.push(
      `On / off, medians: throughput ${betsPerS.toFixed(3)}, server CPU ${
        serverCpuMs.toFixed(3)
      }, server peak RSS ${serverRssBytes.toFixed(3)}. ` +
        (comparison.withinLimit
          ? `Throughput with metrics on is within ${METRICS_LOSS_MAX * 100}% of off.`
          : `Throughput with metrics on is more than ${
            METRICS_LOSS_MAX * 100
          }% below off: not met.`),
    );
  }
  return lines.join("\n") + "\n";
}
