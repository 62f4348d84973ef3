/**
 * One measured run of a scenario on 127.0.0.1: the real server with its
 * agencies (client.ts processes or load generators), or the raw-bytes
 * baseline. A run is checked before its figures count; a run that fails a
 * check yields only the reason, never figures.
 */

import { hasWon } from "../lib/bet/bet.ts";
import { agencyCertFile, agencyKeyFile, CREDENTIAL_FILES } from "../lib/containers/credentials.ts";
import { loadBets } from "../lib/store/bets_file_reader.ts";
import { drawBetsPath } from "../lib/store/draw_paths.ts";
import { benchDrawId, storedInDatabase } from "./database_check.ts";
import { DRAW_ID_DEFAULT } from "../lib/config/draw_id.ts";
import { fieldOf } from "../lib/dev/local_cluster.ts";
import { permissionSetFlags, V8_FLAGS } from "../lib/runtime/runtime_flags.ts";
import { betsOf, type DataSet } from "./bench_data.ts";
import { type Scenario, totalBets as totalBetsOf } from "./scenarios.ts";
import {
  nowMs,
  type ProcessReport,
  type StampedLine,
  WatchedProcess,
  type WatchOptions,
} from "./watched_process.ts";

/** Figures of one run: baseline runs have the first five, protocol runs the
 * others too (helloWaitMaxMs only with load generators). */
export const FIGURE_NAMES = [
  "endToEndMs",
  "betsPerS",
  "serverRssBytes",
  "clientRssBytes",
  "serverCpuMs",
  "serverStartMs",
  "finishToWinnersMs",
  "batchesPerSync",
  "listenOverflows",
  "helloWaitMaxMs",
  "connectSpanMs",
  "endToEndFromSpawnMs",
  "adminScrapes",
] as const;
export type FigureName = typeof FIGURE_NAMES[number];
export type RunFigures = Partial<Record<FigureName, number>>;

/** How agencies reach the server: its plain port, its TLS port, or its TLS
 * port with a client certificate each (TLS_CLIENT_CA on the server). */
export const TRANSPORTS = ["plain", "tls", "tls+client-certs"] as const;
export type Transport = typeof TRANSPORTS[number];

/** A run's result: figures only when every check passed. */
export type RunOutcome = { ok: true; figures: RunFigures } | { ok: false; reason: string };

/** Where and how a run happens. */
export interface RunSetup {
  /** The repository root: the processes' working directory. */
  root: string;
  data: DataSet;
  /** A folder for this run's storage, removed afterwards. */
  workDir: string;
  /** Where the output tails of a failed run's processes are written. */
  failureDir: string;
  /** Bets per batch frame (client batch.maxAmount). */
  maxAmount: number;
  /** Unacknowledged batches per agency (client batch.window). */
  window: number;
  /** Extra variables for the server and the clients (config overrides). */
  env: Record<string, string>;
  /** Every process is killed after this long. */
  deadlineMs: number;
  /** Watch the server's admin port during the run as an operator would: a
   * /metrics scrape every `scrapeMs` and one status page stream. The run
   * then also checks the last scrape's bets against the data. */
  adminWatch?: { scrapeMs: number };
  /** How the agencies connect (client.ts agencies only; the floor ignores it). */
  transport: Transport;
  /** A `deno task certs` directory; needed by the TLS transports. */
  credentialsDir: string | undefined;
  /** When set, every process writes a V8 CPU profile into `<dir>/<process>/`. */
  cpuProfDir?: string;
}

/**
 * A `deno run` process's options, profiled into `<dir>/<name>/` when a
 * profile folder is given (the flags go right after `run`).
 * @example profiledArgs({ args: ["run", "server.ts"], env: {}, cwd: "." }, "server", "p")
 *   // args: ["run", "--cpu-prof", "--cpu-prof-dir=p/server", "server.ts"]
 */
