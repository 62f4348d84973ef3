/**
 * Connecting to the server with bounded exponential backoff, so agencies
 * started before the server listens wait for it instead of failing.
 */

import { RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN } from "../limits.ts";
import type { Logger } from "../runtime/log.ts";

/** Where and how long to try. */
export interface ConnectOptions {
  hostname: string;
  port: number;
  /** Total time allowed for all attempts. */
  budgetMs: number;
  /** Aborts the attempts (shutdown). */
  signal: AbortSignal;
  logger: Logger;
  /** Extra fields for the log lines (e.g. client_id). */
  fields: Record<string, string | number>;
}

/** Waits `ms` or until the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Connects, retrying with exponential backoff within the time budget. The
 * first failed attempt logs `in_progress` at INFO, later ones at DEBUG; only
 * giving up logs `fail`.
 * @returns the connection, or undefined when aborted
 * @throws {Error} when the budget runs out, naming the address and last error
 */
export async function connectWithRetry(
  options: ConnectOptions,
): Promise<Deno.TcpConn | undefined> {
  const { hostname, port, budgetMs, signal, logger, fields } = options;
  const deadline = Date.now() + budgetMs;
  let delayMs = RECONNECT_DELAY_MS_MIN;
  for (let attempt = 1;; attempt += 1) {
    if (signal.aborted) return undefined;
    try {
      const conn = await Deno.connect({ hostname, port });
      conn.setNoDelay(true);
      return conn;
    } catch (error) {
      const message = (error as Error).message;
      if (Date.now() + delayMs > deadline) {
        logger.error("connect", "fail", {
          ...fields,
          address: `${hostname}:${port}`,
          attempts: attempt,
          error: message,
        });
        throw new Error(
          `cannot reach ${hostname}:${port} after ${attempt} attempts: ${message}`,
        );
      }
      logger.log(attempt === 1 ? "INFO" : "DEBUG", "connect", "in_progress", {
        ...fields,
        address: `${hostname}:${port}`,
        attempt,
        retry_in_ms: delayMs,
      });
      await sleep(delayMs, signal);
      delayMs = Math.min(delayMs * 2, RECONNECT_DELAY_MS_MAX);
    }
  }
}
