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

import type { EncodedBatch } from "./batch_builder.ts";
import type { BatchWindow } from "./batch_window.ts";
import { FileBatcher } from "./file_batcher.ts";
import { closeQuietly } from "../runtime/close_quietly.ts";
import { concatBytes } from "../runtime/bytes.ts";
import type { ServerEndpoint } from "./connect_retry.ts";
import { FILE_CHUNK_BYTES } from "../limits.ts";
import { encodeMessage } from "../protocol/message_codec.ts";
import { MessageType } from "../protocol/protocol.ts";
import { UploadConnection } from "./upload_connection.ts";
import { describeMessage, UploadRefusal } from "./upload_errors.ts";
import { UploadProgress } from "./upload_progress.ts";
import { filePrefixDigest } from "./file_prefix_digest.ts";
import { dateNumber } from "../bet/bet_bytes.ts";

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

/** What the sending steps of a run work with, once the first hello said where it starts. */
interface _Run {
  batcher: FileBatcher;
  window: BatchWindow;
  progress: UploadProgress;
}

/**
 * One agency's upload run: reads the file into batches (file_batcher.ts),
 * keeps at most `batchWindow` of them unacknowledged on the connection
 * (upload_connection.ts, which reconnects and resends), reports progress,
 * then sends finished and asks for the winners.
 */
export class AgencyUpload {
  readonly #options: UploadOptions;
  readonly #connection: UploadConnection;
  /** The day rows are judged by (birthdates not later), the same for every read of the file. */
  readonly #today = dateNumber(new Date());
  #startedMs = 0;
  /** Set once the first hello said where the upload starts (for the summary). */
  #batcher: FileBatcher | undefined;

  constructor(options: UploadOptions) {
    this.#options = options;
    this.#connection = new UploadConnection({
      ...options,
      sentDigest: (bets) => filePrefixDigest(options.dataFile, bets, this.#today),
    });
  }

  /**
   * Runs the whole upload. The signal stops it wherever it is: this is the
   * one place that catches the abort.
   * @returns the summary, or undefined when stopped by the signal
   * @throws {UploadError} when the server refuses the agency, a batch or its
   *   total for good, or the file does not match the bets stored
   * @throws {Error} when the file cannot be read or the server cannot be reached
   */
  async run(): Promise<UploadSummary | undefined> {
    const { agency, dataFile, logger, signal } = this.#options;
    this.#startedMs = Date.now();
    const fileBytes = (await Deno.stat(dataFile)).size;
    const progress = new UploadProgress(logger, agency, fileBytes, this.#startedMs);
    const file = await Deno.open(dataFile, { read: true });
    try {
      const start = await this.#connection.open();
      const batcher = new FileBatcher(
        { ...this.#options, drawId: start.drawId, today: this.#today },
        start.check,
      );
      this.#batcher = batcher;
      await this.#sendAll(file, { batcher, window: start.window, progress });
      const winners = await this.#finishAndQuery(start.window);
      return { ...this.#summary(), winners };
    } catch (error) {
      if (signal.aborted) return undefined;
      if (error instanceof UploadRefusal) throw new UploadError(error.message, this.#summary());
      throw error;
    } finally {
      if (this.#connection.close()) {
        logger.info("close_connection", "success", { client_id: agency });
      }
      // The stream may have closed the file at its end already.
      closeQuietly(file);
      logger.info("close_file", "success", { client_id: agency, file: dataFile });
    }
  }

  /** Milliseconds since the upload started. */
  get elapsedMs(): number {
    return Date.now() - this.#startedMs;
  }

  #summary(): UploadSummary {
    const start = this.#connection.start;
    const prefixVerified = this.#batcher?.prefixVerified ?? false;
    return {
      drawId: start?.drawId ?? "",
      betsConfirmed: start !== undefined && prefixVerified ? start.window.confirmedBets : 0,
      resumedAt: start?.check.storedBets ?? 0,
      batches: start?.window.storedBatches ?? 0,
      rowsSkipped: this.#batcher?.rowsSkipped ?? 0,
      winners: [],
    };
  }

  /** Sends the file's batches and waits until the server acknowledged them all. */
  async #sendAll(file: Deno.FsFile, run: _Run): Promise<void> {
    const chunk = new Uint8Array(FILE_CHUNK_BYTES);
    while (true) {
      const count = await file.read(chunk);
      if (count === null) break;
      await this.#launch(run.batcher.push(chunk.subarray(0, count)), run);
      this.#options.signal.throwIfAborted();
    }
    await this.#launch(run.batcher.end(), run);
    while (run.window.size > 0) await this.#awaitReply(run);
  }

  /** Sends batches, never more than the window unacknowledged at a time. */
  async #launch(batches: readonly EncodedBatch[], run: _Run): Promise<void> {
    const { window } = run;
    const windowBatchesMax = this.#options.batchWindow;
    let next = 0;
    while (next < batches.length) {
      while (window.size >= windowBatchesMax) await this.#awaitReply(run);
      // Replies that came with the one awaited free more of the window: take
      // them first, so their batches share this write instead of one each.
      while (this.#connection.hasWholeReply) await this.#awaitReply(run);
      const slice = batches.slice(next, next + windowBatchesMax - window.size);
      next += slice.length;
      await this.#connection.send(slice);
    }
  }

  /** Handles one answer to a batch: logs the bets acknowledged and the progress. */
  async #awaitReply(run: _Run): Promise<void> {
    const batch = await this.#connection.awaitBatchReply();
    if (batch === undefined) return;
    for (const bet of batch.bets ?? []) {
      this.#options.logger.debug("apuesta_enviada", "success", {
        dni: bet.document,
        numero: bet.number,
      });
    }
    run.progress.report(run.window.confirmedBets, run.batcher.bytesRead);
    run.batcher.recycle(batch);
  }

  /** Sends finished and the winners query; returns the winners. */
  async #finishAndQuery(window: BatchWindow): Promise<string[]> {
    const reply = await this.#connection.exchange(concatBytes([
      encodeMessage({ type: MessageType.finished, total: window.confirmedBets }),
      encodeMessage({ type: MessageType.winnersQuery }),
    ]));
    if (reply.type !== MessageType.winners) {
      throw new UploadRefusal(
        `server refused finished or the winners query: ${describeMessage(reply)}`,
      );
    }
    return reply.documents;
  }
}