export function profiledArgs(
  options: WatchOptions,
  name: string,
  dir: string | undefined,
): WatchOptions {
  if (dir === undefined || options.args[0] !== "run") return options;
  const [run, ...rest] = options.args;
  return { ...options, args: [run!, "--cpu-prof", `--cpu-prof-dir=${dir}/${name}`, ...rest] };
}

/** The server's environment for a transport. */
function _serverTlsEnv(setup: RunSetup): Record<string, string> {
  if (setup.transport === "plain") return {};
  const dir = _credentials(setup);
  return {
    TLS_PORT: "0",
    TLS_CERT_FILE: `${dir}/${CREDENTIAL_FILES.serverCert}`,
    TLS_KEY_FILE: `${dir}/${CREDENTIAL_FILES.serverKey}`,
    ...(setup.transport === "tls+client-certs"
      ? { TLS_CLIENT_CA: `${dir}/${CREDENTIAL_FILES.ca}` }
      : {}),
  };
}

/** Agency k's environment for a transport (the server's TLS config is beside it). */
function _clientTlsEnv(setup: RunSetup, agency: number): Record<string, string> {
  if (setup.transport === "plain") return {};
  const dir = _credentials(setup);
  return {
    CLI_SERVER_TLS_CA: `${dir}/${CREDENTIAL_FILES.ca}`,
    ...(setup.transport === "tls+client-certs"
      ? {
        CLI_SERVER_TLS_CERT: `${dir}/${agencyCertFile(agency)}`,
        CLI_SERVER_TLS_KEY: `${dir}/${agencyKeyFile(agency)}`,
      }
      : {}),
  };
}

function _credentials(setup: RunSetup): string {
  if (setup.credentialsDir === undefined) {
    throw new TypeError(`Cannot run over ${setup.transport} without a credentials directory`);
  }
  return setup.credentialsDir;
}

const _SERVER = "server.ts";
const _CLIENT = "client.ts";
const _LOAD_GENERATOR = "bench/load_generator.ts";
const _BASELINE = "bench/baseline.ts";
/** How long a server may take to print its listen line. */
const _LISTEN_MS_MAX = 30_000;
/** Printed once per stored batch: counted, not kept. */
const _BATCH_STORED = " action: apuesta_recibida | result: success";

/** Starts, bounds in time and stops the processes of one run. */
class _Supervisor {
  readonly processes: { name: string; process: WatchedProcess }[] = [];
  timedOut = false;
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #cpuProfDir: string | undefined;

