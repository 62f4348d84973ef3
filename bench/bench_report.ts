/**
 * Turns the benchmark's runs into figures (medians of the runs that passed
 * their checks), the targets as met / not met, a Markdown section for
 * bench/out/results.md and the data of the throughput chart.
 */

import { shownEnvValue } from "./database_check.ts";
import type { FigureName, RunFigures, RunOutcome, Transport } from "./scenario_run.ts";
import type { Scenario, ScenarioId } from "./scenarios.ts";
import type { ThroughputChart } from "./throughput_chart.ts";

/** The runs of one configuration, summarized. */
export interface Summary {
  runs: number;
  /** Why each failed run failed. */
  failures: string[];
  /** Medians; undefined when any run failed (a failed run is never a figure). */
  figures: RunFigures | undefined;
}

/** Everything measured for one scenario and frame size. */
export interface ScenarioResult {
  scenario: Scenario;
  /** Bets per batch frame of its agencies. */
  maxAmount: number;
  /** True for the frame-size sweep's extra runs on (a)'s data. */
  sweep: boolean;
  /** How its agencies reached the server; the headline rows are plain. */
  transport: Transport;
  dataBytes: number;
  protocol: Summary;
  /** The raw-bytes floor; undefined for sweep runs. */
  baseline: Summary | undefined;
}

/** Where and how the benchmark ran. */
export interface RunInfo {
  date: Date;
  quick: boolean;
  runs: number;
  seed: number;
  window: number;
  env: Record<string, string>;
  cpus: number;
  memoryBytes: number;
  cpuModel: string;
  deno: string;
  v8: string;
  /** e.g. `abc1234 (+ uncommitted changes)`. */
  commit: string;
  notes: string[];
}

/** A target and how this run did, beside the floor of the same run. */
export interface TargetVerdict {
  target: string;
  measured: string;
  /** The floor's figure for the same work in the same run. */
  floor: string;
  /** measured / floor. */
  ratio: string;
  verdict: "met" | "not met" | "not run";
}

/**
 * The median of some numbers.
 * @example median([3, 1, 2]) // 2
 * @returns undefined for no numbers
 */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((one, other) => one - other);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Summarizes runs: medians of every figure, or none when a run failed. */
export function summarize(outcomes: readonly RunOutcome[]): Summary {
  const failures = outcomes.flatMap((outcome) => outcome.ok ? [] : [outcome.reason]);
  if (failures.length > 0 || outcomes.length === 0) {
    return { runs: outcomes.length, failures, figures: undefined };
  }
  const figures: RunFigures = {};
  const names = new Set(
    outcomes.flatMap((outcome) => outcome.ok ? Object.keys(outcome.figures) : []),
  ) as Set<FigureName>;
  for (const name of names) {
    const values = outcomes.flatMap((outcome) => {
      const value = outcome.ok ? outcome.figures[name] : undefined;
      return value === undefined ? [] : [value];
    });
    const middle = median(values);
    if (middle !== undefined) figures[name] = middle;
  }
  return { runs: outcomes.length, failures, figures };
}

const _DASH = "–";

function _seconds(ms: number | undefined): string {
  return ms === undefined ? _DASH : (ms / 1000).toFixed(3);
}

function _ms(ms: number | undefined): string {
  return ms === undefined ? _DASH : ms.toFixed(1);
}

function _rate(perS: number | undefined): string {
  return perS === undefined ? _DASH : Math.round(perS).toLocaleString("en-US");
}

function _mb(bytes: number | undefined): string {
  return bytes === undefined ? _DASH : (bytes / 1e6).toFixed(1);
}

function _ratio(value: number | undefined): string {
  return value === undefined ? _DASH : `${value.toFixed(1)}×`;
}

function _check(summary: Summary): string {
  if (summary.failures.length === 0) return `passed (${summary.runs}/${summary.runs})`;
  return `FAILED ${summary.failures.length}/${summary.runs}: ${summary.failures[0]}`;
}

