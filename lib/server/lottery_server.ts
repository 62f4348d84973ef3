/**
 * The lottery central's network side: accepts connections (refusing them
 * over the cap, at shutdown, or when descriptors run out), serves each as a
 * ServedConnection, and shuts down gracefully.
 *
 * Shared between connections: the Lottery (draw state, single-threaded), the
 * BetLedger the sessions read (the store, one writer queue), the agency
 * claims and the read budget. A connection is in `#connections` until it
 * ends.
 */

import { AgencyClaims } from "./agency_claims.ts";
import type { PeerIdentity } from "./peer_identity.ts";
import type { BetLedger } from "../store/bet_ledger.ts";
import { closeQuietly } from "../runtime/close_quietly.ts";
import { refuseAndClose } from "./refuse_and_close.ts";
import { isOutOfFiles, OpenFileGuard } from "./open_file_guard.ts";
import { type ConnectionContext, ServedConnection, type ServerConn } from "./served_connection.ts";
import { READ_BUFFERS_BYTES_MAX } from "../limits.ts";
import { ReadBudget } from "../protocol/read_budget.ts";
import type { Logger } from "../runtime/log.ts";
import type { Lottery } from "./lottery.ts";
import type { ServerMetrics } from "./server_metrics.ts";
import { ErrorCode } from "../protocol/protocol.ts";

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

/** The TCP server of the lottery central. */
export class LotteryServer {
  readonly #options: LotteryServerOptions;
  readonly #lottery: Lottery;
  readonly #logger: Logger;
  readonly #shutdown = new AbortController();
  readonly #connections = new Set<ServedConnection>();
  /** What every connection shares. */
  readonly #context: ConnectionContext;
  #listener: Deno.TcpListener | undefined;
  /** Refuses connections once descriptors run out (from listen on). */
  #files: OpenFileGuard | undefined;
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
    const claims = new AgencyClaims();
    ledger.watch({ claimedElsewhere: (agency) => claims.fenceHolder(agency) });
    this.#context = {
      logger,
      idleTimeoutMs: options.idleTimeoutMs,
      metrics: options.metrics,
      readBudget: _readBudget(logger),
      sessions: {
        ledger,
        lottery,
        logger,
        frameBytesMax: options.frameBytesMax,
        shutdown: this.#shutdown.signal,
        agencySecrets: options.agencySecrets,
        claims,
        metrics: options.metrics,
      },
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
    this.#files = new OpenFileGuard(this.#logger, this.#options.metrics, this.#shutdown.signal);
    this.#accepting = this.#acceptLoop(listener, this.#files);
    return listener.addr.port;
  }

  /** Bytes the connections' readers hold beyond their first buffers, and readers waiting for room. */
  get readBudgetUsage(): { reservedBytes: number; waiting: number } {
    return this.#context.readBudget.usage;
  }

  /** Open connections right now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  async #acceptLoop(listener: Deno.TcpListener, files: OpenFileGuard): Promise<void> {
    while (true) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#shutdown.signal.aborted) return;
        if (error instanceof Deno.errors.BadResource) return;
        if (isOutOfFiles(error)) {
          await files.refuseOne(listener, this.#connections.size);
          continue;
        }
        this.#logger.error("accept", "fail", {
          error: (error as Error).message,
        });
        continue;
      }
      files.accepted();
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
    const served = new ServedConnection(conn, ip, identity, this.#context);
    this.#connections.add(served);
    served.done.finally(() => {
      this.#connections.delete(served);
      this.#files?.connectionEnded();
    });
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
    this.#files?.close();
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
    for (const served of connections) served.stopGently();
    const drained = Promise.all(
      connections.map((served) => served.session?.drain().catch(() => {})),
    );
    const { promise: graceOver, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, this.#options.shutdownGraceMs);
    await Promise.race([drained, graceOver]);
    // Half-close agency connections first, within the same grace period: the
    // acks just written still reach the agencies, which close when they read
    // the end. Closing while their next frames sit unread would reset the
    // connection and could drop those acks on the way.
    const agencies = connections.filter((served) => served.session !== undefined);
    for (const served of agencies) served.closeWrite();
    await Promise.race([Promise.all(agencies.map((served) => served.done)), graceOver]);
    clearTimeout(timer);
    for (const served of connections) served.close();
    await Promise.all(connections.map((served) => served.done));
  }
}

/** The read budget of a server's connections, logging when it runs out and when it is back. */
function _readBudget(logger: Logger): ReadBudget {
  return new ReadBudget(READ_BUFFERS_BYTES_MAX, (spent, usage) => {
    logger.info("read_budget", spent ? "in_progress" : "success", {
      reserved_bytes: usage.reservedBytes,
      reason: spent
        ? `large frames hold the ${READ_BUFFERS_BYTES_MAX}-byte read budget: their connections wait`
        : "no connection waits for the read budget",
    });
  });
}
