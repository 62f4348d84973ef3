/**
 * The command line of `deno task compose` (gen_compose.ts): its flags, their
 * defaults and every check on them, so a bad flag is one line before any
 * file is read.
 */

import { parseArgs } from "node:util";
import { CLIENT_MODES, type ClientMode } from "../config/client_config.ts";
import { ADMIN_PORT_DEFAULT, COMPOSE_CLIENTS_MAX } from "./compose_document.ts";
import { withoutTaskSeparator } from "../runtime/task_args.ts";
import { drawIdViolation } from "../config/draw_id.ts";
import type { CredentialChoice } from "./credentials.ts";
import { AGENCY_MODES, type AgencyMode, isAgencyMode } from "./stack_document.ts";
import { SERVER_REPLICAS_MAX } from "../limits.ts";
import { storeUrlViolation } from "../config/store_url.ts";

/** Where a generated file goes. */
const TARGETS = ["compose", "swarm"] as const;
export type Target = typeof TARGETS[number];

/** Default output file of each target. */
const OUTPUT_DEFAULTS: Readonly<Record<Target, string>> = {
  compose: "docker-compose-dev.yaml",
  swarm: "docker-stack.yaml",
};

/** Where the server keeps the bets: its own files on a volume (the default), or a
 * bundled PostgreSQL service. */
const STORES = ["file", "postgres"] as const;
export type StoreKind = typeof STORES[number];

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
  /** --store: the server's files (default) or PostgreSQL. */
  store: StoreKind;
  /** --store-url: a PostgreSQL elsewhere instead of the bundled service;
   * absent: the bundled one (with --store postgres). */
  storeUrl?: string;
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
  /** Server tasks; more than 1 only with the PostgreSQL store. */
  replicas: number;
}

const _SWARM_DEFAULTS: SwarmArgs = {
  stack: "tp0",
  agencyMode: "job",
  attachable: false,
  publishTls: false,
  registry: "",
  replicas: 1,
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
        store: { type: "string" },
        "store-url": { type: "string" },
        replicas: { type: "string" },
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
  const store = values.store ?? "file";
  if (!(STORES as readonly string[]).includes(store)) {
    throw new TypeError(`--store "${store}" is not one of ${STORES.join(", ")}`);
  }
  const url = values["store-url"];
  if (url !== undefined) {
    if (store !== "postgres") throw new TypeError("--store-url needs --store postgres");
    const problem = storeUrlViolation(url);
    // The URL holds a password: never echo it.
    if (problem !== undefined) throw new TypeError(`--store-url ${problem}`);
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
    store: store as StoreKind,
    ...(url === undefined ? {} : { storeUrl: url }),
    swarm: _swarmArgs(target as Target, store as StoreKind, values),
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

function _replicas(store: StoreKind, text: string | undefined): number {
  if (text === undefined) return 1;
  if (store !== "postgres") {
    throw new TypeError(
      "--replicas needs --store postgres: the file store is one disk for one server",
    );
  }
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > SERVER_REPLICAS_MAX) {
    throw new RangeError(`--replicas "${text}" is not a whole number in 1..${SERVER_REPLICAS_MAX}`);
  }
  return Number(text);
}

function _swarmArgs(target: Target, store: StoreKind, values: {
  stack?: string;
  "agency-mode"?: string;
  attachable?: boolean;
  "publish-tls"?: boolean;
  registry?: string;
  replicas?: string;
  plain?: boolean;
  credentials?: string;
}): SwarmArgs {
  const given = (
    ["stack", "agency-mode", "attachable", "publish-tls", "registry", "replicas"] as const
  )
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
  const replicas = _replicas(store, values.replicas);
  return {
    stack,
    agencyMode,
    attachable: values.attachable === true,
    publishTls,
    registry,
    replicas,
  };
}
