/**
 * The lottery central's network side: accepts connections, routes each to
 * the echo health check or an agency session by its first byte, bounds them
 * (count, idle time, frame size), and shuts down gracefully.
 *
 * Shared between connections: the Lottery (draw state, single-threaded) and
 * through it the BetStore (one writer queue). Per connection: its reader,
 * its session and its idle timer, removed from `#connections` when it ends.
 */

import { AgencyClaims } from "./agency_claims.ts";
import { AgencySession, type SessionOptions } from "./agency_session.ts";
import type { PeerIdentity } from "./peer_identity.ts";
import type { BetLedger } from "../store/bet_ledger.ts";
import { BufferedReader } from "../protocol/buffered_reader.ts";
import { closeQuietly } from "../runtime/close_quietly.ts";
import { refuseAndClose } from "./refuse_and_close.ts";
import { runEchoSession } from "./echo_session.ts";
import { IdleTimer } from "./idle_timer.ts";
import { READ_BUFFERS_BYTES_MAX, SHUTDOWN_QUIET_MS } from "../limits.ts";
import { ReadBudget } from "../protocol/read_budget.ts";
import type { Logger } from "../runtime/log.ts";
import type { Lottery } from "./lottery.ts";
import type { ServerMetrics } from "./server_metrics.ts";
import { ErrorCode, FRAME_MARKER } from "../protocol/protocol.ts";

/** Limits and address of a server. */
export interface LotteryServerOptions {
  hostname: string;
  port: number;
  listenBacklog: number;
  frameBytesMax: number;
  connectionsMax: number;
  idleTimeoutMs: number;
  shutdownGraceMs: number;
  /** Each agency's secret (SECRETS_FILE); absent: hello needs no secret. */
  agencySecrets?: ReadonlyMap<number, string>;
  /** Counters for the admin port; absent when it is off. */
  metrics?: ServerMetrics;
  /** Set when agencies must authenticate over TLS: every hello on the plain
   * port is refused with this reason (the echo health check still works). */
  plainHelloRefusal?: string;
}

/** What the sessions read from and write to: a `Deno.TcpConn`, or a TLS
 * socket adapted to it (lib/server/tls_listener.ts). */
export interface ServerConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  /** Half-close: what was written still arrives, then the peer reads the end. */
  closeWrite(): Promise<void>;
  close(): void;
}

export type { PeerIdentity } from "./peer_identity.ts";

interface _Connection {
  conn: ServerConn;
  reader: BufferedReader;
  ip: string;
  session: AgencySession | undefined;
  /** Its first byte was not the frame marker: a text peer (netcat), which is
   * closed without an error frame, since binary bytes are garbage to it. */
  echo: boolean;
  /** At shutdown: closes the connection once no frame came for a while. */
  quiet: IdleTimer | undefined;
  done: Promise<void>;
}

