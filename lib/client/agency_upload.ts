/**
 * An agency's upload: streams its data file as batches over one connection,
 * keeps a bounded window of unacknowledged batches in flight, survives lost
 * connections (reconnect, hello says how many bets the server stored, resend
 * the rest), then sends `finished` and asks for its winners.
 *
 * Resume is by position: helloAck names the bets stored for the agency in
 * the server's draw and their digest; the upload skips that many valid rows
 * of its file, checking they are those bets (stored_prefix_check.ts), and
 * sends the rest, with any batch size. A refusal for good (drawClosed,
 * invalidBet, a file that does not match, …) ends the upload with an
 * {@link UploadError}: the agency never reports totals that are not its own.
 */

import { BatchBuilder, type EncodedBatch } from "./batch_builder.ts";
import { BatchWindow } from "./batch_window.ts";
import { AgencyRowScanner } from "../bet/agency_row_scanner.ts";
import { dateNumber } from "../bet/bet_bytes.ts";
import { BufferedReader } from "../protocol/buffered_reader.ts";
import { writeAll } from "../runtime/write_all.ts";
import { concatBytes } from "../runtime/bytes.ts";
import { closeQuietly } from "../runtime/close_quietly.ts";
import { connectOptionsOf, connectWithRetry, type ServerEndpoint, sleep } from "./connect_retry.ts";
import {
  CLIENT_FRAME_BYTES_MAX,
  FILE_CHUNK_BYTES,
  RECONNECT_DELAY_MS_MAX,
  RECONNECT_DELAY_MS_MIN,
  UPLOAD_REPLY_BYTES_MAX,
} from "../limits.ts";
import {
  decodeMessage,
  encodeMessage,
  helloFrame,
  type Message,
} from "../protocol/message_codec.ts";
import { ErrorCode, errorCodeName, MessageType, ProtocolError } from "../protocol/protocol.ts";
import { StoredPrefixCheck } from "./stored_prefix_check.ts";
import { UploadProgress } from "./upload_progress.ts";

/** What an upload needs. */
export interface UploadOptions extends ServerEndpoint {
  agency: number;
  dataFile: string;
  batchMaxAmount: number;
  batchWindow: number;
  /** Sent in hello when the server checks agency secrets. */
  secret?: string;
}

/** What an upload did (also when it failed). */
export interface UploadSummary {
  /** The server's draw. */
  drawId: string;
  /** Bets the server confirmed stored (this run and earlier runs). */
  betsConfirmed: number;
  /** Bets the server had stored when this run started (skipped rows of the file). */
  resumedAt: number;
  /** Batches the server acknowledged in this run. */
  batches: number;
  /** Invalid rows of the file, not sent. */
  rowsSkipped: number;
  /** The agency's winning documents (empty until the winners came). */
  winners: string[];
}

/** The upload ended without its bets stored: the summary says how far it came. */
export class UploadError extends Error {
  readonly summary: UploadSummary;

