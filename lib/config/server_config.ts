/**
 * The server's configuration: config/server.ini, section [DEFAULT], every key
 * overridable by an environment variable of the same name.
 */

import { parseINI } from "confbox/ini";
import { ConfigError, ConfigSource, readConfigFile } from "./config_source.ts";
import {
  AGENCIES_DEFAULT,
  AGENCIES_MAX,
  CONFIG_DURATION_MS_MAX,
  CONNECTIONS_MAX_CEILING,
  CONNECTIONS_MAX_DEFAULT,
  FRAME_BYTES_MAX_CEILING,
  FRAME_BYTES_MAX_DEFAULT,
  FRAME_BYTES_MAX_FLOOR,
  IDLE_TIMEOUT_MS_DEFAULT,
  LISTEN_BACKLOG_DEFAULT,
  LISTEN_BACKLOG_MAX,
  PORT_MAX,
  SHUTDOWN_GRACE_MS_DEFAULT,
  SHUTDOWN_GRACE_MS_MAX,
} from "../limits.ts";
import type { LogLevel } from "../runtime/log.ts";

/** Where the server looks for its config unless SERVER_CONFIG says otherwise. */
export const SERVER_CONFIG_PATH_DEFAULT = "config/server.ini";

/** Every key of server.ini; each is also an environment variable. */
export const SERVER_CONFIG_KEYS = [
  "SERVER_PORT",
  "SERVER_IP",
  "SERVER_LISTEN_BACKLOG",
  "LOGGING_LEVEL",
  "AGENCIES",
  "STORAGE",
  "FRAME_BYTES_MAX",
  "CONNECTIONS_MAX",
  "IDLE_TIMEOUT",
  "SHUTDOWN_GRACE",
  "SECRETS_FILE",
  "TLS_PORT",
  "TLS_CERT_FILE",
  "TLS_KEY_FILE",
  "TLS_CLIENT_CA",
] as const;

/** The TLS port (lib/server/tls_listener.ts), when TLS_PORT is set. */
export interface ServerTlsConfig {
  /** TCP port of the TLS listener; 0 picks a free one (tests). */
  port: number;
  /** PEM certificate (chain) the server presents. */
  certFile: string;
  /** PEM private key of that certificate. */
  keyFile: string;
  /** PEM CA that signs agency certificates; empty: none required. */
  clientCaFile: string;
}

/** The server's effective configuration. */
export interface ServerConfig {
  file: string;
  /** TCP port; 0 picks a free one (tests). */
  port: number;
  ip: string;
  listenBacklog: number;
  loggingLevel: LogLevel;
  /** Agencies that must finish before the draw. */
  agencies: number;
  /** Path of the bets CSV; its journal sits beside it. */
  storage: string;
  frameBytesMax: number;
  connectionsMax: number;
  idleTimeout: { text: string; ms: number };
  shutdownGrace: { text: string; ms: number };
  /** File of `agency=secret` lines (lib/server/agency_secrets.ts); empty: no secrets. */
  secretsFile: string;
  /** The TLS port; undefined: plain port only. */
  tls: ServerTlsConfig | undefined;
}

/**
 * Parses server.ini text and applies environment overrides.
 * @param file the file's path, for messages
 * @throws {ConfigError} naming the key and the file of the first bad value
 */
