/**
 * The benchmark: runs the real server and agencies as processes on
 * 127.0.0.1 over seeded data, next to a raw-bytes floor, checks every run,
 * and reports medians, the targets, a Markdown section appended to
 * bench/out/results.md (not committed) and the chart bench/throughput.svg.
 *
 * deno task bench [-- --quick] [--runs N] [--scenario a|b|c|d|e]... [--large]
 *   [--out DIR] [--results FILE] [--chart FILE] [--seed S] [--env KEY=VALUE]... [--no-sweep]
 *   [--metrics-compare]
 */

import { parseArgs } from "node:util";
import { loadClientConfig } from "../lib/config/client_config.ts";
import {
  betsOf,
  type DataSet,
  defaultWinners,
  ensureDataSet,
  readDataFolder,
} from "./bench_data.ts";
import {
  chartData,
  evaluateTargets,
  renderResultsSection,
  type RunInfo,
  type ScenarioResult,
  summarize,
} from "./bench_report.ts";
import { wholeNumberFlag, withoutTaskSeparator } from "../lib/runtime/task_args.ts";
import { permissionSetFlags } from "../lib/runtime/runtime_flags.ts";
import { runProgram } from "../lib/runtime/program.ts";
import {
  runBaseline,
  type RunOutcome,
  runProtocol,
  type RunSetup,
  type Transport,
} from "./scenario_run.ts";
import { makeDevCredentials } from "../lib/dev/dev_credentials.ts";
import {
  FRAME_SWEEP_MAX_AMOUNTS,
  type Scenario,
  SCENARIO_IDS,
  type ScenarioId,
  scenarioTable,
  totalBets,
} from "./scenarios.ts";
import { renderThroughputSvg } from "./throughput_chart.ts";
import { compareMetrics, renderMetricsComparison } from "./metrics_compare.ts";
import { killAllWatched } from "./watched_process.ts";

const _USAGE = `Usage: deno task bench [-- OPTIONS]
  --quick              seconds-long smoke run on tiny data (1 run; results go to --out)
  --runs N             runs per figure, the median is reported (default 3, quick 1)
  --scenario X         a, b, c, d or e; repeatable (default a, b, c, e; d only with --large)
  --large              also run (d), the ~1 GB file: generating and moving it takes minutes
  --out DIR            generated data and run files (default bench/out)
  --results FILE       Markdown appended per run (default DIR/results.md, DIR from --out)
  --chart FILE         SVG chart (default bench/throughput.svg, quick: DIR/throughput.svg)
  --seed S             data generator seed (default 1)
  --dataset DIR        run (a) and the sweep on DIR/agency-1.csv, agency-2.csv, … instead
                       of generated data (e.g. the course's dataset: CRLF, accented names)
  --env KEY=VALUE      extra variable for the server and clients (e.g. SERVER_LISTEN_BACKLOG=128)
  --no-sweep           skip the frame-size sweep on (a)'s data
  --metrics-compare    only (b), N runs each with the admin port off and on (scraped every
                       second, one status page open), alternating; reports on/off ratios
  --no-tls             skip (b) over TLS and over TLS with client certificates
  --cpu-prof DIR       every process writes a V8 CPU profile to DIR/<run>/<process>/ (read them
                       with bench/profile_summary.ts); profiling slows the processes, so such a
                       run's figures are for finding where time goes, not for the table`;

const _ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
/** Most runs per figure accepted. */
const _RUNS_MAX = 100;
/** Every run gets this long, plus {@link _DEADLINE_MS_PER_BET} per bet. */
const _DEADLINE_MS_BASE = 60_000;
/** A run slower than 10,000 bets/s is taken for hung and killed. */
const _DEADLINE_MS_PER_BET = 0.1;

/** Parsed command line. */
export interface BenchOptions {
  quick: boolean;
  runs: number;
  scenarios: ScenarioId[];
  /** True when (d) was left out by default rather than by choice. */
  largeSkipped: boolean;
  out: string;
  results: string;
  chart: string;
  seed: number;
  /** A folder of agency files (a) runs on instead of generated data. */
  dataset: string | undefined;
  env: Record<string, string>;
  sweep: boolean;
  /** Run (b) with metrics off and on instead of the scenarios. */
  metricsCompare: boolean;
  /** Run (b) again over TLS and TLS with client certificates. */
  tls: boolean;
  /** A folder for every process's CPU profile; undefined: no profiling. */
  cpuProf: string | undefined;
}