function _data(result: ScenarioResult): string {
  const { agencies, betsPerAgency, dataset } = result.scenario;
  if (dataset !== undefined) {
    return `${agencies.toLocaleString("en-US")} files, ${
      dataset.bets.toLocaleString("en-US")
    } bets (${_mb(result.dataBytes)} MB)`;
  }
  return `${agencies.toLocaleString("en-US")} × ${betsPerAgency.toLocaleString("en-US")} (${
    _mb(result.dataBytes)
  } MB)`;
}

/** The headline scenario results (plain TCP, not the sweep). */
function _main(results: readonly ScenarioResult[]): ScenarioResult[] {
  return results.filter((result) => !result.sweep && result.transport === "plain");
}

/** (b) over every transport of the run, plain first. */
function _transports(results: readonly ScenarioResult[]): ScenarioResult[] {
  return results.filter((result) => !result.sweep && result.scenario.id === "b");
}

const _TRANSPORT_NAMES: Record<Transport, string> = {
  plain: "plain TCP",
  tls: "TLS (node:tls server)",
  "tls+client-certs": "TLS + client certificates",
};

function _transportRow(result: ScenarioResult, plain: RunFigures | undefined): string[] {
  const figures = result.protocol.figures;
  const ratio = figures?.endToEndMs !== undefined && plain?.endToEndMs !== undefined
    ? figures.endToEndMs / plain.endToEndMs
    : undefined;
  return [
    _TRANSPORT_NAMES[result.transport],
    _seconds(figures?.endToEndMs),
    _rate(figures?.betsPerS),
    ratio === undefined ? _DASH : `${ratio.toFixed(2)}×`,
    figures?.serverCpuMs === undefined ? _DASH : (figures.serverCpuMs / 1000).toFixed(2),
    _mb(figures?.serverRssBytes),
    _mb(figures?.clientRssBytes),
    _ms(figures?.finishToWinnersMs),
    _ms(figures?.serverStartMs),
    _check(result.protocol),
  ];
}

function _find(results: readonly ScenarioResult[], id: ScenarioId): ScenarioResult | undefined {
  return _main(results).find((result) => result.scenario.id === id);
}

interface _Target {
  id: ScenarioId;
  text: string;
  /** undefined: met when every run passed its checks. */
  figure: FigureName | undefined;
  /** The bound: on the figure itself, or with `relative` on figure / floor's figure. */
  limit: number;
  kind: "at most" | "at least";
  /** The limit is a ratio to the floor of the same run. */
  relative: boolean;
  format: (value: number | undefined) => string;
}

const _formatSeconds = (ms: number | undefined) => `${_seconds(ms)} s`;
const _formatRate = (rate: number | undefined) => `${_rate(rate)} bets/s`;
const _formatMb = (bytes: number | undefined) => `${_mb(bytes)} MB`;
const _formatMs = (ms: number | undefined) => `${_ms(ms)} ms`;

function _exactWinners(id: ScenarioId): _Target {
  return {
    id,
    text: `(${id}) every agency gets its exact winners, none fails`,
    figure: undefined,
    limit: 0,
    kind: "at most",
    relative: false,
    format: () => "",
  };
}

/** The targets: throughput and latency against the floor, and the winners latency.
 * (e)'s are all ratios: with 10,000 connections the floor itself holds
 * hundreds of MB and takes hundreds of ms to answer, so absolute bounds
 * there would judge the machine, not the server. */
