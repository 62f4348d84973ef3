/**
 * The server's configuration: config/server.ini, section [DEFAULT], every key
 * overridable by an environment variable of the same name.
 */

import { parseINI } from "confbox/ini";
import { ConfigError, ConfigSource, readConfigFile } from "./config_source.ts";
import {
  ADMIN_TOKEN_BYTES_MAX,
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
  "ADMIN_PORT",
  "ADMIN_IP",
  "ADMIN_TOKEN",
] as const;

/** ADMIN_PORT's value that turns the admin port (and the metrics) off. */
export const ADMIN_PORT_OFF = "off";

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
  /** HTTP admin port (status page, /metrics, health); 0 picks a free one;
   * undefined: off, and no metrics are counted. */
  adminPort: number | undefined;
  /** Address or host name the admin port binds. */
  adminIp: string;
  /** Bearer token every admin request must carry; empty: none needed. */
  adminToken: string;
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
  return {
    file,
    port: source.integer("SERVER_PORT", "SERVER_PORT", 0, PORT_MAX),
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
    ..._adminConfig(source),
  };
}

/** ADMIN_PORT (a port or `off`, the default), ADMIN_IP and ADMIN_TOKEN. */
function _adminConfig(
  source: ConfigSource,
): Pick<ServerConfig, "adminPort" | "adminIp" | "adminToken"> {
  const port = source.text("ADMIN_PORT", "ADMIN_PORT", ADMIN_PORT_OFF);
  const adminToken = source.text("ADMIN_TOKEN", "ADMIN_TOKEN", "");
  if (new TextEncoder().encode(adminToken).length > ADMIN_TOKEN_BYTES_MAX) {
    throw new ConfigError(`ADMIN_TOKEN is longer than ${ADMIN_TOKEN_BYTES_MAX} bytes`);
  }
  if (/\s/.test(adminToken)) {
    throw new ConfigError("ADMIN_TOKEN must not contain spaces (it travels in a header)");
  }
  let adminPort: number | undefined;
  try {
    adminPort = port.toLowerCase() === ADMIN_PORT_OFF
      ? undefined
      : source.integer("ADMIN_PORT", "ADMIN_PORT", 0, PORT_MAX);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(`${error.message} or ${ADMIN_PORT_OFF}`);
  }
  return {
    adminPort,
    adminIp: source.text("ADMIN_IP", "ADMIN_IP", "127.0.0.1"),
    adminToken,
  };
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
