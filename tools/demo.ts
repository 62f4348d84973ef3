/**
 * Runs the whole system locally, no Docker: the server and N agencies as
 * processes on 127.0.0.1, then prints what the store holds per agency and
 * what each agency was told.
 *
 * deno task demo [-- --agencies N --bets M --seed S --serve --upload-rate B]
 */

import { parseArgs } from "node:util";
import { runProgram } from "../lib/runtime/program.ts";
import { DRAW_ID_DEFAULT } from "../lib/config/draw_id.ts";
import { drawBetsPath } from "../lib/store/draw_paths.ts";
import { wholeNumberFlag, withoutTaskSeparator } from "../lib/runtime/task_args.ts";
import { hasWon } from "../lib/bet/bet.ts";
import { loadBets } from "../lib/store/bets_file_reader.ts";
import { fieldOf, linesOf, runLocalClient, startLocalServer } from "../lib/dev/local_cluster.ts";
import { type DataOptions, writeAgencyFile } from "../lib/dev/agency_file.ts";
import { startThrottleProxy, type ThrottleProxy } from "../lib/dev/throttle_proxy.ts";
import { SHUTDOWN_SIGNALS } from "../lib/runtime/signals.ts";

const _USAGE =
  `Usage: deno task demo [-- --agencies N] [--bets M] [--seed S] [--serve] [--upload-rate B]
Without --bets it uses the committed data/agency-1..N.csv (N at most 5).
With --bets it first generates N files of M bets (seed S, default 1) in a temp folder.
  --serve          print the status page's URL and keep the server and its page up
                   after the draw, until Ctrl-C
  --upload-rate B  slow each agency's upload to B bytes per second (through a local
                   proxy), so the page can be watched filling up; 20000 makes each
                   committed file (82 kB) take about 4 s
The admin port is a free one unless ADMIN_PORT is set; ADMIN_TOKEN is honoured.`;

/** Demo options. */
export interface DemoOptions {
  agencies: number;
  bets: number | undefined;
  seed: number;
  /** Keep the server and its status page up after the draw. */
  serve: boolean;
  /** Agency-to-server bytes per second per agency; undefined: full speed. */
  uploadRate: number | undefined;
}

/** After Ctrl-C, how long the server gets to stop by itself before it is sent SIGTERM. */
const _SERVER_OWN_STOP_MS = 2_000;

/** Fastest --upload-rate accepted: above it no one could watch anything. */
const _UPLOAD_RATE_MAX = 1_000_000_000;

/** Largest agency count the demo starts (one process each). */
const _DEMO_AGENCIES_MAX = 50;

/**
 * Parses the demo's flags.
 * @throws {RangeError} or {TypeError} on a bad or unknown flag
 */