const _TARGETS: _Target[] = [
  {
    id: "a",
    text: "(a) end to end from the server's spawn ≤ 1.5× the floor's (from its server's spawn)",
    figure: "endToEndFromSpawnMs",
    limit: 1.5,
    kind: "at most",
    relative: true,
    format: _formatSeconds,
  },
  {
    id: "b",
    text: "(b) bets/s ≥ 0.5× the floor's",
    figure: "betsPerS",
    limit: 0.5,
    kind: "at least",
    relative: true,
    format: _formatRate,
  },
  {
    id: "b",
    text: "(b) server RSS ≤ 100 MB",
    figure: "serverRssBytes",
    limit: 100e6,
    kind: "at most",
    relative: false,
    format: _formatMb,
  },
  {
    id: "c",
    text: "(c) bets/s ≥ 0.5× the floor's",
    figure: "betsPerS",
    limit: 0.5,
    kind: "at least",
    relative: true,
    format: _formatRate,
  },
  {
    id: "c",
    text: "(c) server RSS ≤ 200 MB",
    figure: "serverRssBytes",
    limit: 200e6,
    kind: "at most",
    relative: false,
    format: _formatMb,
  },
  _exactWinners("c"),
  _exactWinners("e"),
  {
    id: "e",
    text: "(e) server RSS ≤ 1.1× the floor's",
    figure: "serverRssBytes",
    limit: 1.1,
    kind: "at most",
    relative: true,
    format: _formatMb,
  },
  {
    id: "e",
    text: "(e) bets/s ≥ 0.5× the floor's",
    figure: "betsPerS",
    limit: 0.5,
    kind: "at least",
    relative: true,
    format: _formatRate,
  },
  {
    id: "e",
    text: "(e) winners after the last finished ≤ 1.25× the floor's answers after its last sender",
    figure: "finishToWinnersMs",
    limit: 1.25,
    kind: "at most",
    relative: true,
    format: _formatMs,
  },
  ...(["a", "b", "c"] as const).map((id): _Target => ({
    id,
    text: `(${id}) winners ≤ 50 ms after the last finished`,
    figure: "finishToWinnersMs",
    limit: 50,
    kind: "at most",
    relative: false,
    format: _formatMs,
  })),
];

/**
 * Marks each target met / not met / not run, with the floor of the same run
 * and the ratio to it beside the measured value.
 */
export function evaluateTargets(results: readonly ScenarioResult[]): TargetVerdict[] {
  return _TARGETS.map((target) => {
    const notRun = { target: target.text, measured: _DASH, floor: _DASH, ratio: _DASH };
    const result = _find(results, target.id);
    if (result === undefined) return { ...notRun, verdict: "not run" };
    const { figures, failures, runs } = result.protocol;
    if (figures === undefined) {
      return { ...notRun, measured: `${failures.length}/${runs} runs failed`, verdict: "not met" };
    }
    if (target.figure === undefined) {
      const measured = `checked in ${runs} run${runs === 1 ? "" : "s"}`;
      return { ...notRun, measured, verdict: "met" };
    }
    const value = figures[target.figure];
    const floor = result.baseline?.figures?.[target.figure];
    const ratio = value !== undefined && floor !== undefined && floor > 0
      ? value / floor
      : undefined;
    const compared = target.relative ? ratio : value;
    const met = compared !== undefined &&
      (target.kind === "at most" ? compared <= target.limit : compared >= target.limit);
    return {
      target: target.text,
      measured: target.format(value),
      floor: floor === undefined ? _DASH : target.format(floor),
      ratio: ratio === undefined ? _DASH : `${ratio.toFixed(2)}×`,
      verdict: met ? "met" : "not met",
    };
  });
}

/**
 * A Markdown table whose first header cell names the CPU, so a table copied
 * on its own still says what machine its figures come from.
 */
