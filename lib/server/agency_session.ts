/**
 * One agency's protocol session: hello binds the agency to the connection
 * (taking it over from any older connection of that agency), then batches
 * placed by position (pipelined, acknowledged once durable), finished, and
 * the winners query, which waits for the draw. Reply order and write
 * coalescing are OrderedReplies', the count of batches at the store is
 * InFlight's; this class dispatches, keeps the agency and fences.
 */

import { readBatchHeader, scanBatch } from "./batch_scan.ts";
import { dateNumber } from "../bet/bet_bytes.ts";
import { secretMatches } from "./agency_secrets.ts";
import type { BufferedReader } from "../protocol/buffered_reader.ts";
import type { ByteSink } from "../runtime/write_all.ts";
import { closeQuietly } from "../runtime/close_quietly.ts";
import { CONNECTION_BATCHES_PENDING_MAX, HELLO_CHECKPOINTS_MAX } from "../limits.ts";
import type { AgencyClaims, AgencyHolder } from "./agency_claims.ts";
import type { Logger } from "../runtime/log.ts";
import type { Lottery } from "./lottery.ts";
import type { ServerMetrics } from "./server_metrics.ts";
import type { BetLedger } from "../store/bet_ledger.ts";
import { decodeMessage, encodeMessage, type Message } from "../protocol/message_codec.ts";
import { ErrorCode, MessageType, ProtocolError } from "../protocol/protocol.ts";
import type { StoreRows } from "../store/store_rows.ts";
import type { IdleClock } from "./idle_timer.ts";
import { helloRefusal, type PeerIdentity } from "./peer_identity.ts";
import { InFlight } from "./in_flight.ts";
import { OrderedReplies } from "./ordered_replies.ts";
import { closeAfter } from "./refuse_and_close.ts";
import { answerWinnersQuery } from "./winners_query.ts";
import {
  logRefusedBatch,
  logSessionError,
  logStoredBatch,
  nackOf,
  storeRefusal,
} from "./session_replies.ts";

/** What every session of a server shares. */
export interface SessionOptions {
  /** The draw's bets: what hello reports, where a nack says to resume. */
  ledger: Pick<BetLedger, "room" | "storedBets" | "acceptedBets" | "storedDigest" | "checkpoints">;
  /** The draw: batches and finishes go through its rules. */
  lottery: Pick<Lottery, "drawId" | "agencies" | "storeBatch" | "finish" | "answerWinners">;
  logger: Logger;
  frameBytesMax: number;
  /** Aborted when the server shuts down. */
  shutdown: AbortSignal;
  /** Each agency's secret; undefined when hello needs none. */
  agencySecrets: ReadonlyMap<number, string> | undefined;
  /** Which connection uploads for which agency. */
  claims: AgencyClaims;
  /** Counters for the admin port; undefined when it is off. */
  metrics: ServerMetrics | undefined;
}

/** The connection one session serves. */
export interface SessionConnection {
  reader: BufferedReader;
  /** Written to, and closed when the session is fenced. */
  conn: ByteSink & { close(): void };
  /** What the transport proved about the peer. */
  identity: PeerIdentity;
  /** The connection's idle deadline. */
  idle: IdleClock;
}

/** An agency's session over one connection. */
export class AgencySession implements AgencyHolder {
  readonly #link: SessionConnection;
  readonly #options: SessionOptions;
  readonly #replies: OrderedReplies;
  /** This session's batches at the store. */
  readonly #inFlight = new InFlight();
  #agency = 0;
  /** Set when a newer connection took the agency over: nothing more is stored. */
  #fenced = false;

  constructor(link: SessionConnection, options: SessionOptions) {
    this.#link = link;
    this.#options = options;
    this.#replies = new OrderedReplies(link.conn);
  }

  /** The agency bound at hello, 0 before. */
  get agency(): number {
    return this.#agency;
  }

  /** True while batches of this session wait at the store. */
  get storeBusy(): boolean {
    return this.#inFlight.count > 0;
  }

