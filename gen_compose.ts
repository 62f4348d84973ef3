/**
 * Writes the compose file for a server and N agencies.
 *
 * deno task compose <N> [--output docker-compose-dev.yaml] [--mode lottery|bet|echo]
 *                       [--config-dir config] [--data-dir data]
 */

import { dirname, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import YAML from "yaml";
import { runProgram } from "./lib/runtime/program.ts";
import type { Bet } from "./lib/bet/bet.ts";
import { parseAgencyRow } from "./lib/bet/bet_csv.ts";
import { CLIENT_MODES, type ClientMode } from "./lib/config/client_config.ts";
import {
  ADMIN_PORT_DEFAULT,
  COMPOSE_CLIENTS_MAX,
  COMPOSE_DEFAULTS,
  composeDocument,
  type ComposeOptions,
  NETWORK_KEY,
} from "./lib/containers/compose_document.ts";
import { parseCsvLine, readLines } from "./lib/bet/csv.ts";
import { withoutTaskSeparator } from "./lib/runtime/task_args.ts";
import { drawIdViolation, newDrawId } from "./lib/config/draw_id.ts";

const _USAGE = `Usage: deno task compose <N> [--output FILE] [--mode lottery|bet|echo]
                         [--config-dir DIR] [--data-dir DIR] [--draw ID]

Writes a compose file (default docker-compose-dev.yaml) with services
server and client1..clientN (container names exactly those), all on the
internal network ${COMPOSE_DEFAULTS.project}_${NETWORK_KEY}. N is 0..${COMPOSE_CLIENTS_MAX}; 0 gives a server-only file.

  --mode        every client's CLI_MODE (default lottery). In bet mode each
                client also gets NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO and
                NUMERO from the first row of its agency file.
  --config-dir  holds server.ini and client.yaml (default config); each is
                bind-mounted read-only, so edits need a restart, not a build.
  --data-dir    holds agency-<k>.csv for k = 1..N (default data), mounted
                read-only into client k (create them: deno task data).
  --output      where to write; paths inside are relative to it.
  --draw        the draw (sorteo) id to stamp into the server (DRAW_ID).
                Default: a new one (UTC time and 4 random hex digits), so
                every generated deployment is a new lottery; give the id of
                an earlier one to continue it. Restarting the same file
                (deno task up again) always continues its draw.
  --admin-port  the server's admin port (status page, /metrics), in the container
                and on the host's 127.0.0.1 (default ${ADMIN_PORT_DEFAULT}).

The server gets AGENCIES=N (unless N is 0) and a named volume for its bets.
Bad input prints one line and exits 2, leaving the output file untouched.
Then: deno task up, deno task logs, deno task down.`;

/** Longest first line read from an agency file for the bet-mode example. */
const _ROW_BYTES_MAX = 4096;

/** The command line, parsed. */
export interface ComposeArgs {
  clients: number;
  mode: ClientMode;
  output: string;
  configDir: string;
  dataDir: string;
  /** --draw, or undefined for a new draw. */
  drawId: string | undefined;
  /** The admin port in the container and on the host's loopback. */
  adminPort: number;
}

function _parseFlags(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        output: { type: "string" },
        mode: { type: "string" },
        "config-dir": { type: "string" },
        "data-dir": { type: "string" },
        draw: { type: "string" },
        "admin-port": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    // node:util's messages run on about a shell-quoting workaround; keep the gist.
    const flag = /option '([^']+)'/.exec((error as Error).message)?.[1];
    throw new TypeError(
      flag === undefined
        ? (error as Error).message
        : `unknown or incomplete flag ${flag} (see --help)`,
    );
  }
}

function _adminPort(text: string | undefined): number {
  if (text === undefined) return ADMIN_PORT_DEFAULT;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65_535) {
    throw new RangeError(`--admin-port "${text}" is not a whole number in 1..65535`);
  }
  return Number(text);
}

/**
 * Parses the command line.
 * @returns the arguments, or "help"
 * @throws {TypeError} on an unknown flag, a missing or extra N, or a bad mode
 * @throws {RangeError} when N is not a whole number in 0..COMPOSE_CLIENTS_MAX
 */
export function parseComposeArgs(args: string[]): ComposeArgs | "help" {
  // `deno task compose -- 5` passes the `--` along; skip it.
  args = withoutTaskSeparator(args);
  const negative = args.find((arg) => /^-\d/.test(arg));
  if (negative !== undefined) {
    throw new RangeError(
      `N "${negative}" is not a whole number in 0..${COMPOSE_CLIENTS_MAX}`,
    );
  }
  const { values, positionals } = _parseFlags(args);
  if (values.help) return "help";
  if (positionals.length !== 1) {
    throw new TypeError(
      `expected one argument N (the number of agencies), got ${positionals.length}`,
    );
  }
  const text = positionals[0]!;
  if (!/^\d+$/.test(text) || Number(text) > COMPOSE_CLIENTS_MAX) {
    throw new RangeError(
      `N "${text}" is not a whole number in 0..${COMPOSE_CLIENTS_MAX}`,
    );
  }
  const mode = values.mode ?? "lottery";
  if (!(CLIENT_MODES as readonly string[]).includes(mode)) {
    throw new TypeError(
      `--mode "${mode}" is not one of ${CLIENT_MODES.join(", ")}`,
    );
  }
  const draw = values.draw;
  const drawProblem = draw === undefined ? undefined : drawIdViolation(draw);
  if (drawProblem !== undefined) throw new TypeError(`--draw "${draw}" ${drawProblem}`);
  return {
    clients: Number(text),
    mode: mode as ClientMode,
    output: values.output ?? "docker-compose-dev.yaml",
    configDir: values["config-dir"] ?? "config",
    dataDir: values["data-dir"] ?? "data",
    drawId: draw,
    adminPort: _adminPort(values["admin-port"]),
  };
}

