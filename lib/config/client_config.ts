/**
 * The client's configuration: config/client.yaml, overridable from CLI_*
 * environment variables.
 */

import { loadAll as parseYamlDocuments } from "js-yaml";
import { ConfigError, ConfigSource, readConfigFile } from "./config_source.ts";
import {
  AGENCIES_MAX,
  BATCH_BETS_DEFAULT,
  BATCH_BETS_MAX,
  BATCH_WINDOW_DEFAULT,
  BATCH_WINDOW_MAX,
  CONFIG_DURATION_MS_MAX,
  LOOP_AMOUNT_DEFAULT,
  LOOP_AMOUNT_MAX,
  RECONNECT_BUDGET_MS_DEFAULT,
  SECRET_BYTES_MAX,
} from "../limits.ts";
import type { LogLevel } from "../runtime/log.ts";

/** Where the client looks for its config unless CLI_CONFIG says otherwise. */
const CLIENT_CONFIG_PATH_DEFAULT = "config/client.yaml";

/** What the client does. */
export const CLIENT_MODES = ["lottery", "bet", "echo"] as const;
export type ClientMode = typeof CLIENT_MODES[number];

/** Each YAML key and the environment variable that overrides it. */
export const CLIENT_CONFIG_KEYS = {
  "id": "CLI_ID",
  "mode": "CLI_MODE",
  "server.address": "CLI_SERVER_ADDRESS",
  "loop.amount": "CLI_LOOP_AMOUNT",
  "loop.period": "CLI_LOOP_PERIOD",
  "log.level": "CLI_LOG_LEVEL",
  "batch.maxAmount": "CLI_BATCH_MAXAMOUNT",
  "batch.window": "CLI_BATCH_WINDOW",
  "data.file": "CLI_DATA_FILE",
  "reconnect.budget": "CLI_RECONNECT_BUDGET",
  "secret": "CLI_SECRET",
  "secretFile": "CLI_SECRET_FILE",
  "server.tls.ca": "CLI_SERVER_TLS_CA",
  "server.tls.cert": "CLI_SERVER_TLS_CERT",
  "server.tls.key": "CLI_SERVER_TLS_KEY",
} as const;

/** TLS towards the server (server.tls.*): PEM file paths. */
export interface ClientTlsFiles {
  /** CA the server's certificate must chain to. */
  caFile: string;
  /** The agency's certificate and key; both empty: none shown. */
  certFile: string;
  keyFile: string;
}

/** The client's effective configuration. */
export interface ClientConfig {
  file: string;
  /** Agency number. */
  id: number;
  mode: ClientMode;
  /** `host:port` as configured. */
  serverAddress: string;
  serverHost: string;
  serverPort: number;
  loopAmount: number;
  loopPeriod: { text: string; ms: number };
  logLevel: LogLevel;
  batchMaxAmount: number;
  batchWindow: number;
  /** The agency's bets file (lottery mode). */
  dataFile: string;
  /** How long to keep trying to reach the server before failing. */
  reconnectBudget: { text: string; ms: number };
  /** The agency's secret for hello (SECRETS_FILE on the server); empty: none.
   * Never logged. {@link loadClientConfig} fills it from `secretFile`. */
  secret: string;
  /** File holding the secret (e.g. /run/secrets/… of a compose or swarm
   * secret); empty: none. */
  secretFile: string;
  /** TLS when server.tls.ca is set; undefined: plain TCP. */
  tls: ClientTlsFiles | undefined;
}

function _flatten(
  value: unknown,
  prefix: string,
  into: Map<string, unknown>,
): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) {
      _flatten(child, prefix === "" ? key : `${prefix}.${key}`, into);
    }
  } else if (prefix !== "") {
    into.set(prefix, value);
  }
}

/**
 * Splits `host:port`.
 * @throws {ConfigError} when the port is missing or not in 1..65535
 */