  /**
   * Serves frames until the peer closes or breaks the protocol. A protocol
   * error is answered with an error frame before this returns.
   * @throws {Error} on connection failures (the caller closes and logs)
   */
  async run(): Promise<void> {
    try {
      if (!(await this.#hello())) return;
      await this.#serveFrames();
      await this.drain();
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      const { logger, metrics, shutdown } = this.#options;
      logSessionError(logger, this.#agency, error, shutdown.aborted);
      metrics?.connectionRefused(this.#agency, error.code, error.message);
      await this.drain();
      await this.refuse(error.code, error.message);
    } finally {
      // Hold the agency until its batches at the store settle: a hello that
      // comes meanwhile waits for them, so its helloAck counts them.
      if (this.#agency !== 0) {
        await this.storeSettled();
        this.#options.claims.release(this.#agency, this);
      }
      await this.#replies.written().catch(() => {});
    }
  }

  /** Resolves once no batch of this session waits at the store. */
  storeSettled(): Promise<void> {
    return this.#inFlight.none();
  }

  /**
   * Resolves once every batch read so far is answered and the answers are written.
   * @throws the failed write's error
   */
  async drain(): Promise<void> {
    await this.storeSettled();
    await this.#replies.written();
  }

  /**
   * A newer connection took the agency over: refuse every later batch, then,
   * once this session's batches at the store are settled and their answers
   * handed to the writer (the acks of a group commit go out after it
   * settles), say `superseded` and close.
   */
  fence(): void {
    if (this.#fenced) return;
    this.#fenced = true;
    this.#options.logger.warning("hello", "in_progress", {
      agency: this.#agency,
      reason: "a newer connection took this agency over",
    });
    this.storeSettled().then(() => this.#replies.replied()).then(() =>
      this.refuseAndClose(
        ErrorCode.superseded,
        `a newer connection of agency ${this.#agency} took over`,
      )
    );
  }

  /** Sends an error frame after the frames queued before it; a failed write is ignored. */
  refuse(code: ErrorCode, text: string): Promise<void> {
    return this.#send({ type: MessageType.error, code, text }).catch(() => {});
  }

  /** Sends an error frame after the frames queued before it, then closes the connection. */
  refuseAndClose(code: ErrorCode, text: string): void {
    closeAfter(this.refuse(code, text), () => {
      this.#link.reader.close();
      closeQuietly(this.#link.conn);
    });
  }

  async #hello(): Promise<boolean> {
    const { reader, idle, identity } = this.#link;
    const { frameBytesMax, metrics, lottery, ledger, agencySecrets } = this.#options;
    const frame = await reader.readFrame(frameBytesMax);
    if (frame === null) return false;
    idle.touch();
    metrics?.frameReceived(frame.body.length);
    const message = frame.type === MessageType.hello ? decodeMessage(frame) : undefined;
    if (message?.type !== MessageType.hello) {
      throw new ProtocolError(ErrorCode.helloRequired, "the first message must be hello");
    }
    const agency = message.agency;
    if (agency < 1 || agency > lottery.agencies) {
      throw new ProtocolError(
        ErrorCode.unknownAgency,
        `agency ${agency} is not in 1..${lottery.agencies}`,
      );
    }
    const refusal = helloRefusal(identity, agency);
    if (refusal !== undefined) throw new ProtocolError(ErrorCode.authenticationFailed, refusal);
    if (
      agencySecrets !== undefined &&
      !(await secretMatches(agencySecrets.get(agency), message.secret))
    ) {
      throw new ProtocolError(
        ErrorCode.authenticationFailed,
        `agency ${agency}: wrong or missing secret`,
      );
    }
    this.#agency = agency;
    // An older connection's batches settle first, so the count below is final.
    await this.#options.claims.claim(agency, this);
    if (this.#fenced) return false;
    const storedBets = ledger.storedBets(agency);
    this.#options.logger.info("hello", "success", {
      agency,
      draw_id: lottery.drawId,
      stored_bets: storedBets,
    });
    metrics?.agencyConnected(agency);
    await this.#send({
      type: MessageType.helloAck,
      drawId: lottery.drawId,
      storedBets,
      storedDigest: ledger.storedDigest(agency),
      checkpoints: ledger.checkpoints(agency, HELLO_CHECKPOINTS_MAX),
    });
    return true;
  }