/**
 * Serializes the compose document with a header saying how it was made.
 * @throws {RangeError | TypeError} as {@link composeDocument}
 */
export function renderCompose(options: ComposeOptions): string {
  // YAML 1.1 rules, as PyYAML in docker-compose v1 reads them: strings such
  // as 1944-02-10, yes or 0755 get quoted instead of turning into other types.
  const document = new YAML.Document(composeDocument(options), {
    version: "1.1",
  });
  document.commentBefore =
    ` Generated by gen_compose.ts (deno task compose ${options.clients} --mode ${options.mode}); edit the generator, not this file.`;
  return document.toString();
}

async function _requireFile(path: string, why: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new Error(`${path} not found (${why})`);
  }
  if (!info.isFile) throw new Error(`${path} is not a file (${why})`);
}

/**
 * Reads the first bet of an agency file.
 * @throws {Error} when the file is empty or its first row is not a bet
 */
export async function readFirstBet(path: string, agency: number): Promise<Bet> {
  using file = await Deno.open(path);
  for await (const { text } of readLines(file.readable, _ROW_BYTES_MAX)) {
    try {
      return parseAgencyRow(parseCsvLine(text), agency);
    } catch (error) {
      throw new Error(`${path} line 1: ${(error as Error).message}`);
    }
  }
  throw new Error(`${path} is empty (bet mode takes its first row)`);
}

function _fromOutput(outputDir: string, path: string): string {
  const fromOutput = relative(outputDir, resolve(path)) || ".";
  return fromOutput.startsWith(".") || fromOutput.startsWith("/") ? fromOutput : `./${fromOutput}`;
}

/**
 * Checks every file the compose file will mount and gathers the options.
 * @throws {Error} naming the first missing or unusable file
 */
export async function composeOptionsFor(
  args: ComposeArgs,
): Promise<ComposeOptions> {
  await _requireFile(`${args.configDir}/server.ini`, "the server mounts it");
  await _requireFile(`${args.configDir}/client.yaml`, "the clients mount it");
  const exampleBets: Bet[] = [];
  for (let agency = 1; agency <= args.clients; agency += 1) {
    const path = `${args.dataDir}/agency-${agency}.csv`;
    await _requireFile(
      path,
      `client${agency} mounts it; create it with: deno task data --agencies ${args.clients}`,
    );
    if (args.mode === "bet") exampleBets.push(await readFirstBet(path, agency));
  }
  const outputDir = dirname(resolve(args.output));
  const outputDirExists = await Deno.stat(outputDir).then(
    (info) => info.isDirectory,
    () => false,
  );
  if (!outputDirExists) {
    throw new Error(`--output directory ${outputDir} does not exist`);
  }
  return {
    ...COMPOSE_DEFAULTS,
    clients: args.clients,
    mode: args.mode,
    contextDir: _fromOutput(outputDir, "."),
    configDir: _fromOutput(outputDir, args.configDir),
    dataDir: _fromOutput(outputDir, args.dataDir),
    exampleBets,
    drawId: args.drawId ?? newDrawId(),
    adminPort: args.adminPort,
    adminHostPort: args.adminPort,
  };
}

/** Writes beside the target, then renames, so a reader never sees half. */
async function _writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${Deno.pid}.tmp`;
  try {
    await Deno.writeTextFile(temporary, text);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/** The parsed flags and the compose file they produce, before it is written. */
interface _ComposeRun {
  args: ComposeArgs;
  drawId: string;
  text: string;
}

async function _prepare(argv: string[]): Promise<_ComposeRun | "help"> {
  const args = parseComposeArgs(argv);
  if (args === "help") return "help";
  const options = await composeOptionsFor(args);
  return { args, drawId: options.drawId, text: renderCompose(options) };
}

async function _write({ args, drawId, text }: _ComposeRun): Promise<number> {
  try {
    await _writeAtomically(args.output, text);
  } catch (error) {
    throw new Error(`cannot write ${args.output}: ${(error as Error).message}`);
  }
  console.log(
    `wrote ${args.output}: server + ${args.clients} clients (mode ${args.mode}, network ${COMPOSE_DEFAULTS.project}_${NETWORK_KEY}, draw ${drawId})`,
  );
  return 0;
}

if (import.meta.main) await runProgram("gen_compose", _USAGE, _prepare, _write);
