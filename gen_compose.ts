/**
 * Writes the compose file (or with --target swarm the stack file) for a
 * server and N agencies.
 *
 * deno task compose <N> [--target compose|swarm] [--output FILE] [--mode lottery|bet|echo]
 *                       [--config-dir config] [--data-dir data] [--credentials DIR]
 *                       [--client-certs] [--plain] [swarm: --stack NAME --agency-mode job|restart
 *                       --attachable --publish-tls --registry HOST[:PORT]]
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
import {
  type CredentialChoice,
  credentialFiles,
  TLS_PORT_DEFAULT,
} from "./lib/containers/credentials.ts";
import {
  AGENCY_MODES,
  type AgencyMode,
  isAgencyMode,
  stackDocument,
  stackFiles,
  type StackOptions,
} from "./lib/containers/stack_document.ts";
import { CLIENT_IMAGE, SERVER_IMAGE } from "./lib/containers/images.ts";

const _USAGE = `Usage: deno task compose <N> [--target compose|swarm] [--output FILE]
                         [--mode lottery|bet|echo] [--config-dir DIR] [--data-dir DIR]
                         [--draw ID] [--admin-port P]
                         [--credentials DIR [--client-certs | --plain]]
       swarm only:       [--stack NAME] [--agency-mode job|restart] [--attachable]
                         [--publish-tls] [--registry HOST[:PORT]]

Writes a compose file (default docker-compose-dev.yaml) with services
server and client1..clientN (container names exactly those), all on the
internal network ${COMPOSE_DEFAULTS.project}_${NETWORK_KEY}. N is 0..${COMPOSE_CLIENTS_MAX}; 0 gives a server-only file.

  --target      compose (default) or swarm: a stack file for docker stack
                deploy (default docker-stack.yaml; see docs/DEPLOY.md), with
                config files as swarm configs, credentials as swarm secrets,
                an encrypted overlay network and agencies placed by node label.
  --mode        every client's CLI_MODE (default lottery). In bet mode each
                client also gets NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO and
                NUMERO from the first row of its agency file.
  --config-dir  holds server.ini and client.yaml (default config); each is
                bind-mounted read-only (swarm: a config), so edits need a
                restart (swarm: generate and deploy again), not a build.
  --data-dir    holds agency-<k>.csv for k = 1..N (default data), mounted
                read-only into client k (create them: deno task data). In a
                stack it is the same absolute path on each agency's node.
  --output      where to write; paths inside are relative to it (swarm: absolute).
  --draw        the draw (sorteo) id to stamp into the server (DRAW_ID).
                Default: a new one (UTC time and 4 random hex digits), so
                every generated deployment is a new lottery; give the id of
                an earlier one to continue it. Restarting the same file
                (deno task up again) always continues its draw.
  --admin-port  the server's admin port (status page, /metrics), in the container
                and on the host's 127.0.0.1 (default ${ADMIN_PORT_DEFAULT}).
  --credentials a deno task certs directory: hello secrets (the server's
                SECRETS_FILE, each agency's CLI_SECRET_FILE, as secrets) and
                TLS to the server's port ${TLS_PORT_DEFAULT}, verified against its CA.
  --client-certs  also require each agency's certificate (TLS_CLIENT_CA).
  --plain       with --credentials: the hello secrets only, no TLS.
  --stack       the stack's name (default tp0); deno task deploy reads it.
  --agency-mode job (default): agencies are replicated-job services (needs
                engine API 1.41 and a docker CLI 23.0+); restart: replicated
                services that restart on failure only, for older CLIs.
  --attachable  let standalone containers join the network (validate_echo).
  --publish-tls publish the TLS port on the server's node, for agencies
                outside the swarm (needs --credentials without --plain).
  --registry    image references HOST[:PORT]/tp0-server:latest and
                …/tp0-client:latest, for nodes that pull from a registry.

The server gets AGENCIES=N (unless N is 0) and a named volume for its bets.
Bad input prints one line and exits 2, leaving the output file untouched.
Then: deno task up, deno task logs, deno task down
(swarm: deno task deploy, deno task undeploy).`;

/** Where a generated file goes. */
export const TARGETS = ["compose", "swarm"] as const;
export type Target = typeof TARGETS[number];

/** Default output file of each target. */
export const OUTPUT_DEFAULTS: Readonly<Record<Target, string>> = {
  compose: "docker-compose-dev.yaml",
  swarm: "docker-stack.yaml",
};