export function parseDemoArgs(args: string[]): DemoOptions | "help" {
  const { values } = parseArgs({
    args: withoutTaskSeparator(args),
    options: {
      agencies: { type: "string" },
      bets: { type: "string" },
      seed: { type: "string" },
      serve: { type: "boolean" },
      "upload-rate": { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return "help";
  const bets = values.bets === undefined
    ? undefined
    : wholeNumberFlag(values.bets, "--bets", 0, 1, 100_000_000);
  const agencies = wholeNumberFlag(
    values.agencies,
    "--agencies",
    5,
    1,
    bets === undefined ? 5 : _DEMO_AGENCIES_MAX,
  );
  const uploadRate = values["upload-rate"] === undefined
    ? undefined
    : wholeNumberFlag(values["upload-rate"], "--upload-rate", 0, 1, _UPLOAD_RATE_MAX);
  return {
    agencies,
    bets,
    seed: wholeNumberFlag(values.seed, "--seed", 1, 0, 2 ** 31),
    serve: values.serve ?? false,
    uploadRate,
  };
}

/** One row of the results table. */
interface _Row {
  agency: number;
  stored: number;
  winners: number;
  told: string;
  exitCode: number;
}

async function _dataFiles(options: DemoOptions, workDir: string): Promise<string[]> {
  const files: string[] = [];
  for (let agency = 1; agency <= options.agencies; agency += 1) {
    if (options.bets === undefined) {
      files.push(`data/agency-${agency}.csv`);
      continue;
    }
    const data: DataOptions = {
      agencies: options.agencies,
      bets: options.bets,
      seed: options.seed,
      winners: Math.ceil(options.bets / 500),
      out: `${workDir}/data`,
    };
    files.push(await writeAgencyFile(data, agency));
  }
  return files;
}

/**
 * The status page's address, with the token when one is set.
 * @example statusPageUrl(9180, "") // "http://127.0.0.1:9180/"
 */
export function statusPageUrl(port: number, token: string): string {
  return `http://127.0.0.1:${port}/${token === "" ? "" : `?token=${encodeURIComponent(token)}`}`;
}

/**
 * Waits for Ctrl-C (SIGINT) or SIGTERM. The listeners stay until `remove`:
 * under `deno task`, Ctrl-C reaches this process twice (from the terminal
 * and forwarded by the task runner), and the second one must not kill it
 * before it has stopped the server and printed the results.
 */
function _interruption(): { interrupted: Promise<void>; remove(): void } {
  const { promise, resolve } = Promise.withResolvers<void>();
  const handler = () => resolve();
  for (const signal of SHUTDOWN_SIGNALS) Deno.addSignalListener(signal, handler);
  return {
    interrupted: promise,
    remove: () => {
      for (const signal of SHUTDOWN_SIGNALS) Deno.removeSignalListener(signal, handler);
    },
  };
}

async function _run(options: DemoOptions): Promise<number> {
  const workDir = await Deno.makeTempDir({ prefix: "tp0-demo-" });
  const storage = drawBetsPath(workDir, DRAW_ID_DEFAULT);
  const files = await _dataFiles(options, workDir);
  const startedMs = Date.now();
  const adminPort = Deno.env.get("ADMIN_PORT");
  const server = await startLocalServer({
    STORAGE_DIR: workDir,
    AGENCIES: String(options.agencies),
    ...(adminPort === undefined ? {} : { ADMIN_PORT: adminPort }),
  });
  console.log(`server listening on 127.0.0.1:${server.port}, storage ${storage}`);
  const pageUrl = server.adminPort === undefined
    ? undefined
    : statusPageUrl(server.adminPort, Deno.env.get("ADMIN_TOKEN") ?? "");
  if (pageUrl !== undefined) console.log(`status page: ${pageUrl}`);
  let proxy: ThrottleProxy | undefined;
  if (options.uploadRate !== undefined) {
    proxy = startThrottleProxy({ targetPort: server.port, bytesPerS: options.uploadRate });
    console.log(
      `agencies upload through 127.0.0.1:${proxy.port} at ${options.uploadRate} bytes/s each`,
    );
  }
  const runs = await Promise.all(files.map((file, index) =>
    runLocalClient({
      CLI_ID: String(index + 1),
      CLI_SERVER_ADDRESS: `127.0.0.1:${proxy?.port ?? server.port}`,
      CLI_DATA_FILE: file,
    })
  ));
  const elapsedMs = Date.now() - startedMs;
  await proxy?.close();
  let interruption: ReturnType<typeof _interruption> | undefined;
  if (options.serve) {
    if (pageUrl === undefined) {
      console.log("the server's admin port is off (ADMIN_PORT=off): nothing to serve");
    } else {
      interruption = _interruption();
      console.log(`draw done; serving the status page at ${pageUrl} until Ctrl-C`);
      await interruption.interrupted;
      // Ctrl-C reached the server too (same process group) and it is stopping
      // by itself: a SIGTERM on top would kill it mid-shutdown. A SIGTERM sent
      // to the demo alone did not reach it: stop it once this bound is over.
      let bound: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        server.exited,
        new Promise((resolve) => bound = setTimeout(resolve, _SERVER_OWN_STOP_MS)),
      ]);
      clearTimeout(bound);
    }
  }
  const serverCode = await server.stop();
  interruption?.remove();
  await Deno.writeTextFile(`${workDir}/server.log`, server.lines.join("\n") + "\n");
  const rows: _Row[] = runs.map((run, index) => ({
    agency: index + 1,
    stored: 0,
    winners: 0,
    told: fieldOf(linesOf(run.lines, "consulta_ganadores")[0] ?? "", "cant_ganadores") ?? "-",
    exitCode: run.code,
  }));
  for await (const bet of loadBets(storage)) {
    const row = rows[bet.agency - 1]!;
    row.stored += 1;
    if (hasWon(bet)) row.winners += 1;
  }
  for (const [index, run] of runs.entries()) {
    await Deno.writeTextFile(`${workDir}/client${index + 1}.log`, run.lines.join("\n") + "\n");
  }
  console.log("agency | bets stored | winners stored | winners told | client exit");
  for (const row of rows) {
    console.log(
      `${String(row.agency).padStart(6)} | ${String(row.stored).padStart(11)} | ${
        String(row.winners).padStart(14)
      } | ${row.told.padStart(12)} | ${String(row.exitCode).padStart(11)}`,
    );
  }
  const draws = linesOf(server.lines, "sorteo").length;
  const consistent = rows.every((row) => row.exitCode === 0 && row.told === String(row.winners));
  console.log(
    `${rows.reduce((sum, row) => sum + row.stored, 0)} bets in ${elapsedMs} ms; draws: ${draws}; ` +
      `server exit ${serverCode}; logs in ${workDir}`,
  );
  if (!consistent || draws !== 1 || serverCode !== 0) {
    console.error("demo: results are inconsistent (see the logs above)");
    return 1;
  }
  return 0;
}

if (import.meta.main) await runProgram("demo", _USAGE, parseDemoArgs, _run);