  constructor(deadlineMs: number, cpuProfDir: string | undefined) {
    this.#cpuProfDir = cpuProfDir;
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      this.killAll();
    }, deadlineMs);
  }

  /** Starts a process; `name` names its log if the run fails (e.g. `client-3`). */
  start(name: string, options: WatchOptions): WatchedProcess {
    const process = new WatchedProcess(profiledArgs(options, name, this.#cpuProfDir));
    this.processes.push({ name, process });
    return process;
  }

  killAll(): void {
    for (const { process } of this.processes) process.kill("SIGKILL");
  }

  /** Waits for every agent; the first one that fails stops the whole run. */
  waitAll(agents: readonly WatchedProcess[]): Promise<ProcessReport[]> {
    return Promise.all(agents.map((agent) =>
      agent.report.then((report) => {
        if (report.code !== 0) this.killAll();
        return report;
      })
    ));
  }

  /** Kills what still runs; with a folder, writes each process's output tail there. */
  async close(failureDir: string | undefined): Promise<void> {
    clearTimeout(this.#timer);
    this.killAll();
    const reports = await Promise.all(this.processes.map(({ process }) => process.report));
    if (failureDir === undefined) return;
    await Deno.mkdir(failureDir, { recursive: true });
    for (const [index, report] of reports.entries()) {
      await Deno.writeTextFile(
        `${failureDir}/${this.processes[index]!.name}.log`,
        `pid ${report.pid}, exit code ${report.code}, last lines:\n${report.tail.join("\n")}\n`,
      );
    }
  }
}

function _linesOf(lines: readonly StampedLine[], action: string, result = "success") {
  const marker = ` action: ${action} | result: ${result}`;
  return lines.filter((line) => line.text.includes(marker));
}

function _lastMs(lines: readonly StampedLine[]): number | undefined {
  return lines.length === 0 ? undefined : Math.max(...lines.map((line) => line.atMs));
}

/** Splits agencies 1..count into `parts` contiguous ranges. */
export function agencyRanges(count: number, parts: number): { first: number; last: number }[] {
  const ranges: { first: number; last: number }[] = [];
  const used = Math.max(1, Math.min(parts, count));
  for (let part = 0; part < used; part += 1) {
    const first = Math.floor((part * count) / used) + 1;
    const last = Math.floor(((part + 1) * count) / used);
    ranges.push({ first, last });
  }
  return ranges;
}

/**
 * The kernel's count of connections dropped because an accept queue was full
 * (TcpExt ListenOverflows in /proc/net/netstat; whole machine).
 * @returns undefined when the counter cannot be read
 */
async function _listenOverflows(): Promise<number | undefined> {
  const text = await Deno.readTextFile("/proc/net/netstat").catch(() => "");
  const [names, values] = text.split("\n").filter((line) => line.startsWith("TcpExt:"));
  const index = names?.split(" ").indexOf("ListenOverflows") ?? -1;
  const value = Number(values?.split(" ")[index]);
  return index > 0 && Number.isFinite(value) ? value : undefined;
}

/** What watching the admin port saw. */
interface _AdminWatch {
  /** Stops watching after one last scrape; resolves with what was seen. */
  stop(): Promise<{ scrapes: number; events: number; lastBets: number | undefined }>;
}

/**
 * Scrapes /metrics every `scrapeMs` and reads the status page's stream
 * (/events) until stopped, like Prometheus and one operator's open page.
 */
async function _watchAdmin(server: WatchedProcess, scrapeMs: number): Promise<_AdminWatch> {
  const line = await server.waitForLine(
    (text) => text.includes(" action: admin_listen | result: success"),
    _LISTEN_MS_MAX,
  );
  const base = `http://127.0.0.1:${fieldOf(line.text, "port")}`;
  let scrapes = 0;
  let lastBets: number | undefined;
  const scrape = async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    scrapes += 1;
    const bets = /^tp0_bets_stored (\d+)$/m.exec(text)?.[1];
    lastBets = bets === undefined ? undefined : Number(bets);
  };
  const timer = setInterval(() => scrape().catch(() => {}), scrapeMs);
  const viewer = new AbortController();
  let events = 0;
  const viewing = (async () => {
    const response = await fetch(`${base}/events`, { signal: viewer.signal });
    for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) {
      events += chunk.split("event: status\n").length - 1;
    }
  })().catch(() => {});
  return {
    stop: async () => {
      clearInterval(timer);
      await scrape();
      viewer.abort();
      await viewing;
      return { scrapes, events, lastBets };
    },
  };
}

/** Waits for the listen line; returns the port agencies use (the TLS port
 * when there is one) and when the line came. */
async function _listen(server: WatchedProcess): Promise<{ port: number; atMs: number }> {
  const line = await server.waitForLine(
    (text) => text.includes(" action: listen | result: success"),
    _LISTEN_MS_MAX,
  );
  const port = fieldOf(line.text, "tls_port") ?? fieldOf(line.text, "port");
  return { port: Number(port), atMs: line.atMs };
}

/** `,DIR` for --allow-read when the run reads a credentials directory. */
function _readableCredentials(setup: RunSetup): string {
  return setup.transport === "plain" ? "" : `,${_credentials(setup)}`;
}