/** Longest first line read from an agency file for the bet-mode example. */
const _ROW_BYTES_MAX = 4096;

/** The command line, parsed. */
export interface ComposeArgs {
  clients: number;
  target: Target;
  mode: ClientMode;
  output: string;
  configDir: string;
  dataDir: string;
  /** --draw, or undefined for a new draw. */
  drawId: string | undefined;
  /** The admin port in the container and on the host's loopback. */
  adminPort: number;
  /** From --credentials, --client-certs and --plain; undefined: none. */
  credentials: CredentialChoice | undefined;
  /** Swarm only. */
  swarm: SwarmArgs;
}

/** The flags only a stack file takes. */
export interface SwarmArgs {
  stack: string;
  agencyMode: AgencyMode;
  attachable: boolean;
  publishTls: boolean;
  /** Image registry prefix; empty: local images. */
  registry: string;
}

const _SWARM_DEFAULTS: SwarmArgs = {
  stack: "tp0",
  agencyMode: "job",
  attachable: false,
  publishTls: false,
  registry: "",
};

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
        target: { type: "string" },
        credentials: { type: "string" },
        "client-certs": { type: "boolean" },
        plain: { type: "boolean" },
        stack: { type: "string" },
        "agency-mode": { type: "string" },
        attachable: { type: "boolean" },
        "publish-tls": { type: "boolean" },
        registry: { type: "string" },
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
  const target = values.target ?? "compose";
  if (!(TARGETS as readonly string[]).includes(target)) {
    throw new TypeError(`--target "${target}" is not one of ${TARGETS.join(", ")}`);
  }
  return {
    clients: Number(text),
    target: target as Target,
    mode: mode as ClientMode,
    output: values.output ?? OUTPUT_DEFAULTS[target as Target],
    configDir: values["config-dir"] ?? "config",
    dataDir: values["data-dir"] ?? "data",
    drawId: draw,
    adminPort: _adminPort(values["admin-port"]),
    credentials: _credentialChoice(values),
    swarm: _swarmArgs(target as Target, values),
  };
}

function _credentialChoice(values: {
  credentials?: string;
  "client-certs"?: boolean;
  plain?: boolean;
}): CredentialChoice | undefined {
  const clientCerts = values["client-certs"] === true;
  const plain = values.plain === true;
  if (values.credentials === undefined) {
    if (clientCerts || plain) {
      throw new TypeError(
        `${
          clientCerts ? "--client-certs" : "--plain"
        } needs --credentials DIR (deno task certs makes one)`,
      );
    }
    return undefined;
  }
  if (clientCerts && plain) throw new TypeError("--client-certs needs TLS: drop --plain");
  return { dir: values.credentials, secrets: true, tls: !plain, clientCerts };
}