  /** Reads and answers frames until the peer closes its side. */
  async #serveFrames(): Promise<void> {
    const { reader, idle } = this.#link;
    const { frameBytesMax, metrics } = this.#options;
    while (true) {
      // The body is a view: every use below is done before the next read.
      const frame = await reader.readFrameView(frameBytesMax);
      if (frame === null) return;
      idle.touch();
      metrics?.frameReceived(frame.body.length);
      if (frame.type === MessageType.batch) {
        // Most batches go to the store at once; only backpressure and
        // shutdown make this wait (no async call per batch otherwise).
        const held = this.#batch(frame.body);
        if (held !== undefined) await held;
        continue;
      }
      let message: Message;
      try {
        message = decodeMessage(frame);
      } catch (error) {
        if (!(error instanceof ProtocolError) || error.batch === undefined) throw error;
        this.#replies.reply(this.#nack(error.batch.first, 0, error));
        continue;
      }
      await this.#dispatch(message);
    }
  }

  async #dispatch(message: Message): Promise<void> {
    switch (message.type) {
      case MessageType.finished:
        await this.drain();
        await this.#finished(message.total);
        return;
      case MessageType.winnersQuery:
        await this.drain();
        await answerWinnersQuery({
          ...this.#options,
          agency: this.#agency,
          reader: this.#link.reader,
          idle: this.#link.idle,
          send: (frame) => this.#replies.send(frame),
        });
        return;
      default:
        throw new ProtocolError(
          ErrorCode.unexpectedMessage,
          `message type ${message.type} is not sent by agencies after hello`,
        );
    }
  }

  /**
   * Hands a batch to the store. Returns a promise only when the session must
   * wait before reading on (the store is behind, this connection's window
   * at the store is full, or the server shuts down); `body` is not used
   * once this returns.
   */
  #batch(body: Uint8Array): Promise<void> | undefined {
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

  /** Refuses a batch at shutdown, after the batches already at the store are answered. */
  async #refuseAtShutdown(first: number, count: number): Promise<void> {
    // The agency reads their acks before this refusal sends it elsewhere.
    await this.drain().catch(() => {});
    const refusal = new ProtocolError(
      ErrorCode.shuttingDown,
      "server shutting down: batch not stored",
    );
    this.#replies.reply(this.#nack(first, count, refusal));
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
      this.#replies.reply(this.#nack(first, count, superseded));
      return;
    }
    // Scanned only now, and stored without a wait in between: the rows are
    // a scratch buffer the next scan reuses, and the store copies them.
    let rows: StoreRows;
    try {
      rows = scanBatch(body, this.#agency, dateNumber(new Date())).rows;
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#replies.reply(this.#nack(first, count, error));
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
        return this.#nack(first, count, storeRefusal(error));
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

  async #finished(total: number): Promise<void> {
    const agency = this.#agency;
    const logger = this.#options.logger;
    try {
      await this.#options.lottery.finish(agency, total, () => {
        logger.info("agencia_finalizada", "success", { agency, total });
      });
    } catch (error) {
      if (!(error instanceof ProtocolError)) {
        // The finish was not recorded: run() answers storeFailed and closes,
        // so the agency resends finished on a new connection.
        throw new ProtocolError(ErrorCode.storeFailed, (error as Error).message);
      }
      logger.warning("agencia_finalizada", "fail", { agency, total, error: error.message });
      await this.#send({ type: MessageType.error, code: error.code, text: error.message });
    }
  }

  /** Encodes a message and sends it behind the frames handed over before. */
  #send(message: Message): Promise<void> {
    return this.#replies.send(encodeMessage(message));
  }
}
