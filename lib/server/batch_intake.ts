/**
 * An agency's batches on one connection: each is scanned and handed to the
 * draw at once, unless the store is behind, this connection's window at the
 * store is full or the server shuts down; its ack or nack is queued in the
 * order the batches were read.
 */

import { readBatchHeader, scanBatch } from "./batch_scan.ts";
import { dateNumber } from "../bet/bet_bytes.ts";
import { CONNECTION_BATCHES_PENDING_MAX } from "../limits.ts";
import { encodeMessage } from "../protocol/message_codec.ts";
import { ErrorCode, MessageType, ProtocolError } from "../protocol/protocol.ts";
import type { StoreRows } from "../store/store_rows.ts";
import type { Logger } from "../runtime/log.ts";
import type { BetLedger } from "../store/bet_ledger.ts";
import type { Lottery } from "./lottery.ts";
import type { ServerMetrics } from "./server_metrics.ts";
import { InFlight } from "./in_flight.ts";
import type { OrderedReplies } from "./ordered_replies.ts";
import { logRefusedBatch, logStoredBatch, nackOf, storeRefusal } from "./session_replies.ts";

/** What an intake needs around it. */
export interface IntakeOptions {
  /** Its backpressure, and where a refused agency must resume. */
  ledger: Pick<BetLedger, "room" | "acceptedBets">;
  /** Stores batches under the draw's rules. */
  lottery: Pick<Lottery, "storeBatch">;
  logger: Logger;
  /** Counters for the admin port; undefined when it is off. */
  metrics: ServerMetrics | undefined;
  /** Aborted when the server shuts down. */
  shutdown: AbortSignal;
}

/** The batches of one agency's session. */
export class BatchIntake {
  readonly #agency: number;
  readonly #options: IntakeOptions;
  readonly #replies: OrderedReplies;
  /** Batches handed to the store and not answered by it. */
  readonly #inFlight = new InFlight();
  /** Set when a newer connection took the agency over: nothing more is stored. */
  #fenced = false;
  /** Told when the store refused a batch because another server took the agency over. */
  readonly #onSuperseded: () => void;

  /**
   * @param onSuperseded called when the store refuses a batch with
   *   `superseded` (a central sharing the store took the agency over)
   */
  constructor(
    agency: number,
    options: IntakeOptions,
    replies: OrderedReplies,
    onSuperseded: () => void = () => {},
  ) {
    this.#agency = agency;
    this.#options = options;
    this.#replies = replies;
    this.#onSuperseded = onSuperseded;
  }

  /** The agency whose batches these are. */
  get agency(): number {
    return this.#agency;
  }

  /** True while batches wait at the store. */
  get storeBusy(): boolean {
    return this.#inFlight.count > 0;
  }

  /** Resolves once no batch waits at the store. */
  storeSettled(): Promise<void> {
    return this.#inFlight.none();
  }

  /** Refuses every later batch with `superseded`. */
  fence(): void {
    this.#fenced = true;
  }

  /**
   * Hands a batch to the store. Returns a promise only when the session must
   * wait before reading on (the store is behind, this connection's window
   * at the store is full, or the server shuts down); `body` is not used
   * once this returns.
   */
  take(body: Uint8Array): Promise<void> | undefined {
    const { first, count } = readBatchHeader(body);
    if (this.#options.shutdown.aborted) return this.#refuseAtShutdown(first, count);
    // Read no further frame while the store is behind: TCP slows the agency.
    const room = this.#options.ledger.room();
    if (room !== undefined || this.#inFlight.count >= CONNECTION_BATCHES_PENDING_MAX) {
      return this.#storeWithRoom(room, first, count, body);
    }
    this.#store(first, count, body);
    return undefined;
  }

  /** Refuses a batch that could not be read, in order with the others. */
  refuse(first: number, count: number, error: ProtocolError): void {
    this.#replies.reply(this.#nack(first, count, error));
  }

  /** Refuses a batch at shutdown, after the batches already at the store are answered. */
  async #refuseAtShutdown(first: number, count: number): Promise<void> {
    // The agency reads their acks before this refusal sends it elsewhere.
    await this.storeSettled();
    await this.#replies.written().catch(() => {});
    const refusal = new ProtocolError(
      ErrorCode.shuttingDown,
      "server shutting down: batch not stored",
    );
    this.refuse(first, count, refusal);
  }

  /** Waits for room at the store and in this connection's window, then
   * stores (no frame is read meanwhile: `body` stays valid). */
  async #storeWithRoom(
    room: Promise<void> | undefined,
    first: number,
    count: number,
    body: Uint8Array,
  ): Promise<void> {
    if (room !== undefined) await room;
    await this.#inFlight.below(CONNECTION_BATCHES_PENDING_MAX);
    // Shutdown came while this batch waited for room: it is not the store's yet.
    if (this.#options.shutdown.aborted) return this.#refuseAtShutdown(first, count);
    this.#store(first, count, body);
  }

  /** Scans a batch and hands it to the store; its answer goes out in order. */
  #store(first: number, count: number, body: Uint8Array): void {
    if (this.#fenced) {
      const superseded = new ProtocolError(
        ErrorCode.superseded,
        "a newer connection of this agency took over",
      );
      this.refuse(first, count, superseded);
      return;
    }
    // Scanned only now, and stored without a wait in between: the rows are
    // a scratch buffer the next scan reuses, and the store copies them.
    let rows: StoreRows;
    try {
      rows = scanBatch(body, this.#agency, dateNumber(new Date())).rows;
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.refuse(first, count, error);
      return;
    }
    const { logger, metrics, lottery } = this.#options;
    // Keep the body past the store only for the DEBUG per-bet lines.
    const debugBody = logger.enabled("DEBUG") ? body.slice() : undefined;
    const agency = this.#agency;
    this.#inFlight.start();
    this.#replies.reply(
      lottery.storeBatch(agency, first, rows).then((result) => {
        this.#inFlight.settle();
        logStoredBatch(logger, agency, first, count, result.duplicate, debugBody);
        if (result.duplicate) metrics?.batchDuplicate();
        return encodeMessage({ type: MessageType.batchAck, first, count });
      }, (error) => {
        this.#inFlight.settle();
        const refusal = storeRefusal(error);
        if (refusal.code === ErrorCode.superseded) this.#onSuperseded();
        return this.#nack(first, count, refusal);
      }),
    );
  }

  /** Logs and counts a refused batch; returns its nack frame. */
  #nack(first: number, count: number, error: ProtocolError): Uint8Array {
    const { logger, metrics, ledger } = this.#options;
    metrics?.batchRefused(this.#agency, error.code, error.message);
    const expected = ledger.acceptedBets(this.#agency);
    logRefusedBatch(logger, this.#agency, first, count, expected, error);
    return encodeMessage(nackOf(first, count, error, expected));
  }
}
