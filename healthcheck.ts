/**
 * The server image's HEALTHCHECK: a GET of the admin port's /readyz (store
 * restored, lottery port listening), on the port and with the token its own
 * config names; with ADMIN_PORT off, one echo round trip to the lottery port
 * instead. Exit 0 healthy, 1 not.
 *
 * deno run --allow-net --allow-read=/config --allow-env healthcheck.ts [--timeout 3s]
 */

import { parseArgs } from "node:util";
import { runProgram } from "./lib/runtime/program.ts";
import { parseDuration } from "./lib/config/duration.ts";
import { probeEcho } from "./lib/protocol/echo_probe.ts";
import { loadServerConfig, type ServerConfig } from "./lib/config/server_config.ts";
import { probeHttp } from "./lib/admin/http_probe.ts";

const _USAGE = `Usage: healthcheck.ts [--timeout 3s]
GET /readyz on the admin port of SERVER_CONFIG (or, with ADMIN_PORT off, one echo
round trip to its lottery port); exit 0 healthy, 1 not.`;

/** Default bound on the round trip; below the HEALTHCHECK --timeout. */
export const HEALTHCHECK_TIMEOUT_MS_DEFAULT = 2_000;

/** The line sent; the server logs it, so it says what it is. */
export const HEALTHCHECK_MESSAGE = "healthcheck";

/**
 * Where to reach a server listening on `ip` from inside its container: the
 * loopback address when it listens on every interface.
 * @example probeHostname("0.0.0.0") // "127.0.0.1"
 */
export function probeHostname(ip: string): string {
  if (ip === "0.0.0.0" || ip === "") return "127.0.0.1";
  if (ip === "::" || ip === "[::]") return "::1";
  return ip;
}

/** Reads `--timeout`; "help" for `--help`. */
function _parseHealthcheckArgs(args: string[]): number | "help" {
  const { values } = parseArgs({
    args,
    options: { timeout: { type: "string" }, help: { type: "boolean" } },
    strict: true,
  });
  if (values.help) return "help";
  return values.timeout === undefined
    ? HEALTHCHECK_TIMEOUT_MS_DEFAULT
    : parseDuration(values.timeout);
}

/**
 * The URL of the admin port's /readyz as seen from inside the container.
 * @example readyUrl("0.0.0.0", 9180) // "http://127.0.0.1:9180/readyz"
 */
export function readyUrl(ip: string, port: number): string {
  const hostname = probeHostname(ip);
  return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/readyz`;
}

async function _checkReady(config: ServerConfig, port: number, timeoutMs: number) {
  const url = readyUrl(config.adminIp, port);
  const result = await probeHttp({ url, token: config.adminToken, timeoutMs });
  if (!result.ok) {
    console.error(`healthcheck: ${result.reason}`);
    return 1;
  }
  console.log(`healthcheck: ${url} answered ${result.status}`);
  return 0;
}

async function _check(timeoutMs: number): Promise<number> {
  const config = await loadServerConfig(Deno.env.toObject());
  // ADMIN_PORT 0 is picked at start: nothing here can know it, so echo instead.
  if (config.adminPort !== undefined && config.adminPort !== 0) {
    return await _checkReady(config, config.adminPort, timeoutMs);
  }
  const hostname = probeHostname(config.listenIp);
  const result = await probeEcho({
    hostname,
    port: config.port,
    message: HEALTHCHECK_MESSAGE,
    timeoutMs,
  });
  if (!result.ok) {
    console.error(`healthcheck: ${result.reason}`);
    return 1;
  }
  console.log(`healthcheck: ${hostname}:${config.port} echoed`);
  return 0;
}

if (import.meta.main) {
  await runProgram("healthcheck", _USAGE, _parseHealthcheckArgs, _check);
}