export function markdownTable(cpuModel: string, header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const [first = "", ...others] = header;
  const named = [`${first} (CPU: ${cpuModel})`, ...others];
  return [line(named), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function _scenarioRow(result: ScenarioResult): string[] {
  const figures = result.protocol.figures;
  const floor = result.baseline?.figures;
  const ratio = figures?.endToEndMs !== undefined && floor?.endToEndMs !== undefined
    ? figures.endToEndMs / floor.endToEndMs
    : undefined;
  return [
    `(${result.scenario.id}) ${result.scenario.title}`,
    _data(result),
    _seconds(figures?.endToEndMs),
    _rate(figures?.betsPerS),
    _rate(floor?.betsPerS),
    _ratio(ratio),
    _mb(figures?.serverRssBytes),
    _mb(figures?.clientRssBytes),
    _ms(figures?.finishToWinnersMs),
    _ms(floor?.finishToWinnersMs),
    figures?.batchesPerSync === undefined ? _DASH : figures.batchesPerSync.toFixed(1),
    figures?.serverCpuMs === undefined ? _DASH : (figures.serverCpuMs / 1000).toFixed(2),
    _ms(figures?.serverStartMs),
    _seconds(figures?.endToEndFromSpawnMs),
    _seconds(floor?.endToEndFromSpawnMs),
    figures?.listenOverflows === undefined ? _DASH : String(figures.listenOverflows),
    result.baseline === undefined || result.baseline.failures.length === 0
      ? _check(result.protocol)
      : `${_check(result.protocol)}; floor ${_check(result.baseline)}`,
  ];
}

function _sweepRow(result: ScenarioResult): string[] {
  const figures = result.protocol.figures;
  return [
    String(result.maxAmount),
    _seconds(figures?.endToEndMs),
    _rate(figures?.betsPerS),
    figures?.batchesPerSync === undefined ? _DASH : figures.batchesPerSync.toFixed(1),
    _mb(figures?.serverRssBytes),
    _check(result.protocol),
  ];
}

function _overrides(env: Record<string, string>): string {
  const entries = Object.entries(env);
  return entries.length === 0
    ? "none"
    : entries.map(([key, value]) => `${key}=${shownEnvValue(key, value)}`).join(" ");
}

/** Renders one run of the benchmark as a Markdown section. */
export function renderResultsSection(info: RunInfo, results: readonly ScenarioResult[]): string {
  const stamp = info.date.toISOString().replace("T", " ").slice(0, 19);
  const main = _main(results);
  const sweep = results.filter((result) =>
    result.sweep || (result.scenario.id === "a" && result.transport === "plain")
  )
    .sort((one, other) => one.maxAmount - other.maxAmount);
  const parts = [
    `## ${stamp} UTC — ${info.quick ? "quick smoke run (tiny data)" : "full run"}`,
    "",
    `- Machine: ${info.cpus} CPUs (${info.cpuModel}), ${
      (info.memoryBytes / 2 ** 30).toFixed(1)
    } GiB memory`,
    `- Deno ${info.deno} (V8 ${info.v8}); code at ${info.commit}`,
    `- Config: config/server.ini and config/client.yaml; batch.maxAmount ${
      _find(results, "a")?.maxAmount ?? main[0]?.maxAmount ?? _DASH
    }, batch.window ${info.window}; overrides: ${_overrides(info.env)}; seed ${info.seed}`,
    `- Each figure is the median of ${info.runs} run${
      info.runs === 1 ? "" : "s"
    }; floor = the same bytes over TCP into a file, no validation, no fsync`,
    ...info.notes.map((note) => `- ${note}`),
    "",
    markdownTable(
      info.cpuModel,
      [
        "scenario",
        "agencies × bets",
        "end to end s",
        "bets/s",
        "floor bets/s",
        "× floor time",
        "server RSS MB",
        "client RSS MB",
        "finished→winners ms",
        "floor finished→answers ms",
        "batches/fsync",
        "server CPU s",
        "server start ms",
        "from server spawn s",
        "floor from its server's spawn s",
        "listen overflows",
        "check",
      ],
      main.map(_scenarioRow),
    ),
  ];
  const hellos = main.filter((result) => result.protocol.figures?.helloWaitMaxMs !== undefined);
  if (hellos.length > 0) {
    parts.push(
      "",
      "Listen overflows: connections the kernel dropped from a full accept queue during the run " +
        "(TcpExt ListenOverflows, whole machine); each costs its client a SYN-ACK retransmit " +
        "(1 s, then 2, 4, … s). Slowest connect → helloAck of a load-generator agency: " +
        hellos.map((result) => {
          const figures = result.protocol.figures;
          const span = figures?.connectSpanMs === undefined
            ? ""
            : ` (first connect → last helloAck of all agencies ${_ms(figures.connectSpanMs)} ms)`;
          return `(${result.scenario.id}) ${_ms(figures?.helloWaitMaxMs)} ms${span}`;
        }).join(", ") + ".",
    );
  }
  const transports = _transports(results);
  if (transports.length > 1) {
    const plain = transports.find((result) => result.transport === "plain")?.protocol.figures;
    parts.push(
      "",
      "(b) by transport, same run (agencies on the server's TLS port; client certificates: " +
        "TLS_CLIENT_CA on the server, CN=agency-<k> each):",
      "",
      markdownTable(
        info.cpuModel,
        [
          "transport",
          "end to end s",
          "bets/s",
          "× plain time",
          "server CPU s",
          "server RSS MB",
          "client RSS MB",
          "finished→winners ms",
          "server start ms",
          "check",
        ],
        transports.map((result) => _transportRow(result, plain)),
      ),
    );
  }
  if (sweep.length > 1) {
    parts.push(
      "",
      "Frame size sweep on (a)'s data (clients' batch.maxAmount; frames stay ≤ 8 KiB):",
      "",
      markdownTable(
        info.cpuModel,
        ["batch.maxAmount", "end to end s", "bets/s", "batches/fsync", "server RSS MB", "check"],
        sweep.map(_sweepRow),
      ),
    );
  }
  if (info.quick) {
    parts.push("", "Targets are not evaluated on the quick run's tiny data.");
  } else {
    const verdicts = evaluateTargets(results);
    parts.push(
      "",
      "Targets, each against the floor of this run:",
      "",
      markdownTable(
        info.cpuModel,
        ["target", "measured", "floor (same run)", "ratio to floor", "verdict"],
        verdicts.map((
          verdict,
        ) => [verdict.target, verdict.measured, verdict.floor, verdict.ratio, verdict.verdict]),
      ),
    );
  }
  return parts.join("\n") + "\n";
}

/** The chart's data: protocol and floor per scenario, and the frame sweep. */
export function chartData(info: RunInfo, results: readonly ScenarioResult[]): ThroughputChart {
  const point = (result: ScenarioResult, summary: Summary | undefined) =>
    summary?.figures?.betsPerS === undefined ? [] : [{
      x: result.scenario.agencies,
      y: summary.figures.betsPerS,
      label: `(${result.scenario.id})`,
    }];
  const main = _main(results);
  const frames = results.filter((result) => result.sweep || result.scenario.id === "a")
    .flatMap((result) =>
      result.protocol.figures?.betsPerS === undefined ? [] : [{
        x: result.maxAmount,
        y: result.protocol.figures.betsPerS,
        label: String(result.maxAmount),
      }]
    );
  return {
    title: `Ingest throughput, ${info.date.toISOString().slice(0, 10)}, ${info.cpus} CPUs${
      info.quick ? " (quick run)" : ""
    } — median of ${info.runs}`,
    byAgencies: [
      {
        name: "lottery (validated, durable)",
        color: "#1f6fb4",
        points: main.flatMap((result) => point(result, result.protocol)),
        line: false,
      },
      {
        name: "floor (raw bytes, no fsync)",
        color: "#999999",
        points: main.flatMap((result) => point(result, result.baseline)),
        line: false,
      },
    ],
    byFrame: [{
      name: "lottery, (a)'s data",
      color: "#d2691e",
      points: frames,
      line: true,
    }],
  };
}
