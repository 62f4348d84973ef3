/**
 * An agency's upload: streams its data file as batches over one connection,
 * keeps a bounded window of unacknowledged batches in flight, survives lost
 * connections (reconnect, hello says what the server stored, resend the
 * rest), then sends `finished` and asks for its winners.
 */

import { BatchBuilder, type EncodedBatch } from "./batch_builder.ts";
import { AgencyRowScanner } from "../bet/agency_row_scanner.ts";
import { dateNumber } from "../bet/bet_bytes.ts";
import { BufferedReader } from "../protocol/buffered_reader.ts";
import { writeAll } from "../runtime/write_all.ts";
import { concatBytes } from "../runtime/bytes.ts";
import { type ClientTls, connectWithRetry, sleep } from "./connect_retry.ts";
import {
  CLIENT_FRAME_BYTES_MAX,
  FILE_CHUNK_BYTES,
  PROGRESS_INTERVAL_MS,
  RECONNECT_DELAY_MS_MAX,
  RECONNECT_DELAY_MS_MIN,
  UPLOAD_REPLY_BYTES_MAX,
} from "../limits.ts";
import type { Logger } from "../runtime/log.ts";
import {
  decodeMessage,
  encodeMessage,
  helloFrame,
  type Message,
} from "../protocol/message_codec.ts";
import { ErrorCode, errorCodeName, MessageType, ProtocolError } from "../protocol/protocol.ts";

/** What an upload needs. */
export interface UploadOptions {
  agency: number;
  hostname: string;
  port: number;
  /** Connect with TLS; absent: plain TCP. */
  tls?: ClientTls;
  dataFile: string;
  batchMaxAmount: number;
  batchWindow: number;
  reconnectBudgetMs: number;
  /** Sent in hello when the server checks agency secrets. */
  secret?: string;
  signal: AbortSignal;
  logger: Logger;
}

/** What an upload did. */
export interface UploadSummary {
  /** Bets the server confirmed stored (this run and earlier runs). */
  betsConfirmed: number;
  batches: number;
  rowsSkipped: number;
  /** Batches the server refused (their bets are not stored). */
  batchesRejected: number;
  /** The agency's winning documents. */
  winners: string[];
}

/** The server answered something that ends the upload. */
export class UploadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UploadError";
  }
}

/** Answers after which resending on a new connection is right: the server
 * stored nothing of the batch and may accept it later. */
const _TRANSIENT_CODES: ReadonlySet<number> = new Set([
  ErrorCode.shuttingDown,
  ErrorCode.storeFailed,
  ErrorCode.idleTimeout,
  ErrorCode.tooManyConnections,
]);

/** A transient refusal: reconnect and resend. */
class _TransientRefusal extends Error {}

interface _Link {
  conn: Deno.Conn;
  reader: BufferedReader;
}

/** One agency's upload run. */
export class AgencyUpload {
  readonly #options: UploadOptions;
  readonly #window = new Map<number, EncodedBatch>();
  #link: _Link | undefined;
  /** Batches up to this sequence are stored already (from hello). */
  #resumeAfter = 0;
  #confirmed = 0;
  #batches = 0;
  #rejected = 0;
  #skipped = 0;
  #bytesRead = 0;
  #fileBytes = 0;
  #startedMs = 0;
  #lastProgressMs = 0;
  #lastProgressTenth = 0;
  /** Connection losses and refusals since the server last confirmed something. */
  #lossStreak = 0;
  /** When the server first refused (transiently) since it last confirmed something. */
  #refusedSinceMs: number | undefined;

  constructor(options: UploadOptions) {
    this.#options = options;
  }