export function parseServerAddress(
  address: string,
  origin: string,
): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const portText = address.slice(colon + 1);
  const port = Number(portText);
  if (colon <= 0 || !/^\d+$/.test(portText) || port < 1 || port > 65_535) {
    throw new ConfigError(
      `server.address "${address}" in ${origin} is not host:port with a port in 1..65535`,
    );
  }
  return { host, port };
}

/**
 * The one YAML document of a config file; undefined when the file holds none
 * (empty, or only comments).
 * @throws {ConfigError} when the text is not YAML or holds several documents
 */
function _parseYamlDocument(text: string, file: string): unknown {
  let documents: unknown[];
  try {
    documents = parseYamlDocuments(text);
  } catch (error) {
    throw new ConfigError(`cannot parse ${file}: ${(error as Error).message.split("\n")[0]}`);
  }
  if (documents.length > 1) {
    throw new ConfigError(
      `cannot parse ${file}: it holds ${documents.length} YAML documents, not one`,
    );
  }
  return documents[0];
}

/**
 * Parses client.yaml text and applies environment overrides.
 * @throws {ConfigError} naming the key and the file of the first bad value
 */
export function parseClientConfig(
  text: string,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): ClientConfig {
  const values = new Map<string, unknown>();
  _flatten(_parseYamlDocument(text, file) ?? {}, "", values);
  const source = new ConfigSource(file, values, env);
  source.rejectUnknownKeys(Object.keys(CLIENT_CONFIG_KEYS));
  const keys = CLIENT_CONFIG_KEYS;
  const id = source.integer("id", keys["id"], 1, AGENCIES_MAX);
  const mode = source.text("mode", keys["mode"], "lottery");
  if (!(CLIENT_MODES as readonly string[]).includes(mode)) {
    throw new ConfigError(
      `mode "${mode}" in ${file} or ${keys["mode"]} is not one of ${CLIENT_MODES.join(", ")}`,
    );
  }
  const serverAddress = source.text("server.address", keys["server.address"]);
  const { host, port } = parseServerAddress(
    serverAddress,
    `${file} or ${keys["server.address"]}`,
  );
  return {
    file,
    id,
    mode: mode as ClientMode,
    serverAddress,
    serverHost: host,
    serverPort: port,
    loopAmount: source.integer(
      "loop.amount",
      keys["loop.amount"],
      0,
      LOOP_AMOUNT_MAX,
      LOOP_AMOUNT_DEFAULT,
    ),
    loopPeriod: source.duration(
      "loop.period",
      keys["loop.period"],
      CONFIG_DURATION_MS_MAX,
      "5s",
    ),
    logLevel: source.level("log.level", keys["log.level"], "INFO"),
    batchMaxAmount: source.integer(
      "batch.maxAmount",
      keys["batch.maxAmount"],
      1,
      BATCH_BETS_MAX,
      BATCH_BETS_DEFAULT,
    ),
    batchWindow: source.integer(
      "batch.window",
      keys["batch.window"],
      1,
      BATCH_WINDOW_MAX,
      BATCH_WINDOW_DEFAULT,
    ),
    dataFile: source.text(
      "data.file",
      keys["data.file"],
      `data/agency-${id}.csv`,
    ),
    reconnectBudget: source.duration(
      "reconnect.budget",
      keys["reconnect.budget"],
      CONFIG_DURATION_MS_MAX,
      `${RECONNECT_BUDGET_MS_DEFAULT / 1000}s`,
    ),
    secret: _secret(source.text("secret", keys["secret"], ""), file),
    secretFile: _secretFile(source),
    tls: _tls(source),
  };
}

/** `secretFile`, which may not stand beside an inline `secret`. */
function _secretFile(source: ConfigSource): string {
  const secretFile = source.text("secretFile", CLIENT_CONFIG_KEYS["secretFile"], "");
  if (secretFile !== "" && source.text("secret", CLIENT_CONFIG_KEYS["secret"], "") !== "") {
    throw new ConfigError(
      `secret and secretFile are both set in ${source.file} or CLI_SECRET / CLI_SECRET_FILE: keep one`,
    );
  }
  return secretFile;
}

