/**
 * Turns an agency file's bytes into the batches its upload sends, with no
 * I/O but log lines: skips the valid rows the server stores already,
 * checking they are those bets (stored_prefix_check.ts), batches the rest
 * (batch_builder.ts), and counts the invalid rows it leaves out.
 */

import { type AgencyRow, AgencyRowScanner, type SkippedRow } from "../bet/agency_row_scanner.ts";
import { dateNumber } from "../bet/bet_bytes.ts";
import { CLIENT_FRAME_BYTES_MAX } from "../limits.ts";
import type { Logger } from "../runtime/log.ts";
import { BatchBuilder, type EncodedBatch } from "./batch_builder.ts";
import type { StoredPrefixCheck } from "./stored_prefix_check.ts";
import { UploadRefusal } from "./upload_errors.ts";

/** What the batcher needs besides the stored prefix to check. */
export interface FileBatcherOptions {
  agency: number;
  /** Named in the mismatch error. */
  dataFile: string;
  /** The server's draw, named in the mismatch error. */
  drawId: string;
  /** Bets per batch. */
  batchMaxAmount: number;
  logger: Logger;
  /** Today as YYYYMMDD (birthdates may not be later); default: today. */
  today?: number;
}

/** One upload's file, scanned chunk by chunk into batches. */
export class FileBatcher {
  readonly #options: FileBatcherOptions;
  readonly #check: StoredPrefixCheck;
  readonly #builder: BatchBuilder;
  readonly #scanner: AgencyRowScanner;
  /** Batches completed during the current push or end. */
  #completed: EncodedBatch[] = [];
  #rowsSkipped = 0;
  #bytesRead = 0;
  /** Set once the skipped rows proved to be the bets stored: only then are
   * the stored bets this agency's own and count as confirmed. */
  #prefixVerified = false;

  /**
   * @param options the agency, its file and batch size, for batches and errors
   * @param check the stored prefix the first rows must match (helloAck)
   */
  constructor(options: FileBatcherOptions, check: StoredPrefixCheck) {
    const { agency, logger } = options;
    this.#options = options;
    this.#check = check;
    this.#builder = new BatchBuilder(
      options.batchMaxAmount,
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
    this.#scanner = new AgencyRowScanner(
      options.today ?? dateNumber(new Date()),
      (row) => this.#onValidRow(row),
      (row) => this.#onInvalidRow(row),
    );
  }

  /** Invalid rows of the file so far, not sent. */
  get rowsSkipped(): number {
    return this.#rowsSkipped;
  }

  /** Bytes of the file pushed so far. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Whether the rows skipped proved to be the bets stored (so far, or all of them). */
  get prefixVerified(): boolean {
    return this.#prefixVerified;
  }

  /** Takes back an acknowledged batch's frame for a later batch (BatchBuilder.recycle). */
  recycle(batch: EncodedBatch): void {
    this.#builder.recycle(batch);
  }

  /**
   * Scans the next chunk of the file.
   * @returns the batches it completed, in upload order
   * @throws {UploadRefusal} when the rows skipped so far are not the bets stored
   */
  push(chunk: Uint8Array): EncodedBatch[] {
    this.#bytesRead += chunk.length;
    this.#scanner.push(chunk);
    this.#failOnMismatch();
    return this.#takeCompleted();
  }

  /**
   * Scans the end of the file.
   * @returns the last batches, the partial one included
   * @throws {UploadRefusal} when the file is shorter than the bets stored or
   *   its last rows skipped are not those bets
   */
  end(): EncodedBatch[] {
    this.#scanner.end();
    this.#check.ended(this.#builder.position);
    this.#failOnMismatch();
    this.#prefixVerified = true;
    const last = this.#builder.flush();
    if (last !== undefined) this.#completed.push(last);
    return this.#takeCompleted();
  }

  #onValidRow(row: AgencyRow): void {
    const builder = this.#builder;
    if (builder.position < this.#check.storedBets) {
      this.#check.skipped(builder.position + 1, builder.skipRow(row));
      return;
    }
    this.#prefixVerified ||= this.#check.mismatch === undefined;
    const batch = builder.addRow(row);
    if (batch !== undefined) this.#completed.push(batch);
  }

  #onInvalidRow(row: SkippedRow): void {
    this.#rowsSkipped += 1;
    this.#options.logger.warning("fila_invalida", "fail", {
      client_id: this.#options.agency,
      line: row.lineNumber,
      error: row.reason,
    });
  }

  #takeCompleted(): EncodedBatch[] {
    const completed = this.#completed;
    this.#completed = [];
    return completed;
  }

  /** Ends the upload when the file is not what the draw stores. */
  #failOnMismatch(): void {
    const mismatch = this.#check.mismatch;
    if (mismatch === undefined) return;
    const { agency, drawId, dataFile } = this.#options;
    throw new UploadRefusal(
      `agency ${agency}, draw ${drawId}: ${dataFile} does not match the bets stored: ${mismatch.reason}; first position that differs: ${mismatch.from}..${mismatch.to}`,
    );
  }
}
