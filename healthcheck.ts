/**
 * The server image's HEALTHCHECK: one echo round trip to the server in the
 * same container, on the port its own config names. Exit 0 healthy, 1 not.
 *
 * deno run --allow-net --allow-read=/config --allow-env healthcheck.ts [--timeout 3s]
 */

import { parseArgs } from "node:util";
import { parseDuration } from "./lib/config/duration.ts";
import { probeEcho } from "./lib/protocol/echo_probe.ts";
import { loadServerConfig } from "./lib/config/server_config.ts";

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

async function main(): Promise<void> {
  let timeoutMs = HEALTHCHECK_TIMEOUT_MS_DEFAULT;
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: { timeout: { type: "string" } },
      strict: true,
    });
    if (values.timeout !== undefined) timeoutMs = parseDuration(values.timeout);
  } catch (error) {
    console.error(`healthcheck: ${(error as Error).message}`);
    Deno.exitCode = 2;
    return;
  }
  let hostname: string;
  let port: number;
  try {
    const config = await loadServerConfig(Deno.env.toObject());
    hostname = probeHostname(config.ip);
    port = config.port;
  } catch (error) {
    console.error(`healthcheck: ${(error as Error).message}`);
    Deno.exitCode = 1;
    return;
  }
  const result = await probeEcho({
    hostname,
    port,
    message: HEALTHCHECK_MESSAGE,
    timeoutMs,
  });
  if (result.ok) {
    console.log(`healthcheck: ${hostname}:${port} echoed`);
  } else {
    console.error(`healthcheck: ${result.reason}`);
    Deno.exitCode = 1;
  }
}

if (import.meta.main) await main();