export function parseServerConfig(
  text: string,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): ServerConfig {
  let parsed: Record<string, unknown>;
  try {
    parsed = parseINI<Record<string, unknown>>(text);
  } catch (error) {
    throw new ConfigError(`cannot parse ${file}: ${(error as Error).message}`);
  }
  const section = parsed["DEFAULT"];
  const values = new Map<string, unknown>(
    section !== null && typeof section === "object" ? Object.entries(section) : [],
  );
  for (const [key, value] of Object.entries(parsed)) {
    if (key !== "DEFAULT") values.set(key, value);
  }
  const source = new ConfigSource(file, values, env);
  source.rejectUnknownKeys(SERVER_CONFIG_KEYS);
  const port = source.integer("SERVER_PORT", "SERVER_PORT", 0, PORT_MAX);
  return {
    file,
    port,
    ip: source.text("SERVER_IP", "SERVER_IP", "0.0.0.0"),
    listenBacklog: source.integer(
      "SERVER_LISTEN_BACKLOG",
      "SERVER_LISTEN_BACKLOG",
      1,
      LISTEN_BACKLOG_MAX,
      LISTEN_BACKLOG_DEFAULT,
    ),
    loggingLevel: source.level("LOGGING_LEVEL", "LOGGING_LEVEL", "INFO"),
    agencies: source.integer("AGENCIES", "AGENCIES", 1, AGENCIES_MAX, AGENCIES_DEFAULT),
    storage: source.text("STORAGE", "STORAGE", "storage/bets.csv"),
    frameBytesMax: source.integer(
      "FRAME_BYTES_MAX",
      "FRAME_BYTES_MAX",
      FRAME_BYTES_MAX_FLOOR,
      FRAME_BYTES_MAX_CEILING,
      FRAME_BYTES_MAX_DEFAULT,
    ),
    connectionsMax: source.integer(
      "CONNECTIONS_MAX",
      "CONNECTIONS_MAX",
      1,
      CONNECTIONS_MAX_CEILING,
      CONNECTIONS_MAX_DEFAULT,
    ),
    idleTimeout: source.duration(
      "IDLE_TIMEOUT",
      "IDLE_TIMEOUT",
      CONFIG_DURATION_MS_MAX,
      `${IDLE_TIMEOUT_MS_DEFAULT / 1000}s`,
    ),
    shutdownGrace: source.duration(
      "SHUTDOWN_GRACE",
      "SHUTDOWN_GRACE",
      SHUTDOWN_GRACE_MS_MAX,
      `${SHUTDOWN_GRACE_MS_DEFAULT / 1000}s`,
    ),
    secretsFile: source.text("SECRETS_FILE", "SECRETS_FILE", ""),
    tls: _tlsConfig(source, port),
  };
}

/**
 * Reads TLS_PORT and the files it needs. Without TLS_PORT none of the files
 * may be set (a half-done TLS setup must not pass as plain).
 * @throws {ConfigError} on a bad or taken port, a missing file key or a stray one
 */
function _tlsConfig(source: ConfigSource, plainPort: number): ServerTlsConfig | undefined {
  const certFile = source.text("TLS_CERT_FILE", "TLS_CERT_FILE", "");
  const keyFile = source.text("TLS_KEY_FILE", "TLS_KEY_FILE", "");
  const clientCaFile = source.text("TLS_CLIENT_CA", "TLS_CLIENT_CA", "");
  if (source.text("TLS_PORT", "TLS_PORT", "") === "") {
    const stray = [["TLS_CERT_FILE", certFile], ["TLS_KEY_FILE", keyFile], [
      "TLS_CLIENT_CA",
      clientCaFile,
    ]].find(([, value]) => value !== "");
    if (stray !== undefined) {
      throw new ConfigError(
        `${stray[0]} is set in ${source.file} or the environment but TLS_PORT is not`,
      );
    }
    return undefined;
  }
  const port = source.integer("TLS_PORT", "TLS_PORT", 0, PORT_MAX);
  if (port !== 0 && port === plainPort) {
    throw new ConfigError(`TLS_PORT ${port} is SERVER_PORT too: the two ports must differ`);
  }
  if (certFile === "") source.text("TLS_CERT_FILE", "TLS_CERT_FILE");
  if (keyFile === "") source.text("TLS_KEY_FILE", "TLS_KEY_FILE");
  return { port, certFile, keyFile, clientCaFile };
}

/**
 * Loads the server config from `env.SERVER_CONFIG` or config/server.ini.
 * @throws {ConfigError} when the file is missing or a value is bad
 */
export async function loadServerConfig(
  env: Readonly<Record<string, string | undefined>>,
): Promise<ServerConfig> {
  const file = env["SERVER_CONFIG"] || SERVER_CONFIG_PATH_DEFAULT;
  return parseServerConfig(await readConfigFile(file), file, env);
}