  constructor(message: string, summary: UploadSummary) {
    super(message);
    this.name = "UploadError";
    this.summary = summary;
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

/** A refusal for good, before it gets the summary. */
class _Refusal extends Error {}

interface _Link {
  conn: Deno.Conn;
  reader: BufferedReader;
}

/** What the first helloAck said: the draw and the agency's stored bets. */
interface _Resume {
  drawId: string;
  check: StoredPrefixCheck;
  window: BatchWindow;
}

/** One agency's upload run. */
export class AgencyUpload {
  readonly #options: UploadOptions;
  #link: _Link | undefined;
  #resume: _Resume | undefined;
  #batches = 0;
  #rowsSkipped = 0;
  /** Set once the skipped rows proved to be the bets stored: only then are
   * the stored bets this agency's own and count as confirmed. */
  #prefixVerified = false;
  #bytesRead = 0;
  #startedMs = 0;
  #progress: UploadProgress | undefined;
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
   * @throws {UploadError} when the server refuses the agency, a batch or its
   *   total for good, or the file does not match the bets stored
   * @throws {Error} when the file cannot be read or the server cannot be reached
   */
  async run(): Promise<UploadSummary | undefined> {
    const { logger, signal } = this.#options;
    this.#startedMs = Date.now();
    const fileBytes = (await Deno.stat(this.#options.dataFile)).size;
    this.#progress = new UploadProgress(logger, this.#options.agency, fileBytes, this.#startedMs);
    const file = await Deno.open(this.#options.dataFile, { read: true });
    // Closing the socket interrupts a pending read; #closeLink logs it later.
    const closeOnAbort = () => closeQuietly(this.#link?.conn);
    signal.addEventListener("abort", closeOnAbort, { once: true });
    try {
      if (!(await this.#withReconnect(() => Promise.resolve(), () => true))) return undefined;
      if (!(await this.#sendAll(file))) return undefined;
      const winners = await this.#finishAndQuery();
      if (winners === undefined) return undefined;
      return { ...this.#summary(), winners };
    } catch (error) {
      if (error instanceof _Refusal) throw new UploadError(error.message, this.#summary());
      throw error;
    } finally {
      signal.removeEventListener("abort", closeOnAbort);
      if (this.#closeLink()) {
        logger.info("close_connection", "success", { client_id: this.#options.agency });
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

  #summary(): UploadSummary {
    return {
      drawId: this.#resume?.drawId ?? "",
      betsConfirmed: this.#prefixVerified ? this.#resume!.window.confirmedBets : 0,
      resumedAt: this.#resume?.check.storedBets ?? 0,
      batches: this.#batches,
      rowsSkipped: this.#rowsSkipped,
      winners: [],
    };
  }

  #closeLink(): boolean {
    if (this.#link === undefined) return false;
    closeQuietly(this.#link.conn);
    this.#link = undefined;
    return true;
  }

  /**
   * Connects and says hello. The first helloAck sets where the upload
   * resumes; a later one (a reconnect) drops the window batches the server
   * stored, then the rest of the window is resent.
   */
  async #connect(): Promise<boolean> {
    const { agency, logger } = this.#options;
    const conn = await connectWithRetry(connectOptionsOf(this.#options, agency));
    if (conn === undefined) return false;
    this.#link = { conn, reader: new BufferedReader(conn) };
    await writeAll(conn, helloFrame(agency, this.#options.secret));
    const reply = await this.#readReply();
    if (reply.type !== MessageType.helloAck) {
      throw new _Refusal(`server refused hello: ${_describe(reply)}`);
    }
    logger.debug("hello", "success", {
      client_id: agency,
      draw_id: reply.drawId,
      stored_bets: reply.storedBets,
    });
    if (this.#resume === undefined) {
      this.#resume = {
        drawId: reply.drawId,
        check: new StoredPrefixCheck(reply.storedBets, reply.storedDigest, reply.checkpoints),
        window: new BatchWindow(reply.storedBets, reply.storedDigest),
      };
      if (reply.storedBets > 0) {
        logger.info("reanudacion", "in_progress", {
          client_id: agency,
          draw_id: reply.drawId,
          stored_bets: reply.storedBets,
        });
      }
      return true;
    }
    if (reply.drawId !== this.#resume.drawId) {
      throw new _Refusal(
        `the server moved from draw ${this.#resume.drawId} to draw ${reply.drawId} during the upload`,
      );
    }
    const window = this.#resume.window;
    try {
      this.#batches += window.resumeAt(reply.storedBets, reply.storedDigest).length;
    } catch (error) {
      throw new _Refusal(`draw ${reply.drawId}: ${(error as Error).message}`);
    }
    if (window.size > 0) {
      await writeAll(conn, concatBytes(window.unacknowledged().map((batch) => batch.frame)));
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
    const resume = this.#resume!;
    const builder = new BatchBuilder(
      batchMaxAmount,
      CLIENT_FRAME_BYTES_MAX,
      logger.enabled("DEBUG"),
      (batch) =>
        logger.debug("batch_split", "success", {
          client_id: agency,
          first: batch.first,
          bets: batch.count,
          bytes: batch.frame.length,
          max_bytes: CLIENT_FRAME_BYTES_MAX,
        }),
    );
    let pending: EncodedBatch[] = [];
    const scanner = new AgencyRowScanner(
      dateNumber(new Date()),
      (row) => {
        if (builder.position < resume.check.storedBets) {
          resume.check.skipped(builder.position + 1, builder.skipRow(row));
          return;
        }
        this.#prefixVerified ||= resume.check.mismatch === undefined;
        const batch = builder.addRow(row);
        if (batch !== undefined) pending.push(batch);
      },
      (row) => {
        this.#rowsSkipped += 1;
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
      this.#failOnMismatch(resume);
      if (!(await this.#launch(pending))) return false;
      pending = [];
      if (signal.aborted) return false;
    }
    scanner.end();
    resume.check.ended(builder.position);
    this.#failOnMismatch(resume);
    this.#prefixVerified = true;
    const last = builder.flush();
    if (last !== undefined) pending.push(last);
    if (!(await this.#launch(pending))) return false;
    while (resume.window.size > 0) {
      if (!(await this.#awaitReply())) return false;
    }
    return true;
  }

  /** Ends the upload when the file is not what the draw stores. */
  #failOnMismatch(resume: _Resume): void {
    const mismatch = resume.check.mismatch;
    if (mismatch === undefined) return;
    throw new _Refusal(
      `agency ${this.#options.agency}, draw ${resume.drawId}: ${this.#options.dataFile} does not match the bets stored: ${mismatch.reason}; first position that differs: ${mismatch.from}..${mismatch.to}`,
    );
  }

  /** Sends batches, never more than the window unacknowledged at a time. */
  async #launch(batches: readonly EncodedBatch[]): Promise<boolean> {
    const window = this.#resume!.window;
    let next = 0;
    while (next < batches.length) {
      while (window.size >= this.#options.batchWindow) {
        if (!(await this.#awaitReply())) return false;
      }
      // Replies that came with the one awaited free more of the window: take
      // them first, so their batches share this write instead of one each.
      while (this.#link?.reader.hasWholeFrame) {
        if (!(await this.#awaitReply())) return false;
      }
      const slice = batches.slice(next, next + this.#options.batchWindow - window.size);
      next += slice.length;
      for (const batch of slice) window.add(batch);
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
    }, () => this.#resume!.window.size === 0);
  }

  #onBatchReply(reply: Message): void {
    const { agency, logger } = this.#options;
    const window = this.#resume!.window;
    if (reply.type === MessageType.batchAck) {
      const batch = window.acknowledge(reply.first, reply.count);
      if (batch === undefined) return;
      this.#batches += 1;
      this.#progressMade();
      for (const bet of batch.bets ?? []) {
        logger.debug("apuesta_enviada", "success", { dni: bet.document, numero: bet.number });
      }
      this.#progress!.report(window.confirmedBets, this.#bytesRead);
      return;
    }
    if (reply.type === MessageType.batchNack) {
      const behind = reply.code === ErrorCode.positionMismatch && reply.expected < reply.first;
      if (_TRANSIENT_CODES.has(reply.code) || behind) {
        // Nothing of it was stored: the next hello says where to resend from.
        throw new _TransientRefusal(
          `batch at ${reply.first} refused for now: ${errorCodeName(reply.code)}: ${reply.reason}`,
        );
      }
      logger.error("apuesta_enviada", "fail", {
        client_id: agency,
        first: reply.first,
        cantidad: reply.count,
        code: errorCodeName(reply.code),
        bet: reply.betIndex,
        field: reply.field,
        error: reply.reason,
      });
      throw new _Refusal(
        `batch of ${reply.count} bets at ${reply.first} refused: ${
          errorCodeName(reply.code)
        }: ${reply.reason}`,
      );
    }
    throw new _Refusal(`unexpected answer to a batch: ${_describe(reply)}`);
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
          unacknowledged_batches: this.#resume?.window.size ?? 0,
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
   * @throws {_Refusal} when transient refusals outlast the budget
   */
  async #backOff(error: unknown): Promise<void> {
    const now = Date.now();
    if (error instanceof _TransientRefusal) {
      this.#refusedSinceMs ??= now;
      if (now - this.#refusedSinceMs > this.#options.reconnectBudgetMs) {
        throw new _Refusal(
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
    const total = this.#resume!.window.confirmedBets;
    let reply: Message | undefined;
    const ok = await this.#withReconnect(async (link) => {
      await writeAll(
        link.conn,
        concatBytes([
          encodeMessage({ type: MessageType.finished, total }),
          encodeMessage({ type: MessageType.winnersQuery }),
        ]),
      );
      reply = await this.#readReply();
    }, () => false);
    if (!ok || reply === undefined) return undefined;
    this.#progressMade();
    if (reply.type !== MessageType.winners) {
      throw new _Refusal(`server refused finished or the winners query: ${_describe(reply)}`);
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