/** The TCP server of the lottery central. */
export class LotteryServer {
  readonly #options: LotteryServerOptions;
  readonly #lottery: Lottery;
  readonly #logger: Logger;
  readonly #shutdown = new AbortController();
  readonly #connections = new Set<_Connection>();
  /** What every session shares. */
  readonly #sessions: SessionOptions;
  /** Bytes all connections' readers may hold beyond their first buffers. */
  readonly #readBudget = new ReadBudget(READ_BUFFERS_BYTES_MAX, (spent, usage) => {
    this.#logger.info("read_budget", spent ? "in_progress" : "success", {
      reserved_bytes: usage.reservedBytes,
      reason: spent
        ? `large frames hold the ${READ_BUFFERS_BYTES_MAX}-byte read budget: their connections wait`
        : "no connection waits for the read budget",
    });
  });
  #listener: Deno.TcpListener | undefined;
  /** A descriptor held back for the moment the open-file limit is reached:
   * closed to accept and refuse one connection, then taken again. */
  #spare: Deno.TcpListener | undefined;
  /** The open-file limit stopped accepts: warned once until one succeeds. */
  #filesExhausted = false;
  /** Resolved when a connection ends (an accept that hit the limit waits for it). */
  #connectionEnded = Promise.withResolvers<void>();
  #accepting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  /**
   * @param lottery the draw: batches, finishes and winners queries go through it
   * @param ledger the draw's bets, which the sessions read
   */
  constructor(
    options: LotteryServerOptions,
    lottery: Lottery,
    ledger: BetLedger,
    logger: Logger,
  ) {
    this.#options = options;
    this.#lottery = lottery;
    this.#logger = logger;
    this.#sessions = {
      ledger,
      lottery,
      logger,
      frameBytesMax: options.frameBytesMax,
      shutdown: this.#shutdown.signal,
      agencySecrets: options.agencySecrets,
      claims: new AgencyClaims(),
      metrics: options.metrics,
    };
  }

  /**
   * Starts listening and accepting.
   * @returns the bound port (useful with port 0)
   * @throws {Deno.errors.AddrInUse} and other listen errors
   */
  listen(): number {
    const listener = Deno.listen({
      hostname: this.#options.hostname,
      port: this.#options.port,
      tcpBacklog: this.#options.listenBacklog,
    });
    this.#listener = listener;
    this.#spare = _spareDescriptor();
    this.#accepting = this.#acceptLoop(listener);
    return listener.addr.port;
  }

  /** Bytes the connections' readers hold beyond their first buffers, and readers waiting for room. */
  get readBudgetUsage(): { reservedBytes: number; waiting: number } {
    return this.#readBudget.usage;
  }

  /** Open connections right now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  async #acceptLoop(listener: Deno.TcpListener): Promise<void> {
    while (true) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#shutdown.signal.aborted) return;
        if (error instanceof Deno.errors.BadResource) return;
        if (_isOutOfFiles(error)) {
          await this.#refuseOverFileLimit(listener);
          continue;
        }
        this.#logger.error("accept", "fail", {
          error: (error as Error).message,
        });
        continue;
      }
      this.#filesExhausted = false;
      conn.setNoDelay(true);
      const refusal = this.#options.plainHelloRefusal;
      this.serveConnection(
        conn,
        conn.remoteAddr.hostname,
        refusal ? { helloRefusal: refusal } : {},
      );
    }
  }

  /**
   * accept() failed with EMFILE: the process has no descriptor left, and the
   * connection waits in the accept queue (accepting again at once would fail
   * the same way, in a busy loop). Gives the spare descriptor up to accept
   * it and refuse it with tooManyConnections, then takes the spare again;
   * without a spare (a refusal is still on its way) waits for a connection
   * to end. Warns once until an accept succeeds again.
   */
  async #refuseOverFileLimit(listener: Deno.TcpListener): Promise<void> {
    const text = `open-file limit reached at ${this.#connections.size} connections`;
    if (!this.#filesExhausted) {
      this.#filesExhausted = true;
      this.#logger.warning("accept", "fail", {
        connections: this.#connections.size,
        error: `${text}: refusing connections until one closes (raise ulimit -n, or ` +
          "lower CONNECTIONS_MAX)",
      });
    }
    const ended = this.#connectionEnded.promise;
    if (this.#spare === undefined) {
      await Promise.race([ended, this.#shutdownSignalled()]);
      this.#spare = _spareDescriptor();
      return;
    }
    closeQuietly(this.#spare);
    this.#spare = undefined;
    let conn: Deno.TcpConn;
    try {
      conn = await listener.accept();
    } catch {
      this.#spare = _spareDescriptor();
      return;
    }
    this.#options.metrics?.connectionRefused(0, ErrorCode.tooManyConnections, text);
    await refuseAndClose(conn, ErrorCode.tooManyConnections, text);
    this.#spare = _spareDescriptor();
  }

  #shutdownSignalled(): Promise<void> {
    const signal = this.#shutdown.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => signal.addEventListener("abort", () => resolve()));
  }

  /**
   * Serves a connection accepted elsewhere (the TLS port) exactly as one of
   * the plain port: same cap, idle timeout, sessions and shutdown.
   * @param ip the peer's address, for the logs
   * @param identity what the transport proved about the peer
   */
  serveConnection(conn: ServerConn, ip: string, identity: PeerIdentity = {}): void {
    if (
      this.#connections.size >= this.#options.connectionsMax ||
      this.#shutdown.signal.aborted
    ) {
      const code = this.#shutdown.signal.aborted
        ? ErrorCode.shuttingDown
        : ErrorCode.tooManyConnections;
      const text = code === ErrorCode.shuttingDown
        ? "server shutting down"
        : `connection limit of ${this.#options.connectionsMax} reached`;
      if (code === ErrorCode.shuttingDown) {
        // A requested shutdown is normal operation: the peer is told to come back.
        this.#logger.info("accept", "in_progress", { ip, reason: text });
      } else {
        this.#logger.warning("accept", "fail", { ip, error: text });
      }
      this.#options.metrics?.connectionRefused(0, code, text);
      refuseAndClose(conn, code, text);
      return;
    }
    const entry: _Connection = {
      conn,
      // Idle time counts from the last complete message (frame or echo line),
      // not the last byte, so a peer trickling bytes (slowloris) is cut too.
      reader: new BufferedReader(conn, this.#readBudget),
      ip,
      session: undefined,
      echo: false,
      quiet: undefined,
      done: Promise.resolve(),
    };
    this.#connections.add(entry);
    entry.done = this.#serve(entry, identity).finally(() => {
      this.#connections.delete(entry);
      this.#connectionEnded.resolve();
      this.#connectionEnded = Promise.withResolvers<void>();
    });
  }

  async #serve(entry: _Connection, identity: PeerIdentity): Promise<void> {
    const { conn, ip, reader } = entry;
    const idle = new IdleTimer(this.#options.idleTimeoutMs, () => {
      this.#logger.warning("idle_timeout", "fail", {
        ip,
        agency: entry.session?.agency ?? 0,
        idle_ms: this.#options.idleTimeoutMs,
      });
      this.#options.metrics?.connectionRefused(
        entry.session?.agency ?? 0,
        ErrorCode.idleTimeout,
        `no data for ${this.#options.idleTimeoutMs} ms`,
      );
      reader.close();
      if (entry.echo) closeQuietly(conn);
      else {refuseAndClose(
          conn,
          ErrorCode.idleTimeout,
          `no data for ${this.#options.idleTimeoutMs} ms`,
        );}
    });
    let outcome = "peer_closed";
    try {
      const first = await reader.peekByte();
      if (first === FRAME_MARKER) {
        const touch = () => {
          idle.touch();
          entry.quiet?.touch();
        };
        entry.session = new AgencySession({
          reader,
          conn,
          identity,
          idle: { touch, pause: () => idle.pause(), resume: () => idle.resume() },
        }, this.#sessions);
        await entry.session.run();
      } else if (first !== null) {
        entry.echo = true;
        await runEchoSession(reader, conn, ip, this.#logger, () => idle.touch());
      }
    } catch (error) {
      outcome = _describe(error);
    } finally {
      idle.stop();
      entry.quiet?.stop();
      closeQuietly(conn);
      // The session ended and the connection is closed: no read into the
      // reader's buffer is pending and no view into it is in use.
      reader.dispose();
      if (entry.session?.agency) this.#options.metrics?.agencyDisconnected(entry.session.agency);
      this.#logger.info("close_connection", "success", {
        ip,
        agency: entry.session?.agency ?? 0,
        reason: this.#shutdown.signal.aborted ? "shutdown" : outcome,
      });
    }
  }

  /**
   * Stops accepting, closes at once (with `shuttingDown`) every connection
   * with nothing at the store, lets batches already handed to the store
   * finish within the grace period, closes the rest. Safe to call twice.
   */
  shutdown(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#shutdown.abort();
    this.#lottery.stopWaiting();
    if (this.#spare !== undefined) closeQuietly(this.#spare);
    if (this.#listener !== undefined) {
      closeQuietly(this.#listener);
      await this.#accepting;
      this.#logger.info("close_listener", "success", {
        port: this.#listener.addr.port,
      });
    }
    const connections = [...this.#connections];
    // Only batches handed to the store are worth the grace: echo and
    // pre-session peers close now, agencies with nothing at the store are told
    // shuttingDown and closed once quiet (a parked partial frame at once).
    for (const entry of connections) {
      if (entry.session === undefined) this.#refuseShutdown(entry);
      else if (!entry.session.storeBusy) this.#closeOnceQuiet(entry, entry.session);
    }
    const drained = Promise.all(
      connections.map((entry) => entry.session?.drain().catch(() => {})),
    );
    const { promise: graceOver, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, this.#options.shutdownGraceMs);
    await Promise.race([drained, graceOver]);
    // Half-close agency connections first, within the same grace period: the
    // acks just written still reach the agencies, which close when they read
    // the end. Closing while their next frames sit unread would reset the
    // connection and could drop those acks on the way.
    const agencies = connections.filter((entry) => entry.session !== undefined);
    for (const entry of agencies) entry.conn.closeWrite().catch(() => {});
    await Promise.race([Promise.all(agencies.map((entry) => entry.done)), graceOver]);
    clearTimeout(timer);
    for (const entry of connections) {
      entry.reader.close();
      closeQuietly(entry.conn);
    }
    await Promise.all(connections.map((entry) => entry.done));
  }

  /** Tells a connection without a session that the server stops, and closes
   * it; an echo peer is only closed. */
  #refuseShutdown(entry: _Connection): void {
    entry.reader.close();
    if (entry.echo) closeQuietly(entry.conn);
    else refuseAndClose(entry.conn, ErrorCode.shuttingDown, "server shutting down");
  }

  /**
   * Tells an agency with nothing at the store that the server stops, then
   * closes its connection once no frame came for SHUTDOWN_QUIET_MS: an
   * honest agency closes on the refusal itself (its acks, queued before, are
   * not reset away), a peer parking bytes is closed at once.
   */
  #closeOnceQuiet(entry: _Connection, session: AgencySession): void {
    session.refuse(ErrorCode.shuttingDown, "server shutting down");
    entry.quiet = new IdleTimer(SHUTDOWN_QUIET_MS, () => {
      entry.reader.close();
      closeQuietly(entry.conn);
    });
  }
}

/** One descriptor to give up when the open-file limit is reached: a listener
 * on a free loopback port (the server may already open sockets; no file
 * permission needed). undefined when none can be opened. */
function _spareDescriptor(): Deno.TcpListener | undefined {
  try {
    return Deno.listen({ hostname: "127.0.0.1", port: 0 });
  } catch {
    return undefined;
  }
}

/** accept() failed because the process has no descriptor left (EMFILE or ENFILE). */
function _isOutOfFiles(error: unknown): boolean {
  return /os error 2[34]\b|Too many open files/.test((error as Error)?.message ?? "");
}

function _describe(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionReset) return "connection_reset";
  if (
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted
  ) {
    return "closed";
  }
  return (error as Error).message ?? String(error);
}