function _startAgents(
  supervisor: _Supervisor,
  scenario: Scenario,
  setup: RunSetup,
  port: number,
): WatchedProcess[] {
  const dataDir = setup.data.dir;
  if (scenario.driver === "clients") {
    return agencyRanges(scenario.agencies, scenario.agencies).map(({ first }) =>
      supervisor.start(`client-${first}`, {
        args: [
          "run",
          V8_FLAGS,
          // The client's set, its net and read narrowed to what a run uses.
          ...permissionSetFlags("client"),
          "--allow-net=127.0.0.1",
          `--allow-read=config,${dataDir}${_readableCredentials(setup)}`,
          _CLIENT,
        ],
        env: {
          ...setup.env,
          ..._clientTlsEnv(setup, first),
          CLI_ID: String(first),
          CLI_SERVER_ADDRESS: `127.0.0.1:${port}`,
          CLI_DATA_FILE: setup.data.files[first - 1]!,
          CLI_BATCH_MAXAMOUNT: String(setup.maxAmount),
          CLI_BATCH_WINDOW: String(setup.window),
        },
        cwd: setup.root,
      })
    );
  }
  return agencyRanges(scenario.agencies, scenario.loadProcesses).map(({ first, last }) =>
    supervisor.start(`load-${first}-${last}`, {
      args: [
        "run",
        V8_FLAGS,
        "--allow-net=127.0.0.1",
        `--allow-read=${dataDir}`,
        _LOAD_GENERATOR,
        ...["--port", String(port), "--data", dataDir],
        ...["--first", String(first), "--last", String(last)],
        ...["--max-amount", String(setup.maxAmount), "--window", String(setup.window)],
        ...["--concurrency", String(scenario.loadConcurrency)],
        ...(scenario.connectFirst ? ["--connect-first"] : []),
      ],
      env: {},
      cwd: setup.root,
    })
  );
}

/** What is wrong with the agents' own reports (exit codes, counts, winners). */
function _agentProblems(scenario: Scenario, setup: RunSetup, reports: ProcessReport[]): string[] {
  const problems: string[] = [];
  const ranges = scenario.driver === "clients"
    ? agencyRanges(scenario.agencies, scenario.agencies)
    : agencyRanges(scenario.agencies, scenario.loadProcesses);
  reports.forEach((report, index) => {
    const { first, last } = ranges[index]!;
    const name = scenario.driver === "clients" ? `client ${first}` : `load ${first}..${last}`;
    if (report.code !== 0) problems.push(`${name} exited with code ${report.code}`);
    if (scenario.driver === "clients") {
      const { bets, winners } = setup.data.counts[first - 1]!;
      const upload = _linesOf(report.lines, "carga_finalizada")[0]?.text ?? "";
      const told = _linesOf(report.lines, "consulta_ganadores")[0]?.text ?? "";
      const sent = fieldOf(upload, "bets_sent");
      const skipped = fieldOf(upload, "rows_skipped");
      if (!upload.includes("result: success") || sent !== String(bets) || skipped !== "0") {
        problems.push(
          `${name} sent ${sent} bets (skipped ${skipped}), expected ${bets}: ${upload}`,
        );
      }
      const winnersTold = fieldOf(told, "cant_ganadores");
      if (winnersTold !== String(winners)) {
        problems.push(`${name} was told ${winnersTold} winners, its file has ${winners}`);
      }
      return;
    }
    const summary = _linesOf(report.lines, "load_summary")[0]?.text ?? "";
    const agencies = last - first + 1;
    if (
      fieldOf(summary, "agencies") !== String(agencies) ||
      fieldOf(summary, "bets") !== String(betsOf(setup.data, first, last))
    ) {
      problems.push(`${name} did not confirm ${agencies} agencies with exact winners`);
    }
  });
  return problems;
}

/** What is wrong with the server's log (exit, draw, errors). */
function _serverProblems(report: ProcessReport): string[] {
  const problems: string[] = [];
  if (report.code !== 0) problems.push(`server exited with code ${report.code}`);
  const draws = _linesOf(report.lines, "sorteo").length;
  if (draws !== 1) problems.push(`server logged ${draws} draws`);
  const errors = report.lines.filter((line) => / (ERROR|CRITICAL) /.test(line.text));
  if (errors.length > 0) problems.push(`server logged an error: ${errors[0]!.text}`);
  return problems;
}