/** The transports (b) runs over besides plain TCP, in report order. */
const _TLS_TRANSPORTS: readonly Transport[] = ["tls", "tls+client-certs"];

function _env(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf("=");
    if (equals <= 0) throw new RangeError(`--env "${pair}" is not KEY=VALUE`);
    env[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return env;
}

/**
 * Parses the command line.
 * @throws {RangeError} or {TypeError} on a bad or unknown flag
 */
export function parseBenchArgs(args: string[]): BenchOptions | "help" {
  const { values } = parseArgs({
    args: withoutTaskSeparator(args),
    options: {
      quick: { type: "boolean" },
      runs: { type: "string" },
      scenario: { type: "string", multiple: true },
      large: { type: "boolean" },
      out: { type: "string" },
      results: { type: "string" },
      chart: { type: "string" },
      seed: { type: "string" },
      dataset: { type: "string" },
      env: { type: "string", multiple: true },
      "no-sweep": { type: "boolean" },
      "metrics-compare": { type: "boolean" },
      "no-tls": { type: "boolean" },
      "cpu-prof": { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return "help";
  const quick = values.quick ?? false;
  for (const id of values.scenario ?? []) {
    if (!(SCENARIO_IDS as readonly string[]).includes(id)) {
      throw new RangeError(`--scenario "${id}" is not one of ${SCENARIO_IDS.join(", ")}`);
    }
  }
  const chosen = values.scenario === undefined
    ? SCENARIO_IDS.filter((id) => id !== "d" || values.large === true)
    : SCENARIO_IDS.filter((id) => values.scenario!.includes(id) || (id === "d" && values.large));
  const out = values.out ?? "bench/out";
  return {
    quick,
    runs: wholeNumberFlag(values.runs, "--runs", quick ? 1 : 3, 1, _RUNS_MAX),
    scenarios: chosen,
    largeSkipped: values.scenario === undefined && values.large !== true,
    out,
    results: values.results ?? `${out}/results.md`,
    chart: values.chart ?? (quick ? `${out}/throughput.svg` : "bench/throughput.svg"),
    seed: wholeNumberFlag(values.seed, "--seed", 1, 0, 2 ** 31),
    dataset: values.dataset,
    env: _env(values.env ?? []),
    sweep: values["no-sweep"] !== true,
    metricsCompare: values["metrics-compare"] === true,
    tls: values["no-tls"] !== true,
    cpuProf: values["cpu-prof"],
  };
}

async function _command(command: string, args: string[]): Promise<string> {
  try {
    const output = await new Deno.Command(command, { args, cwd: _ROOT, stderr: "null" }).output();
    return output.success ? new TextDecoder().decode(output.stdout).trim() : "";
  } catch {
    return "";
  }
}

async function _machine(): Promise<Pick<RunInfo, "cpus" | "memoryBytes" | "cpuModel" | "commit">> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const commit = await _command("git", ["rev-parse", "--short", "HEAD"]);
  const dirty = await _command("git", ["status", "--porcelain", "--untracked-files=no"]);
  return {
    cpus: navigator.hardwareConcurrency,
    memoryBytes: Number(/^MemTotal:\s+(\d+) kB$/m.exec(meminfo)?.[1] ?? 0) * 1024,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown CPU",
    commit: commit === ""
      ? "unknown commit"
      : `${commit}${dirty === "" ? "" : " + uncommitted changes"}`,
  };
}

/** Loads every program's module graph once, so no measured run pays for it. */
async function _warmUp(): Promise<void> {
  const runs: [string[], Record<string, string>][] = [
    [["run", ...permissionSetFlags("server"), "server.ts"], { SERVER_PORT: "none" }],
    [["run", ...permissionSetFlags("client"), "client.ts"], { CLI_ID: "0" }],
    [["run", "bench/load_generator.ts", "--help"], {}],
    [["run", "bench/baseline.ts", "--help"], {}],
  ];
  await Promise.all(
    runs.map(([args, env]) =>
      new Deno.Command(Deno.execPath(), { args, env, cwd: _ROOT, stdout: "null", stderr: "null" })
        .output()
    ),
  );
}

async function _dataFor(options: BenchOptions, scenario: Scenario): Promise<DataSet> {
  let announced = false;
  const data = await ensureDataSet(options.out, {
    agencies: scenario.agencies,
    bets: scenario.betsPerAgency,
    winners: defaultWinners(scenario.betsPerAgency),
    seed: options.seed,
  }, (_agency, path) => {
    if (announced) return;
    announced = true;
    console.log(`bench: generating (${scenario.id})'s data with the seeded generator (${path} …)`);
  });
  if (announced) console.log(`bench: data ready in ${data.dir}`);
  return data;
}

/**
 * A scenario and its data: scenario (a) on the `--dataset` folder's files
 * (read and counted once) when one is given, else the generated data.
 */
async function _withData(
  options: BenchOptions,
  scenario: Scenario,
): Promise<[Scenario, DataSet]> {
  if (options.dataset === undefined || scenario.id !== "a") {
    return [scenario, await _dataFor(options, scenario)];
  }
  const data = await readDataFolder(await Deno.realPath(options.dataset));
  const bets = betsOf(data);
  console.log(
    `bench: (a) runs on ${data.dir}: ${data.files.length} agency files, ${
      bets.toLocaleString("en-US")
    } bets`,
  );
  return [{
    ...scenario,
    title: `${scenario.title}, --dataset`,
    agencies: data.files.length,
    betsPerAgency: Math.round(bets / data.files.length),
    dataset: { dir: data.dir, bets },
  }, data];
}

function _describe(outcome: RunOutcome): string {
  if (!outcome.ok) return `FAILED: ${outcome.reason}`;
  const { endToEndMs = 0, betsPerS = 0, serverRssBytes = 0 } = outcome.figures;
  return `passed, ${(endToEndMs / 1000).toFixed(3)} s, ${
    Math.round(betsPerS).toLocaleString("en-US")
  } bets/s, server RSS ${(serverRssBytes / 1e6).toFixed(1)} MB`;
}

/** Runs one configuration `options.runs` times. */
/** One kind of run a figure is measured with: its label and how to run it. */
type _RunKind = [label: string, run: (setup: RunSetup) => Promise<RunOutcome>];

/**
 * Runs each kind `--runs` times, taking turns (1st of each, then 2nd of
 * each, …), so that compared kinds (the protocol and its floor) see the same
 * machine: run blocks of one kind after the other moved their ratio by 0.1
 * when the shared machine changed speed between the blocks.
 * @returns the outcomes of each kind, in the order of `kinds`
 */
async function _takingTurns(
  options: BenchOptions,
  kinds: readonly _RunKind[],
  setup: Omit<RunSetup, "workDir" | "failureDir">,
): Promise<RunOutcome[][]> {
  const outcomes: RunOutcome[][] = kinds.map(() => []);
  const stamp = new Date().toISOString().replaceAll(":", "-").slice(0, 19);
  for (let index = 1; index <= options.runs; index += 1) {
    for (const [kind, [label, run]] of kinds.entries()) {
      const name = `${label.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "")}-run${index}`;
      const outcome = await run({
        ...setup,
        workDir: `${options.out}/runs/${name}`,
        failureDir: `${options.out}/failures/${stamp}-${name}`,
        ...(options.cpuProf === undefined ? {} : { cpuProfDir: `${options.cpuProf}/${name}` }),
      });
      console.log(`bench: ${label} run ${index}/${options.runs}: ${_describe(outcome)}`);
      outcomes[kind]!.push(outcome);
    }
  }
  return outcomes;
}

/** `--runs` runs of one kind. */
async function _repeat(
  options: BenchOptions,
  label: string,
  run: (setup: RunSetup) => Promise<RunOutcome>,
  setup: Omit<RunSetup, "workDir" | "failureDir">,
): Promise<RunOutcome[]> {
  return (await _takingTurns(options, [[label, run]], setup))[0]!;
}

async function _runScenario(
  options: BenchOptions,
  [scenario, data]: [Scenario, DataSet],
  client: { maxAmount: number; window: number },
  credentialsDir: string | undefined,
): Promise<ScenarioResult[]> {
  const base = {
    root: _ROOT,
    data,
    window: client.window,
    env: options.env,
    deadlineMs: _DEADLINE_MS_BASE + totalBets(scenario) * _DEADLINE_MS_PER_BET,
    transport: "plain" as Transport,
    credentialsDir,
  };
  const setup = { ...base, maxAmount: client.maxAmount };
  const results: ScenarioResult[] = [];
  const [protocol, floor] = await _takingTurns(options, [
    [`(${scenario.id})`, (run) => runProtocol(scenario, run)],
    [`(${scenario.id}) floor`, (run) => runBaseline(scenario, run)],
  ], setup) as [RunOutcome[], RunOutcome[]];
  results.push({
    scenario,
    maxAmount: client.maxAmount,
    sweep: false,
    transport: "plain",
    dataBytes: data.bytes,
    protocol: summarize(protocol),
    baseline: summarize(floor),
  });
  if (scenario.id === "b" && credentialsDir !== undefined) {
    for (const transport of _TLS_TRANSPORTS) {
      const outcomes = await _repeat(
        options,
        `(b) ${transport}`,
        (run) => runProtocol(scenario, run),
        { ...setup, transport },
      );
      results.push({
        scenario,
        maxAmount: client.maxAmount,
        sweep: false,
        transport,
        dataBytes: data.bytes,
        protocol: summarize(outcomes),
        baseline: undefined,
      });
    }
  }
  if (scenario.id !== "a" || !options.sweep) return results;
  for (const maxAmount of FRAME_SWEEP_MAX_AMOUNTS) {
    if (maxAmount === client.maxAmount) continue;
    const outcomes = await _repeat(
      options,
      `(a) maxAmount ${maxAmount}`,
      (run) => runProtocol(scenario, run),
      { ...base, maxAmount },
    );
    results.push({
      scenario,
      maxAmount,
      sweep: true,
      transport: "plain",
      dataBytes: data.bytes,
      protocol: summarize(outcomes),
      baseline: undefined,
    });
  }
  return results;
}

async function _appendResults(path: string, section: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
  const exists = await Deno.stat(path).then(() => true, () => false);
  const header = "# Benchmark results\n\n" +
    "Appended by `deno task bench` (see bench/README.md), newest last. " +
    "Figures are medians of the runs; a run that failed its checks gives no figure.\n";
  await Deno.writeTextFile(path, `${exists ? "" : header}\n${section}`, { append: true });
}

/** Formats the committed chart as `deno fmt --check` (in deno task test) wants it. */
async function _format(paths: string[]): Promise<void> {
  const formatted = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", ...paths],
    cwd: _ROOT,
    stdout: "null",
    stderr: "null",
  }).output();
  if (!formatted.success) {
    console.error(`bench: deno fmt ${paths.join(" ")} failed; run it by hand`);
  }
}

/** How often the metrics-on runs scrape /metrics: as a tight Prometheus would. */
const _COMPARE_SCRAPE_MS = 1_000;

/**
 * Runs (b) `options.runs` times with the admin port off and on, alternating,
 * and appends the comparison to the results file.
 * @returns the exit code: 0 when every run passed its checks
 */
async function _runMetricsCompare(
  options: BenchOptions,
  client: { maxAmount: number; window: number },
): Promise<number> {
  const scenario = scenarioTable(options.quick).b;
  const data = await _dataFor(options, scenario);
  const base = {
    root: _ROOT,
    data,
    transport: "plain" as Transport,
    credentialsDir: undefined,
    maxAmount: client.maxAmount,
    window: client.window,
    deadlineMs: _DEADLINE_MS_BASE + totalBets(scenario) * _DEADLINE_MS_PER_BET,
  };
  const off: RunOutcome[] = [];
  const on: RunOutcome[] = [];
  const stamp = new Date().toISOString().replaceAll(":", "-").slice(0, 19);
  for (let index = 1; index <= options.runs; index += 1) {
    for (const metrics of ["off", "on"] as const) {
      const name = `metrics-${metrics}-run${index}`;
      const outcome = await runProtocol(scenario, {
        ...base,
        env: { ...options.env, ADMIN_PORT: metrics === "off" ? "off" : "0" },
        ...(metrics === "on" ? { adminWatch: { scrapeMs: _COMPARE_SCRAPE_MS } } : {}),
        workDir: `${options.out}/runs/${name}`,
        failureDir: `${options.out}/failures/${stamp}-${name}`,
      });
      console.log(
        `bench: (b) metrics ${metrics} run ${index}/${options.runs}: ${_describe(outcome)}`,
      );
      (metrics === "off" ? off : on).push(outcome);
    }
  }
  const machine = await _machine();
  const section = renderMetricsComparison(
    {
      date: new Date(),
      commit: machine.commit,
      cpuModel: machine.cpuModel,
      cpus: machine.cpus,
      scenario: `(${scenario.id}) ${scenario.agencies} agencies × ${
        scenario.betsPerAgency.toLocaleString("en-US")
      } bets, ${options.runs} runs each`,
      scrapeMs: _COMPARE_SCRAPE_MS,
      quick: options.quick,
    },
    off,
    on,
  );
  console.log(`\n${section}`);
  await _appendResults(options.results, section);
  await Deno.writeTextFile(
    `${options.out}/metrics_compare.json`,
    JSON.stringify({ off, on, comparison: compareMetrics(off, on) }, null, 2) + "\n",
  );
  console.log(`bench: appended to ${options.results}`);
  return [...off, ...on].every((outcome) => outcome.ok) ? 0 : 1;
}

/**
 * Runs the benchmark.
 * @returns the exit code: 0 when every run passed its checks
 */
export async function runBench(options: BenchOptions): Promise<number> {
  const client = await loadClientConfig({
    CLI_CONFIG: `${_ROOT}/config/client.yaml`,
    CLI_ID: "1",
    ...options.env,
  });
  const notes: string[] = [];
  if (options.largeSkipped) {
    notes.push(
      "(d) skipped: generating and moving the ~1 GB file takes minutes; run with --large or --scenario d",
    );
    console.log(`bench: ${notes[0]}`);
  }
  await Deno.mkdir(options.out, { recursive: true });
  // The processes run in the repository root: give them absolute paths.
  options = { ...options, out: await Deno.realPath(options.out) };
  await _warmUp();
  const credentialsDir = options.tls && options.scenarios.includes("b")
    ? `${options.out}/credentials`
    : undefined;
  if (credentialsDir !== undefined) {
    // Made fresh every run (openssl, well under a second): nothing secret outlives it.
    await makeDevCredentials({
      dir: credentialsDir,
      agencies: scenarioTable(options.quick).b.agencies,
      serverNames: ["127.0.0.1", "localhost"],
      days: 1,
    });
  }
  // Ctrl-C or SIGTERM must not leave servers and clients running.
  const interrupt = () => {
    killAllWatched();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", interrupt);
  Deno.addSignalListener("SIGTERM", interrupt);
  const results: ScenarioResult[] = [];
  try {
    if (options.metricsCompare) {
      return await _runMetricsCompare(options, {
        maxAmount: client.batchMaxAmount,
        window: client.batchWindow,
      });
    }
    for (const id of options.scenarios) {
      const scenarioAndData = await _withData(options, scenarioTable(options.quick)[id]);
      results.push(
        ...await _runScenario(options, scenarioAndData, {
          maxAmount: client.batchMaxAmount,
          window: client.batchWindow,
        }, credentialsDir),
      );
    }
  } finally {
    Deno.removeSignalListener("SIGINT", interrupt);
    Deno.removeSignalListener("SIGTERM", interrupt);
  }
  const info: RunInfo = {
    date: new Date(),
    quick: options.quick,
    runs: options.runs,
    seed: options.seed,
    window: client.batchWindow,
    env: options.env,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    notes,
    ...await _machine(),
  };
  const section = renderResultsSection(info, results);
  console.log(`\n${section}`);
  await _appendResults(options.results, section);
  await Deno.writeTextFile(options.chart, renderThroughputSvg(chartData(info, results)));
  // Quick runs write into --out, which deno fmt ignores.
  if (!options.quick) await _format([options.chart]);
  await Deno.writeTextFile(
    `${options.out}/last_run.json`,
    JSON.stringify({ info, results, targets: evaluateTargets(results) }, null, 2) + "\n",
  );
  console.log(`bench: appended to ${options.results}; chart in ${options.chart}`);
  const failed = results.some((result) =>
    result.protocol.failures.length > 0 || (result.baseline?.failures.length ?? 0) > 0
  );
  return failed ? 1 : 0;
}

if (import.meta.main) await runProgram("bench", _USAGE, parseBenchArgs, runBench);
