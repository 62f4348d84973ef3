/**
 * Refusing connections once the process is out of file descriptors.
 * server.ts caps connections below the open-file limit when it can read
 * that limit, but a process without full permissions cannot read it
 * (/proc/self/limits), so accept() can still fail with EMFILE. The
 * connection then waits in the accept queue, and accepting again at once
 * would fail the same way, in a busy loop: a spare descriptor, held from
 * the start, is given up to accept it and refuse it with
 * tooManyConnections.
 */

import { ErrorCode } from "../protocol/protocol.ts";
import { closeQuietly } from "../runtime/close_quietly.ts";
import type { Logger } from "../runtime/log.ts";
import { refuseAndClose } from "./refuse_and_close.ts";
import type { ServerMetrics } from "./server_metrics.ts";

/**
 * Whether accept() failed because the process has no descriptor left
 * (EMFILE or ENFILE).
 */
export function isOutOfFiles(error: unknown): boolean {
  return /os error 2[34]\b|Too many open files/.test((error as Error)?.message ?? "");
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

/** A listener's answer to running out of descriptors. */
export class OpenFileGuard {
  readonly #logger: Logger;
  readonly #metrics: ServerMetrics | undefined;
  readonly #shutdown: AbortSignal;
  /** Held back for the moment the limit is reached; undefined while given up. */
  #spare: Deno.TcpListener | undefined = _spareDescriptor();
  /** The limit stopped accepts: warned once until one succeeds. */
  #exhausted = false;
  /** Resolved when a connection ends (a refusal without a spare waits for it). */
  #ended = Promise.withResolvers<void>();

  /**
   * Takes the spare descriptor.
   * @param shutdown aborted when the server shuts down: no more waiting for a descriptor
   */
  constructor(logger: Logger, metrics: ServerMetrics | undefined, shutdown: AbortSignal) {
    this.#logger = logger;
    this.#metrics = metrics;
    this.#shutdown = shutdown;
  }

  /** An accept succeeded: the next time the limit is reached is warned again. */
  accepted(): void {
    this.#exhausted = false;
  }

  /** A connection ended: its descriptor is free again. */
  connectionEnded(): void {
    this.#ended.resolve();
    this.#ended = Promise.withResolvers<void>();
  }

  /**
   * accept() failed for lack of descriptors: gives the spare up to accept the
   * waiting connection and refuse it with tooManyConnections, then takes
   * the spare again; without a spare (a refusal is still on its way) waits
   * for a connection to end or the shutdown.
   * @param connections connections open now, for the warning
   */
  async refuseOne(listener: Deno.TcpListener, connections: number): Promise<void> {
    const text = `open-file limit reached at ${connections} connections`;
    if (!this.#exhausted) {
      this.#exhausted = true;
      this.#logger.warning("accept", "fail", {
        connections,
        error: `${text}: refusing connections until one closes (raise ulimit -n, or ` +
          "lower CONNECTIONS_MAX)",
      });
    }
    if (this.#spare === undefined) {
      await Promise.race([this.#ended.promise, _aborted(this.#shutdown)]);
      this.#retake();
      return;
    }
    closeQuietly(this.#spare);
    this.#spare = undefined;
    let conn: Deno.TcpConn;
    try {
      conn = await listener.accept();
    } catch {
      this.#retake();
      return;
    }
    this.#metrics?.connectionRefused(0, ErrorCode.tooManyConnections, text);
    await refuseAndClose(conn, ErrorCode.tooManyConnections, text);
    this.#retake();
  }

  /** Takes a spare descriptor again, unless the server shuts down. */
  #retake(): void {
    if (!this.#shutdown.aborted) this.#spare ??= _spareDescriptor();
  }

  /** Gives the spare descriptor back for good. Safe to call twice. */
  close(): void {
    closeQuietly(this.#spare);
    this.#spare = undefined;
  }
}

/** Resolves when `signal` aborts. */
function _aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}