/** server.tls.*: the CA turns TLS on; cert and key come together. */
function _tls(source: ConfigSource): ClientTlsFiles | undefined {
  const keys = CLIENT_CONFIG_KEYS;
  const caFile = source.text("server.tls.ca", keys["server.tls.ca"], "");
  const certFile = source.text("server.tls.cert", keys["server.tls.cert"], "");
  const keyFile = source.text("server.tls.key", keys["server.tls.key"], "");
  if ((certFile === "") !== (keyFile === "")) {
    throw new ConfigError(
      `server.tls.cert and server.tls.key in ${source.file} or ${keys["server.tls.cert"]} / ` +
        `${keys["server.tls.key"]} must be set together`,
    );
  }
  if (caFile === "") {
    if (certFile === "") return undefined;
    throw new ConfigError(
      `server.tls.cert is set in ${source.file} or ${keys["server.tls.cert"]} but ` +
        `server.tls.ca (${keys["server.tls.ca"]}), which turns TLS on, is not`,
    );
  }
  return { caFile, certFile, keyFile };
}

/** Checks the secret fits hello's s8 field; the message never quotes it. */
function _secret(secret: string, origin: string): string {
  if (new TextEncoder().encode(secret).length > SECRET_BYTES_MAX) {
    throw new ConfigError(
      `secret in ${origin} or CLI_SECRET is longer than ${SECRET_BYTES_MAX} bytes`,
    );
  }
  return secret;
}

/**
 * Reads an agency secret file: its text without the line break at the end,
 * one line, 1 to SECRET_BYTES_MAX bytes.
 * @throws {ConfigError} naming the file, never quoting its content
 */
async function readSecretFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "not found" : (error as Error).message;
    throw new ConfigError(`secretFile ${path} (CLI_SECRET_FILE) cannot be read: ${reason}`);
  }
  const secret = text.replace(/\r?\n$/, "").trim();
  if (secret === "" || /[\r\n]/.test(secret)) {
    throw new ConfigError(`secretFile ${path} (CLI_SECRET_FILE) must hold one non-empty line`);
  }
  return _secret(secret, `secretFile ${path}`);
}

/** The PEM texts for connecting with TLS (lib/client/connect_retry.ts's ClientTls). */
export interface ClientTlsMaterial {
  caCerts: string[];
  cert?: string;
  key?: string;
}

/**
 * Reads the TLS files named by server.tls.*.
 * @throws {ConfigError} naming the key and file that is missing or not PEM
 *   (never quoting a key)
 */
export async function loadClientTls(files: ClientTlsFiles): Promise<ClientTlsMaterial> {
  // Loaded only by a client that uses TLS: a plain one pays nothing for it at start.
  const { PEM_CERTIFICATE, PEM_PRIVATE_KEY, readPemFile } = await import("./pem_file.ts");
  const caCerts = [await readPemFile(files.caFile, "server.tls.ca", PEM_CERTIFICATE)];
  if (files.certFile === "") return { caCerts };
  return {
    caCerts,
    cert: await readPemFile(files.certFile, "server.tls.cert", PEM_CERTIFICATE),
    key: await readPemFile(files.keyFile, "server.tls.key", PEM_PRIVATE_KEY),
  };
}

/**
 * Loads the client config from `env.CLI_CONFIG` or config/client.yaml, and
 * the secret from `secretFile` when one is named.
 * @throws {ConfigError} when a file is missing or a value is bad
 */
export async function loadClientConfig(
  env: Readonly<Record<string, string | undefined>>,
): Promise<ClientConfig> {
  const file = env["CLI_CONFIG"] || CLIENT_CONFIG_PATH_DEFAULT;
  const config = parseClientConfig(await readConfigFile(file), file, env);
  if (config.secretFile === "") return config;
  return { ...config, secret: await readSecretFile(config.secretFile) };
}
