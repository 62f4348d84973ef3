/**
 * Connecting to the server with bounded exponential backoff, so agencies
 * started before the server listens wait for it instead of failing; over
 * TLS when the config names a CA (server.tls.ca), verifying the server's
 * certificate and showing the agency's own when it has one.
 */

import { closeQuietly } from "../runtime/close_quietly.ts";
import type { Logger } from "../runtime/log.ts";
import { RetryBackoff } from "../runtime/retry_backoff.ts";

/** TLS towards the server: PEM texts (lib/config/client_config.ts loads them). */
export interface ClientTls {
  /** CAs the server's certificate must chain to (besides Deno's roots). */
  caCerts: string[];
  /** The agency's certificate and key, when the server asks for one. */
  cert?: string;
  key?: string;
}

/** Where and how long to try. */
export interface ConnectOptions {
  hostname: string;
  port: number;
  /** Connect with TLS; absent: plain TCP. */
  tls?: ClientTls;
  /** Total time allowed for all attempts. */
  budgetMs: number;
  /** Aborts the attempts (shutdown). */
  signal: AbortSignal;
  logger: Logger;
  /** Extra fields for the log lines (e.g. client_id). */
  fields: Record<string, string | number>;
}

/** What every client mode knows about reaching the server. */
export interface ServerEndpoint {
  hostname: string;
  port: number;
  /** Connect with TLS; absent: plain TCP. */
  tls?: ClientTls;
  reconnectBudgetMs: number;
  signal: AbortSignal;
  logger: Logger;
}

/** The connect options of a client mode, its log lines naming `clientId`. */
export function connectOptionsOf(endpoint: ServerEndpoint, clientId: number): ConnectOptions {
  return {
    hostname: endpoint.hostname,
    port: endpoint.port,
    ...(endpoint.tls === undefined ? {} : { tls: endpoint.tls }),
    budgetMs: endpoint.reconnectBudgetMs,
    signal: endpoint.signal,
    logger: endpoint.logger,
    fields: { client_id: clientId },
  };
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

/** A handshake refused for good: retrying cannot change the certificates. */
class _TlsRefused extends Error {}

/**
 * One connection attempt. Over TLS the handshake runs here, so a server
 * whose certificate does not verify fails the attempt, not a later read.
 * Without a client certificate TLS starts on a TCP connection with Nagle's
 * algorithm off (Deno.TlsConn has no setNoDelay, and Nagle delays the
 * handshake's small writes). Deno.startTls cannot show a
 * client certificate, so with one Deno.connectTls opens the connection and
 * Nagle stays on.
 * @throws {_TlsRefused} when the handshake fails on certificates
 */
async function _connectOnce(hostname: string, port: number, tls?: ClientTls): Promise<Deno.Conn> {
  if (tls === undefined || tls.cert === undefined || tls.key === undefined) {
    const tcp = await Deno.connect({ hostname, port });
    tcp.setNoDelay(true);
    if (tls === undefined) return tcp;
    return await _handshake(await Deno.startTls(tcp, { hostname, caCerts: tls.caCerts }));
  }
  const conn = await Deno.connectTls({
    hostname,
    port,
    caCerts: tls.caCerts,
    cert: tls.cert,
    key: tls.key,
  });
  return await _handshake(conn);
}

/** Completes the handshake; a certificate problem becomes a {@link _TlsRefused}. */
async function _handshake(conn: Deno.TlsConn): Promise<Deno.TlsConn> {
  try {
    await conn.handshake();
  } catch (error) {
    conn.close();
    if (error instanceof Deno.errors.InvalidData) {
      throw new _TlsRefused(`TLS handshake refused: ${(error as Error).message}`);
    }
    throw error;
  }
  return conn;
}

/**
 * Connects, retrying as {@link RetryBackoff} says within the time budget
 * (counted from this call). The first failed attempt logs `in_progress` at
 * INFO, later ones at DEBUG; only giving up logs `fail`. A TLS handshake
 * that fails on certificates is not retried.
 * @returns the connection
 * @throws the signal's reason when it aborts (between attempts)
 * @throws {Error} when the budget runs out or the TLS handshake is refused,
 *   naming the address and the error
 */
export async function connectWithRetry(options: ConnectOptions): Promise<Deno.Conn> {
  const { hostname, port, budgetMs, signal, logger, fields } = options;
  const backoff = new RetryBackoff({ budgetMs, immediateRetries: 0 });
  backoff.startClock(Date.now());
  while (true) {
    signal.throwIfAborted();
    try {
      return await _connectOnce(hostname, port, options.tls);
    } catch (error) {
      const message = (error as Error).message;
      const delayMs = backoff.failed();
      const attempt = backoff.failures;
      if (error instanceof _TlsRefused || backoff.isPastBudget(Date.now() + delayMs)) {
        logger.error("connect", "fail", {
          ...fields,
          address: `${hostname}:${port}`,
          attempts: attempt,
          error: message,
        });
        throw new Error(
          error instanceof _TlsRefused
            ? `cannot connect to ${hostname}:${port}: ${message}`
            : `cannot reach ${hostname}:${port} after ${attempt} attempts: ${message}`,
        );
      }
      logger.log(attempt === 1 ? "INFO" : "DEBUG", "connect", "in_progress", {
        ...fields,
        address: `${hostname}:${port}`,
        attempt,
        retry_in_ms: delayMs,
      });
      await sleep(delayMs, signal);
    }
  }
}

/**
 * Connects (retrying as {@link connectWithRetry}) and runs `use` on the
 * connection. The signal closes the connection under `use`; it is closed
 * when `use` ends either way. The one place these modes catch the abort.
 * @returns what `use` returned, or undefined when the signal stopped it,
 *   before the connection or during `use` (whose error is then the abort's)
 * @throws what `use` or connecting throws while the signal is not aborted
 */
export async function usingConnection<T>(
  options: ConnectOptions,
  use: (conn: Deno.Conn) => Promise<T>,
): Promise<T | undefined> {
  let conn: Deno.Conn | undefined;
  const onAbort = () => closeQuietly(conn);
  options.signal.addEventListener("abort", onAbort, { once: true });
  try {
    conn = await connectWithRetry(options);
    return await use(conn);
  } catch (error) {
    if (!options.signal.aborted) throw error;
    return undefined;
  } finally {
    options.signal.removeEventListener("abort", onAbort);
    closeQuietly(conn);
  }
}