/** Bets and winners per agency in the draw's file (loadBets validates every row). */
async function _storedInFile(
  storage: string,
): Promise<Map<number, { bets: number; winners: number }>> {
  const stored = new Map<number, { bets: number; winners: number }>();
  for await (const bet of loadBets(storage)) {
    const entry = stored.get(bet.agency) ?? { bets: 0, winners: 0 };
    entry.bets += 1;
    if (hasWon(bet)) entry.winners += 1;
    stored.set(bet.agency, entry);
  }
  return stored;
}

/** Compares what the store holds (the draw's file, or the database's draw) with the data. */
async function _storageProblems(
  where: { file: string } | { url: string; drawId: string },
  scenario: Scenario,
  setup: RunSetup,
) {
  const stored = "file" in where
    ? await _storedInFile(where.file)
    : await storedInDatabase(where.url, where.drawId);
  const problems: string[] = [];
  for (let agency = 1; agency <= scenario.agencies; agency += 1) {
    const entry = stored.get(agency) ?? { bets: 0, winners: 0 };
    const { bets, winners } = setup.data.counts[agency - 1]!;
    if (entry.bets !== bets || entry.winners !== winners) {
      problems.push(
        `store holds ${entry.bets} bets (${entry.winners} winners) of agency ${agency}, ` +
          `its file has ${bets} (${winners})`,
      );
    }
    stored.delete(agency);
  }
  for (const agency of stored.keys()) problems.push(`store holds bets of unknown agency ${agency}`);
  return problems;
}

/**
 * When the last `finished` and the last winners answer happened (epoch ms).
 * Load generators time both themselves (finished sent, winners received).
 * For client.ts, whose log has 1 s timestamps, they are the arrival times at
 * this process of the server's last `agencia_finalizada` line (logged once
 * the finished record is durable) and of the clients' last
 * `consulta_ganadores` line (logged right after the answer).
 */
function _finishAndWinners(
  scenario: Scenario,
  server: ProcessReport,
  agents: ProcessReport[],
): { lastFinished: number | undefined; lastWinners: number | undefined } {
  if (scenario.driver === "clients") {
    return {
      lastFinished: _lastMs(_linesOf(server.lines, "agencia_finalizada")),
      lastWinners: _lastMs(agents.flatMap((agent) => _linesOf(agent.lines, "consulta_ganadores"))),
    };
  }
  const summaries = agents.map((agent) => _linesOf(agent.lines, "load_summary")[0]?.text ?? "");
  const latest = (key: string) => {
    const values = summaries.map((summary) => Number(fieldOf(summary, key)));
    return values.every((value) => value > 0) ? Math.max(...values) : undefined;
  };
  return { lastFinished: latest("last_finished_ms"), lastWinners: latest("last_winners_ms") };
}

/** The figures protocol and floor runs both have. */
function _sharedFigures(
  scenario: Scenario,
  endToEndMs: number,
  server: ProcessReport,
  agents: readonly ProcessReport[],
): RunFigures {
  return {
    endToEndMs,
    betsPerS: (totalBetsOf(scenario) * 1000) / endToEndMs,
    serverRssBytes: server.peakRssBytes,
    clientRssBytes: Math.max(...agents.map((agent) => agent.peakRssBytes)),
    serverCpuMs: server.cpuMs,
  };
}