  /**
   * Runs the whole upload.
   * @returns the summary, or undefined when stopped by the signal
   * @throws {UploadError} when the server refuses the agency or its total
   * @throws {Error} when the file cannot be read or the server cannot be reached
   */
  async run(): Promise<UploadSummary | undefined> {
    const { logger, signal } = this.#options;
    this.#startedMs = Date.now();
    this.#lastProgressMs = this.#startedMs;
    this.#fileBytes = (await Deno.stat(this.#options.dataFile)).size;
    const file = await Deno.open(this.#options.dataFile, { read: true });
    // Closing the socket interrupts a pending read; #closeLink logs it later.
    const closeOnAbort = () => _closeQuietly(this.#link?.conn);
    signal.addEventListener("abort", closeOnAbort, { once: true });
    try {
      if (!(await this.#withReconnect(() => Promise.resolve(), () => true))) return undefined;
      if (!(await this.#sendAll(file))) return undefined;
      const winners = await this.#finishAndQuery();
      if (winners === undefined) return undefined;
      return {
        betsConfirmed: this.#confirmed,
        batches: this.#batches,
        rowsSkipped: this.#skipped,
        batchesRejected: this.#rejected,
        winners,
      };
    } finally {
      signal.removeEventListener("abort", closeOnAbort);
      if (this.#closeLink()) {
        logger.info("close_connection", "success", {
          client_id: this.#options.agency,
        });
      }
      try {
        file.close();
      } catch {
        // the stream already closed it at its end
      }
      logger.info("close_file", "success", {
        client_id: this.#options.agency,
        file: this.#options.dataFile,
      });
    }
  }

  /** Milliseconds since the upload started. */
  get elapsedMs(): number {
    return Date.now() - this.#startedMs;
  }

  #closeLink(): boolean {
    if (this.#link === undefined) return false;
    _closeQuietly(this.#link.conn);
    this.#link = undefined;
    return true;
  }

  /** Connects and says hello; drops window batches the server already stored. */
  async #connect(): Promise<boolean> {
    const { agency, logger, signal } = this.#options;
    const conn = await connectWithRetry({
      hostname: this.#options.hostname,
      port: this.#options.port,
      ...(this.#options.tls === undefined ? {} : { tls: this.#options.tls }),
      budgetMs: this.#options.reconnectBudgetMs,
      signal,
      logger,
      fields: { client_id: agency },
    });
    if (conn === undefined) return false;
    this.#link = { conn, reader: new BufferedReader(conn) };
    await writeAll(conn, helloFrame(agency, this.#options.secret));
    const reply = await this.#readReply();
    if (reply.type !== MessageType.helloAck) {
      throw new UploadError(`server refused hello: ${_describe(reply)}`);
    }
    this.#confirmed = reply.storedBets;
    for (const sequence of [...this.#window.keys()]) {
      if (sequence <= reply.lastSequence) this.#window.delete(sequence);
    }
    this.#resumeAfter = reply.lastSequence;
    logger.debug("hello", "success", {
      client_id: agency,
      last_sequence: reply.lastSequence,
      stored_bets: reply.storedBets,
    });
    if (this.#window.size > 0) {
      await writeAll(
        conn,
        concatBytes([...this.#window.values()].map((batch) => batch.frame)),
      );
    }
    return true;
  }

  async #readReply(): Promise<Message> {
    const link = this.#link;
    if (link === undefined) throw new Error("not connected");
    const frame = await link.reader.readFrame(UPLOAD_REPLY_BYTES_MAX);
    if (frame === null) {
      throw new Deno.errors.ConnectionReset("server closed the connection");
    }
    const reply = decodeMessage(frame);
    if (reply.type === MessageType.error && _TRANSIENT_CODES.has(reply.code)) {
      throw new _TransientRefusal(_describe(reply));
    }
    return reply;
  }

  async #sendAll(file: Deno.FsFile): Promise<boolean> {
    const { agency, logger, batchMaxAmount, signal } = this.#options;
    const builder = new BatchBuilder(
      batchMaxAmount,
      CLIENT_FRAME_BYTES_MAX,
      logger.enabled("DEBUG"),
      (batch) =>
        logger.debug("batch_split", "success", {
          client_id: agency,
          sequence: batch.sequence,
          bets: batch.count,
          bytes: batch.frame.length,
          max_bytes: CLIENT_FRAME_BYTES_MAX,
        }),
    );
    let pending: EncodedBatch[] = [];
    const scanner = new AgencyRowScanner(
      dateNumber(new Date()),
      (row) => {
        const batch = builder.addRow(row);
        if (batch !== undefined) pending.push(batch);
      },
      (row) => {
        this.#skipped += 1;
        logger.warning("fila_invalida", "fail", {
          client_id: agency,
          line: row.lineNumber,
          error: row.reason,
        });
      },
    );
    const chunk = new Uint8Array(FILE_CHUNK_BYTES);
    while (true) {
      const count = await file.read(chunk);
      if (count === null) break;
      this.#bytesRead += count;
      scanner.push(chunk.subarray(0, count));
      if (!(await this.#launch(pending))) return false;
      pending = [];
      if (signal.aborted) return false;
    }
    scanner.end();
    const last = builder.flush();
    if (last !== undefined) pending.push(last);
    if (!(await this.#launch(pending))) return false;
    while (this.#window.size > 0) {
      if (!(await this.#awaitReply())) return false;
    }
    return true;
  }

  /** Sends batches, never more than the window unacknowledged at a time. */
  async #launch(batches: readonly EncodedBatch[]): Promise<boolean> {
    const fresh = batches.filter((batch) => {
      if (batch.sequence > this.#resumeAfter) return true;
      this.#batches += 1;
      return false;
    });
    let next = 0;
    while (next < fresh.length) {
      while (this.#window.size >= this.#options.batchWindow) {
        if (!(await this.#awaitReply())) return false;
      }
      const slice = fresh.slice(next, next + this.#options.batchWindow - this.#window.size);
      next += slice.length;
      for (const batch of slice) this.#window.set(batch.sequence, batch);
      const ok = await this.#withReconnect(async (link) => {
        await writeAll(link.conn, concatBytes(slice.map((batch) => batch.frame)));
      }, () => true);
      if (!ok) return false;
    }
    return true;
  }

  /** Handles one reply to a batch. */
  async #awaitReply(): Promise<boolean> {
    // Handled inside the step: a transient refusal then reconnects and resends.
    return await this.#withReconnect(async () => {
      this.#onBatchReply(await this.#readReply());
    }, () => this.#window.size === 0);
  }

  #onBatchReply(reply: Message): void {
    const { agency, logger } = this.#options;
    if (reply.type === MessageType.batchAck) {
      const batch = this.#window.get(reply.sequence);
      if (batch === undefined) return;
      this.#window.delete(reply.sequence);
      this.#confirmed += batch.count;
      this.#batches += 1;
      this.#progressMade();
      for (const bet of batch.bets ?? []) {
        logger.debug("apuesta_enviada", "success", {
          dni: bet.document,
          numero: bet.number,
        });
      }
      this.#reportProgress();
      return;
    }
    if (reply.type === MessageType.batchNack) {
      if (_TRANSIENT_CODES.has(reply.code) && this.#window.has(reply.sequence)) {
        // Nothing of it was stored: keep it in the window, resend it on a new connection.
        throw new _TransientRefusal(
          `batch ${reply.sequence} refused for now: ${errorCodeName(reply.code)}: ${reply.reason}`,
        );
      }
      this.#window.delete(reply.sequence);
      this.#rejected += 1;
      this.#batches += 1;
      logger.error("apuesta_enviada", "fail", {
        client_id: agency,
        sequence: reply.sequence,
        cantidad: reply.count,
        code: errorCodeName(reply.code),
        bet: reply.betIndex,
        field: reply.field,
        error: reply.reason,
      });
      return;
    }
    throw new UploadError(`unexpected answer to a batch: ${_describe(reply)}`);
  }

  #reportProgress(): void {
    const now = Date.now();
    const tenth = this.#fileBytes === 0 ? 10 : Math.floor((this.#bytesRead * 10) / this.#fileBytes);
    if (
      now - this.#lastProgressMs < PROGRESS_INTERVAL_MS &&
      tenth <= this.#lastProgressTenth
    ) return;
    this.#lastProgressMs = now;
    this.#lastProgressTenth = tenth;
    const seconds = Math.max((now - this.#startedMs) / 1000, 0.001);
    this.#options.logger.info("progreso", "in_progress", {
      client_id: this.#options.agency,
      bets_confirmed: this.#confirmed,
      percent_read: this.#fileBytes === 0
        ? 100
        : Math.min(100, Math.round((this.#bytesRead * 100) / this.#fileBytes)),
      bets_per_s: Math.round(this.#confirmed / seconds),
    });
  }

  /**
   * Runs a step on the link; on a lost connection reconnects (which resends
   * the window) and runs the step again unless `doneAfterReconnect` says the
   * resend already covered it.
   * @returns false when stopped by the signal
   */
  async #withReconnect(
    step: (link: _Link) => Promise<void>,
    doneAfterReconnect: () => boolean,
  ): Promise<boolean> {
    const { agency, logger, signal } = this.#options;
    let reconnected = false;
    while (true) {
      if (signal.aborted) return false;
      try {
        if (this.#link === undefined) {
          if (!(await this.#connect())) return false;
          if (reconnected && doneAfterReconnect()) return true;
        }
        await step(this.#link!);
        return true;
      } catch (error) {
        if (signal.aborted) return false;
        if (!_isConnectionLoss(error)) throw error;
        logger.warning("connection_lost", "in_progress", {
          client_id: agency,
          unacknowledged_batches: this.#window.size,
          error: (error as Error).message,
        });
        this.#closeLink();
        reconnected = true;
        await this.#backOff(error);
      }
    }
  }

  /**
   * Waits before reconnecting after repeated losses, so a server that keeps
   * closing or refusing is not hammered; gives up when it keeps refusing for
   * longer than the reconnect budget.
   * @throws {UploadError} when transient refusals outlast the budget
   */
  async #backOff(error: unknown): Promise<void> {
    const now = Date.now();
    if (error instanceof _TransientRefusal) {
      this.#refusedSinceMs ??= now;
      if (now - this.#refusedSinceMs > this.#options.reconnectBudgetMs) {
        throw new UploadError(
          `server kept refusing for ${now - this.#refusedSinceMs} ms: ${error.message}`,
        );
      }
    }
    this.#lossStreak += 1;
    if (this.#lossStreak < 2) return;
    const delayMs = Math.min(
      RECONNECT_DELAY_MS_MIN * 2 ** (this.#lossStreak - 2),
      RECONNECT_DELAY_MS_MAX,
    );
    await sleep(delayMs, this.#options.signal);
  }

  /** The server confirmed something: losses before it no longer count. */
  #progressMade(): void {
    this.#lossStreak = 0;
    this.#refusedSinceMs = undefined;
  }

  /** Sends finished and the winners query; returns the winners. */
  async #finishAndQuery(): Promise<string[] | undefined> {
    let reply: Message | undefined;
    const ok = await this.#withReconnect(async (link) => {
      await writeAll(
        link.conn,
        concatBytes([
          encodeMessage({ type: MessageType.finished, total: this.#confirmed }),
          encodeMessage({ type: MessageType.winnersQuery }),
        ]),
      );
      reply = await this.#readReply();
    }, () => false);
    if (!ok || reply === undefined) return undefined;
    this.#progressMade();
    if (reply.type !== MessageType.winners) {
      throw new UploadError(
        `server refused finished or the winners query: ${_describe(reply)}`,
      );
    }
    return reply.documents;
  }
}

function _describe(message: Message): string {
  if (message.type === MessageType.error) {
    return `${errorCodeName(message.code)}: ${message.text}`;
  }
  return `message type ${message.type}`;
}

function _isConnectionLoss(error: unknown): boolean {
  return error instanceof _TransientRefusal ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.UnexpectedEof ||
    (error instanceof ProtocolError && error.code === ErrorCode.truncatedFrame);
}

function _closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch {
    // already closed
  }
}