function _swarmArgs(target: Target, values: {
  stack?: string;
  "agency-mode"?: string;
  attachable?: boolean;
  "publish-tls"?: boolean;
  registry?: string;
  plain?: boolean;
  credentials?: string;
}): SwarmArgs {
  const given = (["stack", "agency-mode", "attachable", "publish-tls", "registry"] as const)
    .filter((flag) => values[flag] !== undefined);
  if (target !== "swarm") {
    if (given.length > 0) throw new TypeError(`--${given[0]} needs --target swarm`);
    return _SWARM_DEFAULTS;
  }
  const agencyMode = values["agency-mode"] ?? "job";
  if (!isAgencyMode(agencyMode)) {
    throw new TypeError(`--agency-mode "${agencyMode}" is not one of ${AGENCY_MODES.join(", ")}`);
  }
  const stack = values.stack ?? "tp0";
  if (!/^[a-z0-9][a-z0-9_-]{0,30}$/.test(stack)) {
    throw new TypeError(`--stack "${stack}" is not up to 31 lowercase letters, digits, _ and -`);
  }
  const registry = values.registry ?? "";
  if (registry !== "" && !/^[A-Za-z0-9.-]+(:\d{1,5})?(\/[a-z0-9._\/-]+)?$/.test(registry)) {
    throw new TypeError(`--registry "${registry}" is not HOST[:PORT][/PATH]`);
  }
  const publishTls = values["publish-tls"] === true;
  if (publishTls && (values.credentials === undefined || values.plain === true)) {
    throw new TypeError("--publish-tls needs TLS: --credentials DIR without --plain");
  }
  return { stack, agencyMode, attachable: values.attachable === true, publishTls, registry };
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

/**
 * Serializes the stack document with a header saying how it was made.
 * @throws {RangeError | TypeError} as {@link stackDocument}
 */
export function renderStack(options: StackOptions): string {
  // No anchors and aliases for shared values: the file stays readable, and
  // 100 agencies would pass a reader's alias limit.
  const document = new YAML.Document(stackDocument(options), {
    version: "1.1",
    aliasDuplicateObjects: false,
  });
  document.commentBefore =
    ` Generated by gen_compose.ts (deno task compose ${options.clients} --target swarm --mode ${options.mode}); ` +
    "edit the generator, not this file. Deploy: deno task deploy (docs/DEPLOY.md).";
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
  if (args.credentials !== undefined) {
    for (const path of credentialFiles(args.credentials, args.clients)) {
      await _requireFile(
        path,
        `create it with: deno task certs ${args.clients} --out ${args.credentials.dir}`,
      );
    }
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
    credentials: args.credentials === undefined
      ? undefined
      : { ...args.credentials, dir: _fromOutput(outputDir, args.credentials.dir) },
  };
}

/** A short version of a file: a hash of a config's content; for a secret a
 * hash of its size, modification time and inode, so no digest of a secret
 * ends up in a name that `docker secret ls` shows. */
async function _fileVersion(path: string, secret: boolean): Promise<string> {
  let material: Uint8Array<ArrayBuffer>;
  if (secret) {
    const info = await Deno.stat(path);
    material = new TextEncoder().encode(`${info.size}:${info.mtime?.getTime()}:${info.ino}`);
  } else {
    material = await Deno.readFile(path);
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", material));
  return [...digest.slice(0, 5)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Gathers the stack options: the compose checks, absolute paths (a stack's
 * binds and files are read by the engine, not relative to the file), and a
 * version per config and secret file.
 * @throws {Error} naming the first missing or unusable file
 */
export async function stackOptionsFor(args: ComposeArgs): Promise<StackOptions> {
  const compose = await composeOptionsFor(args);
  const prefix = args.swarm.registry === "" ? "" : `${args.swarm.registry.replace(/\/+$/, "")}/`;
  const options: StackOptions = {
    clients: compose.clients,
    mode: compose.mode,
    configDir: resolve(args.configDir),
    dataDir: resolve(args.dataDir),
    exampleBets: compose.exampleBets,
    drawId: compose.drawId,
    credentials: args.credentials === undefined
      ? undefined
      : { ...args.credentials, dir: resolve(args.credentials.dir) },
    stack: args.swarm.stack,
    serverImage: `${prefix}${SERVER_IMAGE.tag}`,
    clientImage: `${prefix}${CLIENT_IMAGE.tag}`,
    agencyMode: args.swarm.agencyMode,
    attachable: args.swarm.attachable,
    publishTls: args.swarm.publishTls,
    tlsPort: TLS_PORT_DEFAULT,
    versions: {},
  };
  const versions: Record<string, string> = {};
  for (const file of stackFiles(options)) {
    versions[file.key] = await _fileVersion(file.source, file.secret);
  }
  return { ...options, versions };
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
  if (args.target === "swarm") {
    const options = await stackOptionsFor(args);
    return { args, drawId: options.drawId, text: renderStack(options) };
  }
  const options = await composeOptionsFor(args);
  return { args, drawId: options.drawId, text: renderCompose(options) };
}

async function _write({ args, drawId, text }: _ComposeRun): Promise<number> {
  try {
    await _writeAtomically(args.output, text);
  } catch (error) {
    throw new Error(`cannot write ${args.output}: ${(error as Error).message}`);
  }
  const credentials = args.credentials === undefined
    ? "no credentials"
    : `hello secrets${args.credentials.tls ? ", TLS" : ""}${
      args.credentials.clientCerts ? ", client certificates" : ""
    } from ${args.credentials.dir}`;
  if (args.target === "swarm") {
    console.log(
      `wrote ${args.output}: stack ${args.swarm.stack}, server + ${args.clients} agencies (mode ${args.mode}, agencies as ${
        args.swarm.agencyMode === "job" ? "jobs" : "restart-on-failure services"
      }, draw ${drawId}, ${credentials}); next: deno task deploy`,
    );
    return 0;
  }
  console.log(
    `wrote ${args.output}: server + ${args.clients} clients (mode ${args.mode}, network ${COMPOSE_DEFAULTS.project}_${NETWORK_KEY}, draw ${drawId}, ${credentials})`,
  );
  return 0;
}

if (import.meta.main) await runProgram("gen_compose", _USAGE, _prepare, _write);