function _protocolFigures(
  scenario: Scenario,
  window: { startMs: number; endMs: number },
  server: ProcessReport,
  listenMs: number,
  agents: ProcessReport[],
): RunFigures {
  const endToEndMs = window.endMs - window.startMs;
  const { lastFinished, lastWinners } = _finishAndWinners(scenario, server, agents);
  const stats = _linesOf(server.lines, "store_stats")[0]?.text ?? "";
  const syncs = Number(fieldOf(stats, "syncs"));
  const batches = Number(fieldOf(stats, "batches"));
  const figures: RunFigures = {
    ..._sharedFigures(scenario, endToEndMs, server, agents),
    serverStartMs: listenMs - server.startedMs,
  };
  if (lastFinished !== undefined && lastWinners !== undefined) {
    figures.finishToWinnersMs = lastWinners - lastFinished;
  }
  if (syncs > 0) figures.batchesPerSync = batches / syncs;
  if (scenario.driver === "load") {
    const summaries = agents.map((agent) => _linesOf(agent.lines, "load_summary")[0]?.text ?? "");
    const field = (key: string) => summaries.map((summary) => Number(fieldOf(summary, key)));
    figures.helloWaitMaxMs = Math.max(...field("hello_max_ms"));
    // First connect of any process → last helloAck of any: every agency connected.
    const span = Math.max(...field("last_hello_ms")) - Math.min(...field("first_connect_ms"));
    if (Number.isFinite(span)) figures.connectSpanMs = span;
  }
  return figures;
}

/** Runs `body` under a supervisor; on failure keeps the process tails. */
async function _supervised(
  setup: RunSetup,
  body: (supervisor: _Supervisor) => Promise<RunOutcome>,
): Promise<RunOutcome> {
  await Deno.mkdir(setup.workDir, { recursive: true });
  const supervisor = new _Supervisor(setup.deadlineMs, setup.cpuProfDir);
  let outcome: RunOutcome;
  try {
    outcome = await body(supervisor);
  } catch (error) {
    outcome = { ok: false, reason: (error as Error).message.split("\n")[0]! };
  }
  if (supervisor.timedOut) {
    outcome = { ok: false, reason: `not done within ${Math.round(setup.deadlineMs / 1000)} s` };
  }
  try {
    await supervisor.close(outcome.ok ? undefined : setup.failureDir);
  } finally {
    await Deno.remove(setup.workDir, { recursive: true }).catch(() => {});
  }
  if (!outcome.ok) outcome.reason += ` (process output in ${setup.failureDir})`;
  return outcome;
}

/**
 * Runs the real server and the scenario's agencies once, then checks the
 * agencies' reports, the server's log and the store against the data.
 */
export function runProtocol(scenario: Scenario, setup: RunSetup): Promise<RunOutcome> {
  return _supervised(setup, async (supervisor) => {
    // With STORE_URL each run is a draw of its own in that database.
    const storeUrl = setup.env.STORE_URL;
    const drawId = storeUrl === undefined ? DRAW_ID_DEFAULT : benchDrawId(scenario.id);
    const storage = storeUrl === undefined
      ? { file: drawBetsPath(setup.workDir, drawId) }
      : { url: storeUrl, drawId };
    const server = supervisor.start("server", {
      args: [
        "run",
        V8_FLAGS,
        // The server's set, its net, read and write narrowed to this run.
        ...permissionSetFlags("server"),
        "--allow-net=127.0.0.1",
        `--allow-read=config,${setup.workDir}${_readableCredentials(setup)}`,
        `--allow-write=${setup.workDir}`,
        _SERVER,
      ],
      env: {
        SERVER_PORT: "0",
        SERVER_IP: "127.0.0.1",
        // config/server.ini's 9180 would clash with another run; --env ADMIN_PORT=off turns it off.
        ADMIN_PORT: "0",
        ...setup.env,
        ..._serverTlsEnv(setup),
        STORAGE_DIR: setup.workDir,
        DRAW_ID: drawId,
        AGENCIES: String(scenario.agencies),
      },
      cwd: setup.root,
      keep: (text) => !text.includes(_BATCH_STORED),
    });
    const { port, atMs: listenMs } = await _listen(server);
    const watch = setup.adminWatch === undefined
      ? undefined
      : await _watchAdmin(server, setup.adminWatch.scrapeMs);
    const overflowsBefore = await _listenOverflows();
    const startMs = nowMs();
    const agents = await supervisor.waitAll(_startAgents(supervisor, scenario, setup, port));
    const endMs = Math.max(...agents.map((agent) => agent.exitedMs));
    const overflowsAfter = await _listenOverflows();
    const watched = await watch?.stop();
    server.kill("SIGTERM");
    const serverReport = await server.report;
    const problems = [..._agentProblems(scenario, setup, agents), ..._serverProblems(serverReport)];
    if (watched !== undefined && watched.lastBets !== totalBetsOf(scenario)) {
      problems.push(`the last /metrics scrape said ${watched.lastBets} bets stored`);
    }
    if (watched !== undefined && watched.events === 0) {
      problems.push("the status stream sent no event");
    }
    if (problems.length === 0) problems.push(...await _storageProblems(storage, scenario, setup));
    if (problems.length > 0) return { ok: false, reason: problems.slice(0, 3).join("; ") };
    const figures = _protocolFigures(scenario, { startMs, endMs }, serverReport, listenMs, agents);
    figures.endToEndFromSpawnMs = endMs - serverReport.startedMs;
    if (overflowsBefore !== undefined && overflowsAfter !== undefined) {
      figures.listenOverflows = overflowsAfter - overflowsBefore;
    }
    if (watched !== undefined) figures.adminScrapes = watched.scrapes;
    return { ok: true, figures };
  });
}

