/**
 * One accepted connection, from its first byte to its close: routed to an
 * agency session or the echo health check by that byte, closed when idle,
 * and told `shuttingDown` in the way its state calls for at shutdown.
 */

import { AgencySession, type SessionOptions } from "./agency_session.ts";
import type { PeerIdentity } from "./peer_identity.ts";
import { BufferedReader } from "../protocol/buffered_reader.ts";
import type { ReadBudget } from "../protocol/read_budget.ts";
import { closeQuietly } from "../runtime/close_quietly.ts";
import { refuseAndClose } from "./refuse_and_close.ts";
import { runEchoSession } from "./echo_session.ts";
import { IdleTimer } from "./idle_timer.ts";
import { SHUTDOWN_QUIET_MS } from "../limits.ts";
import type { Logger } from "../runtime/log.ts";
import type { ServerMetrics } from "./server_metrics.ts";
import { ErrorCode, FRAME_MARKER } from "../protocol/protocol.ts";

/** What the sessions read from and write to: a `Deno.TcpConn`, or a TLS
 * socket adapted to it (lib/server/tls_listener.ts). */
export interface ServerConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  /** Half-close: what was written still arrives, then the peer reads the end. */
  closeWrite(): Promise<void>;
  close(): void;
}

/** What every connection of a server shares. */
export interface ConnectionContext {
  logger: Logger;
  idleTimeoutMs: number;
  /** Counters for the admin port; undefined when it is off. */
  metrics: ServerMetrics | undefined;
  /** What every agency session shares (its `shutdown` is the server's). */
  sessions: SessionOptions;
  /** Bytes all connections' readers may hold beyond their first buffers. */
  readBudget: ReadBudget;
}

/** A connection being served. */
export class ServedConnection {
  readonly #conn: ServerConn;
  readonly #reader: BufferedReader;
  readonly #ip: string;
  readonly #context: ConnectionContext;
  #session: AgencySession | undefined;
  /** Its first byte was not the frame marker: a text peer (netcat), which is
   * closed without an error frame, since binary bytes are garbage to it. */
  #echo = false;
  /** At shutdown: closes the connection once no frame came for a while. */
  #quiet: IdleTimer | undefined;
  /** Resolves once the connection is served, closed and logged. */
  readonly done: Promise<void>;

  /** Starts serving `conn`. */
  constructor(conn: ServerConn, ip: string, identity: PeerIdentity, context: ConnectionContext) {
    conn = closingOnce(conn);
    this.#conn = conn;
    // Idle time counts from the last complete message (frame or echo line),
    // not the last byte, so a peer trickling bytes (slowloris) is cut too.
    this.#reader = new BufferedReader(conn, context.readBudget);
    this.#ip = ip;
    this.#context = context;
    this.done = this.#serve(identity);
  }

  /** The agency session, once the first byte said so. */
  get session(): AgencySession | undefined {
    return this.#session;
  }

  /**
   * The server stops. A connection without a session is told so and closed
   * (an echo peer only closed); an agency with nothing at the store is told
   * so and closed once no frame came for SHUTDOWN_QUIET_MS: an honest agency
   * closes on the refusal itself (its acks, queued before, are not reset
   * away), a peer parking bytes is closed at once. An agency with batches
   * at the store is left to drain.
   */
  stopGently(): void {
    if (this.#session === undefined) {
      this.#reader.close();
      if (this.#echo) closeQuietly(this.#conn);
      else refuseAndClose(this.#conn, ErrorCode.shuttingDown, "server shutting down");
      return;
    }
    if (this.#session.storeBusy) return;
    this.#session.refuse(ErrorCode.shuttingDown, "server shutting down");
    this.#quiet = new IdleTimer(SHUTDOWN_QUIET_MS, () => this.close());
  }

  /** Half-closes: what was written still reaches the peer, which then reads the end. */
  closeWrite(): void {
    this.#conn.closeWrite().catch(() => {});
  }

  /** Closes the connection now; a pending read ends. Safe to call twice. */
  close(): void {
    this.#reader.close();
    closeQuietly(this.#conn);
  }

  async #serve(identity: PeerIdentity): Promise<void> {
    const { logger, metrics, idleTimeoutMs, sessions } = this.#context;
    const conn = this.#conn;
    const reader = this.#reader;
    const ip = this.#ip;
    const idle = new IdleTimer(idleTimeoutMs, () => this.#closeIdle());
    let outcome = "peer_closed";
    try {
      const first = await reader.peekByte();
      if (first === FRAME_MARKER) {
        const touch = () => {
          idle.touch();
          this.#quiet?.touch();
        };
        this.#session = new AgencySession({
          reader,
          conn,
          identity,
          idle: { touch, pause: () => idle.pause(), resume: () => idle.resume() },
        }, sessions);
        await this.#session.run();
      } else if (first !== null) {
        this.#echo = true;
        await runEchoSession(reader, conn, ip, logger, () => idle.touch());
      }
    } catch (error) {
      outcome = _describe(error);
    } finally {
      idle.stop();
      this.#quiet?.stop();
      closeQuietly(conn);
      // The session ended and the connection is closed: no read into the
      // reader's buffer is pending and no view into it is in use.
      reader.dispose();
      const agency = this.#session?.agency ?? 0;
      if (agency) metrics?.agencyDisconnected(agency);
      logger.info("close_connection", "success", {
        ip,
        agency,
        reason: sessions.shutdown.aborted ? "shutdown" : outcome,
      });
    }
  }

  /** No complete message came for the idle timeout: say so (not to an echo peer) and close. */
  #closeIdle(): void {
    const { logger, metrics, idleTimeoutMs } = this.#context;
    const agency = this.#session?.agency ?? 0;
    logger.warning("idle_timeout", "fail", { ip: this.#ip, agency, idle_ms: idleTimeoutMs });
    const text = `no data for ${idleTimeoutMs} ms`;
    metrics?.connectionRefused(agency, ErrorCode.idleTimeout, text);
    this.#reader.close();
    if (this.#echo) closeQuietly(this.#conn);
    else refuseAndClose(this.#conn, ErrorCode.idleTimeout, text);
  }
}

/**
 * `conn` with a close() that closes it once and then does nothing. Several
 * paths close a connection (a refusal, the idle timer, shutdown, the end of
 * serving); a second close of a Deno resource throws BadResource, and
 * building that error costs more than the close itself.
 */
export function closingOnce(conn: ServerConn): ServerConn {
  let closed = false;
  return {
    read: (buffer) => conn.read(buffer),
    write: (bytes) => conn.write(bytes),
    closeWrite: () => conn.closeWrite(),
    close: () => {
      if (closed) return;
      closed = true;
      conn.close();
    },
  };
}

/** Why a connection ended, for its close_connection line. */
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