/**
 * Moves the same files as raw length-prefixed bytes (bench/baseline.ts),
 * with as many sender processes as the scenario has agent processes.
 */
export function runBaseline(scenario: Scenario, setup: RunSetup): Promise<RunOutcome> {
  return _supervised(setup, async (supervisor) => {
    const out = `${setup.workDir}/baseline.bin`;
    const server = supervisor.start("floor-server", {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        `--allow-write=${setup.workDir}`,
        _BASELINE,
        ...["serve", "--out", out, "--connections", String(scenario.agencies)],
      ],
      env: {},
      cwd: setup.root,
    });
    const { port } = await _listen(server);
    const parts = scenario.driver === "clients" ? scenario.agencies : scenario.loadProcesses;
    const startMs = nowMs();
    const senders = agencyRanges(scenario.agencies, parts).map(({ first, last }) =>
      supervisor.start(`floor-sender-${first}-${last}`, {
        args: [
          "run",
          "--allow-net=127.0.0.1",
          `--allow-read=${setup.data.dir}`,
          _BASELINE,
          ...["send", "--port", String(port), "--data", setup.data.dir],
          ...["--first", String(first), "--last", String(last)],
          ...["--concurrency", String(Math.max(1, scenario.loadConcurrency))],
        ],
        env: {},
        cwd: setup.root,
      })
    );
    const reports = await supervisor.waitAll(senders);
    const endMs = Math.max(...reports.map((report) => report.exitedMs));
    const serverReport = await server.report;
    const problems: string[] = [];
    for (const report of [...reports, serverReport]) {
      if (report.code !== 0) problems.push(`pid ${report.pid} exited with code ${report.code}`);
    }
    const storedLine = _linesOf(serverReport.lines, "baseline_stored")[0]?.text ?? "";
    const stored = fieldOf(storedLine, "bytes");
    const fileBytes = (await Deno.stat(out)).size;
    if (stored !== String(setup.data.bytes) || fileBytes !== setup.data.bytes) {
      problems.push(
        `baseline stored ${stored} bytes (file ${fileBytes}), the data has ${setup.data.bytes}`,
      );
    }
    if (problems.length > 0) return { ok: false, reason: problems.slice(0, 3).join("; ") };
    const endToEndMs = endMs - startMs;
    const figures = _sharedFigures(scenario, endToEndMs, serverReport, reports);
    figures.endToEndFromSpawnMs = endMs - serverReport.startedMs;
    // All in (the server read every sender to its end) → the last answer.
    const sent = reports.map((report) => _linesOf(report.lines, "baseline_sent")[0]?.text ?? "");
    const lastAnswerMs = Math.max(...sent.map((line) => Number(fieldOf(line, "last_answer_ms"))));
    const fanOutMs = lastAnswerMs - Number(fieldOf(storedLine, "all_in_ms"));
    if (Number.isFinite(fanOutMs)) figures.finishToWinnersMs = fanOutMs;
    return { ok: true, figures };
  });
}
