/**
 * One agency's protocol session: hello binds the agency to the connection
 * (taking it over from any older connection of that agency), then batches
 * placed by position (pipelined, acknowledged once durable), finished, and
 * the winners query, which waits for the draw.
 */

import { readBatchHeader, scanBatch } from "./batch_scan.ts";
import { dateNumber } from "../bet/bet_bytes.ts";
import { secretMatches } from "./agency_secrets.ts";
import { type BufferedReader } from "../protocol/buffered_reader.ts";
import { type ByteSink, writeAll } from "../runtime/write_all.ts";
import { concatBytes } from "../runtime/bytes.ts";
import {
  CONNECTION_BATCHES_PENDING_MAX,
  ERROR_REPLY_WAIT_MS,
  HELLO_CHECKPOINTS_MAX,
} from "../limits.ts";
import type { AgencyClaims, AgencyHolder } from "./agency_claims.ts";
import type { Logger } from "../runtime/log.ts";
import type { Lottery } from "./lottery.ts";
import type { ServerMetrics } from "./server_metrics.ts";
import { decodeMessage, encodeMessage, type Message } from "../protocol/message_codec.ts";
import { ErrorCode, errorCodeName, MessageType, ProtocolError } from "../protocol/protocol.ts";
import type { StoreRows } from "../store/store_rows.ts";
import type { WinnersAnswer } from "../store/winners_index.ts";

/** What a session needs from the server around it. */
export interface SessionContext {
  lottery: Lottery;
  logger: Logger;
  frameBytesMax: number;
  /** Aborted when the server shuts down. */
  shutdown: AbortSignal;
  /** Each agency's secret; undefined when hello needs none. */
  agencySecrets: ReadonlyMap<number, string> | undefined;
  /** Which connection uploads for which agency. */
  claims: AgencyClaims;
  /** Closes the connection (a fenced session ends this way). */
  close(): void;
  /** Counters for the admin port; undefined when it is off. */
  metrics: ServerMetrics | undefined;
  /** What the transport allows: the reason a hello for this agency is
   * refused, or undefined; absent: every agency may say hello. */
  helloGate: ((agency: number) => string | undefined) | undefined;
  /** A complete frame arrived: the idle time starts again. */
  touchIdle(): void;
  /** Stops idle accounting while the peer rightly waits for the draw. */
  pauseIdle(): void;
  resumeIdle(): void;
}

/** Resolves after the microtasks of this turn: every answer a settled group
 * commit releases is queued by then. */
function _endOfTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** An agency's session over one connection. */
export class AgencySession implements AgencyHolder {
  readonly #reader: BufferedReader;
  readonly #sink: ByteSink;
  readonly #context: SessionContext;
  #agency = 0;
  #inFlight = 0;
  #settled: PromiseWithResolvers<void> | undefined;
  #sending: Promise<void> = Promise.resolve();
  #outbox: Uint8Array[] = [];
  /** The last batch answer handed to the sender: answers go out in the order
   * their batches were read, whatever order they settle in (a refusal of a
   * later batch never overtakes the storeFailed of an earlier one). */
  #answered: Promise<void> = Promise.resolve();
  #flush: Promise<void> | undefined;
  /** Set when a newer connection took the agency over: nothing more is stored. */
  #fenced = false;

  constructor(reader: BufferedReader, sink: ByteSink, context: SessionContext) {
    this.#reader = reader;
    this.#sink = sink;
    this.#context = context;
  }

  /** The agency bound at hello, 0 before. */
  get agency(): number {
    return this.#agency;
  }

  /**
   * Serves frames until the peer closes or breaks the protocol. A protocol
   * error is answered with an error frame before this returns.
   * @throws {Error} on connection failures (the caller closes and logs)
   */
  async run(): Promise<void> {
    try {
      if (!(await this.#hello())) return;
      while (true) {
        // The body is a view: every use below is done before the next read.
        const frame = await this.#reader.readFrameView(this.#context.frameBytesMax);
        if (frame === null) break;
        this.#context.touchIdle();
        this.#context.metrics?.frameReceived(frame.body.length);
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
          if (error instanceof ProtocolError && error.batch !== undefined) {
            this.#answer(this.#nackFor(error.batch.first, 0, error));
            continue;
          }
          throw error;
        }
        await this.#dispatch(message);
      }
      await this.#allSettled();
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      if (error.code === ErrorCode.shuttingDown && this.#context.shutdown.aborted) {
        // A requested shutdown is normal operation, not a broken peer.
        this.#context.logger.info("protocol_error", "in_progress", {
          agency: this.#agency,
          code: errorCodeName(error.code),
          reason: error.message,
        });
      } else {
        this.#context.logger.warning("protocol_error", "fail", {
          agency: this.#agency,
          code: errorCodeName(error.code),
          error: error.message,
        });
      }
      this.#context.metrics?.connectionRefused(this.#agency, error.code, error.message);
      await this.#allSettled();
      await this.#send({
        type: MessageType.error,
        code: error.code,
        text: error.message,
      })
        .catch(() => {});
    } finally {
      // Hold the agency until its batches at the store settle: a hello that
      // comes meanwhile waits for them, so its helloAck counts them.
      if (this.#agency !== 0) {
        await this.storeSettled();
        this.#context.claims.release(this.#agency, this);
      }
      await this.#sending.catch(() => {});
    }
  }

  /** True while batches of this session wait at the store. */
  get storeBusy(): boolean {
    return this.#inFlight > 0;
  }

  /** Waits until every batch read so far is answered. */
  drain(): Promise<void> {
    return this.#allSettled();
  }

  /** Resolves once no batch of this session waits at the store. */
  async storeSettled(): Promise<void> {
    while (this.#inFlight > 0) await this.#oneSettled();
  }

  /**
   * A newer connection took the agency over: refuse every later batch, then,
   * once this session's batches at the store are settled and their answers
   * queued (the acks of one group commit go out one by one, after it
   * settles), say `superseded` and close (after ERROR_REPLY_WAIT_MS at most
   * if the peer reads nothing).
   */
  fence(): void {
    if (this.#fenced) return;
    this.#fenced = true;
    this.#context.logger.warning("hello", "in_progress", {
      agency: this.#agency,
      reason: "a newer connection took this agency over",
    });
    this.storeSettled().then(() => this.#answered).then(() =>
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

  /**
   * Sends an error frame after the frames queued before it, then closes the
   * connection: once it is written, or after ERROR_REPLY_WAIT_MS at most.
   */
  refuseAndClose(code: ErrorCode, text: string): void {
    const closeAnyway = setTimeout(() => this.#context.close(), ERROR_REPLY_WAIT_MS);
    this.refuse(code, text).finally(() => {
      clearTimeout(closeAnyway);
      this.#context.close();
    });
  }

  async #hello(): Promise<boolean> {
    const frame = await this.#reader.readFrame(this.#context.frameBytesMax);
    if (frame === null) return false;
    this.#context.touchIdle();
    this.#context.metrics?.frameReceived(frame.body.length);
    const message = frame.type === MessageType.hello ? decodeMessage(frame) : undefined;
    if (message?.type !== MessageType.hello) {
      throw new ProtocolError(ErrorCode.helloRequired, "the first message must be hello");
    }
    const agencies = this.#context.lottery.agencies;
    if (message.agency < 1 || message.agency > agencies) {
      throw new ProtocolError(
        ErrorCode.unknownAgency,
        `agency ${message.agency} is not in 1..${agencies}`,
      );
    }
    const refusal = this.#context.helloGate?.(message.agency);
    if (refusal !== undefined) throw new ProtocolError(ErrorCode.authenticationFailed, refusal);
    const secrets = this.#context.agencySecrets;
    if (
      secrets !== undefined && !(await secretMatches(secrets.get(message.agency), message.secret))
    ) {
      throw new ProtocolError(
        ErrorCode.authenticationFailed,
        `agency ${message.agency}: wrong or missing secret`,
      );
    }
    this.#agency = message.agency;
    // An older connection's batches settle first, so the count below is final.
    await this.#context.claims.claim(this.#agency, this);
    if (this.#fenced) return false;
    const lottery = this.#context.lottery;
    const storedBets = lottery.storedBets(this.#agency);
    this.#context.logger.info("hello", "success", {
      agency: this.#agency,
      draw_id: lottery.drawId,
      stored_bets: storedBets,
    });
    this.#context.metrics?.agencyConnected(this.#agency);
    await this.#send({
      type: MessageType.helloAck,
      drawId: lottery.drawId,
      storedBets,
      storedDigest: lottery.storedDigest(this.#agency),
      checkpoints: lottery.checkpoints(this.#agency, HELLO_CHECKPOINTS_MAX),
    });
    return true;
  }

  async #dispatch(message: Message): Promise<void> {
    switch (message.type) {
      case MessageType.finished:
        await this.#finished(message.total);
        return;
      case MessageType.winnersQuery:
        await this.#winners();
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
   * wait before reading on (the store is behind, this
   * connection's window at the store is full, or the server shuts down);
   * `body` is not used once this returns.
   */
  #batch(body: Uint8Array): Promise<void> | undefined {
    const { first, count } = readBatchHeader(body);
    if (this.#context.shutdown.aborted) return this.#refuseAtShutdown(first, count);
    // Read no further frame while the store is behind: TCP slows the agency.
    const room = this.#context.lottery.storeRoom();
    if (room !== undefined || this.#inFlight >= CONNECTION_BATCHES_PENDING_MAX) {
      return this.#storeWithRoom(room, first, count, body);
    }
    this.#store(first, count, body);
    return undefined;
  }

  /** Refuses a batch at shutdown, after the batches already at the store are answered. */
  async #refuseAtShutdown(first: number, count: number): Promise<void> {
    // The agency reads their acks before this refusal sends it elsewhere.
    await this.#allSettled().catch(() => {});
    this.#answer(
      this.#nackFor(
        first,
        count,
        new ProtocolError(ErrorCode.shuttingDown, "server shutting down: batch not stored"),
      ),
    );
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
    while (this.#inFlight >= CONNECTION_BATCHES_PENDING_MAX) await this.#oneSettled();
    // Shutdown came while this batch waited for room: it is not the store's yet.
    if (this.#context.shutdown.aborted) return this.#refuseAtShutdown(first, count);
    this.#store(first, count, body);
  }

  /** Scans a batch and hands it to the store; its answer goes out in order. */
  #store(first: number, count: number, body: Uint8Array): void {
    if (this.#fenced) {
      const superseded = new ProtocolError(
        ErrorCode.superseded,
        "a newer connection of this agency took over",
      );
      this.#answer(this.#nackFor(first, count, superseded));
      return;
    }
    // Scanned only now, and stored without a wait in between: the rows are
    // a scratch buffer the next scan reuses, and the store copies them.
    let rows: StoreRows;
    try {
      rows = scanBatch(body, this.#agency, dateNumber(new Date())).rows;
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#answer(this.#nackFor(first, count, error));
      return;
    }
    // Keep the body past the store only for the DEBUG per-bet lines.
    const debugBody = this.#context.logger.enabled("DEBUG") ? body.slice() : undefined;
    this.#inFlight += 1;
    const answer = this.#context.lottery.storeBatch(this.#agency, first, rows)
      .then((result): Message => {
        this.#storeAnswered();
        this.#logStored(first, debugBody, count, result.duplicate);
        if (result.duplicate) this.#context.metrics?.batchDuplicate();
        return { type: MessageType.batchAck, first, count };
      }, (error): Message => {
        this.#storeAnswered();
        const protocolError = error instanceof ProtocolError
          ? error
          : new ProtocolError(ErrorCode.storeFailed, (error as Error).message);
        return this.#nackFor(first, count, protocolError);
      });
    this.#answer(answer);
  }

  /** The store answered one of this session's batches. */
  #storeAnswered(): void {
    this.#inFlight -= 1;
    this.#settled?.resolve();
  }

  /**
   * Hands a batch's answer to the sender once every earlier batch's answer
   * was. A lost ack is no store failure: the batch is stored, a resend of it
   * is a duplicate.
   */
  #answer(answer: Message | Promise<Message>): void {
    // Two plain hops, no async function: this runs once per batch.
    this.#answered = this.#answered.then(() => answer).then((message) => {
      this.#send(message).catch(() => {});
    });
  }

  #logStored(
    first: number,
    debugBody: Uint8Array | undefined,
    count: number,
    duplicate: boolean,
  ): void {
    const logger = this.#context.logger;
    if (duplicate) {
      logger.info("apuesta_duplicada", "success", {
        agency: this.#agency,
        first,
        cantidad: count,
      });
      return;
    }
    logger.info("apuesta_recibida", "success", { cantidad: count });
    if (debugBody === undefined) return;
    const message = decodeMessage({ type: MessageType.batch, body: debugBody });
    if (message.type !== MessageType.batch) return;
    for (const bet of message.bets) {
      logger.debug("apuesta_almacenada", "success", { dni: bet.document, numero: bet.number });
    }
  }

  /** Logs and counts a refused batch; returns its nack. */
  #nackFor(first: number, count: number, error: ProtocolError): Message {
    this.#context.metrics?.batchRefused(this.#agency, error.code, error.message);
    const expected = this.#context.lottery.acceptedBets(this.#agency);
    if (error.code === ErrorCode.shuttingDown) {
      // Expected during a requested shutdown: the agency resends after the restart.
      this.#context.logger.info("apuesta_recibida", "in_progress", {
        cantidad: count,
        agency: this.#agency,
        first,
        expected,
        code: errorCodeName(error.code),
        reason: error.message,
      });
    } else {
      this.#context.logger.warning("apuesta_recibida", "fail", {
        cantidad: count,
        agency: this.#agency,
        first,
        expected,
        code: errorCodeName(error.code),
        error: error.message,
      });
    }
    return {
      type: MessageType.batchNack,
      first,
      count,
      code: error.code,
      betIndex: error.batch?.betIndex ?? 0,
      field: error.batch?.field ?? "",
      reason: error.message,
      expected,
    };
  }

  async #finished(total: number): Promise<void> {
    await this.#allSettled();
    try {
      await this.#context.lottery.finish(this.#agency, total, () => {
        this.#context.logger.info("agencia_finalizada", "success", { agency: this.#agency, total });
      });
    } catch (error) {
      if (!(error instanceof ProtocolError)) {
        // The finish was not recorded: run() answers storeFailed and closes,
        // so the agency resends finished on a new connection.
        throw new ProtocolError(ErrorCode.storeFailed, (error as Error).message);
      }
      this.#context.logger.warning("agencia_finalizada", "fail", {
        agency: this.#agency,
        total,
        error: error.message,
      });
      await this.#send({
        type: MessageType.error,
        code: error.code,
        text: error.message,
      });
    }
  }

  async #winners(): Promise<void> {
    await this.#allSettled();
    this.#context.pauseIdle();
    // Watch the connection while waiting: a peer that leaves before the draw
    // must not hold its connection (and a slot of the cap) until the draw.
    const peerLeft = new AbortController();
    let answered = false;
    // Once answered, a peer leaving is the normal end: no abort to dispatch.
    const leave = () => answered || peerLeft.abort();
    const watching = this.#reader.peekByte().then((byte) => byte === null && leave(), leave);
    let answer: WinnersAnswer;
    try {
      const answering = this.#context.lottery.answerWinners(
        this.#agency,
        peerLeft.signal,
        (ready) => {
          answered = true;
          this.#context.resumeIdle();
          // Logged before the frame leaves: readers of the logs see it first.
          this.#context.logger.info("ganadores_enviados", "success", {
            agency: this.#agency,
            cant_ganadores: ready.count,
          });
          return this.#sendFrame(ready.frame).catch((error) => {
            this.#context.logger.warning("ganadores_enviados", "fail", {
              agency: this.#agency,
              error: (error as Error).message,
            });
            throw error;
          });
        },
      );
      // The query is registered now (waiting for the draw, or answered).
      this.#context.logger.debug("consulta_ganadores", "in_progress", { agency: this.#agency });
      answer = await answering;
    } catch (error) {
      if (!answered && peerLeft.signal.aborted) return;
      if (
        error instanceof ProtocolError && error.code === ErrorCode.shuttingDown &&
        this.#context.shutdown.aborted
      ) {
        // A requested shutdown, not a failure: the server's close says
        // shuttingDown, and the agency asks again after the restart.
        this.#context.logger.info("consulta_ganadores", "in_progress", {
          agency: this.#agency,
          reason: error.message,
        });
        return;
      }
      throw error;
    } finally {
      this.#context.resumeIdle();
    }
    this.#context.metrics?.winnersSent(this.#agency, answer.count);
    // The next read goes through the watcher's pending one, never beside it.
    await watching;
  }

  /** Encodes a message and queues it with {@link #sendFrame}. */
  #send(message: Message): Promise<void> {
    return this.#sendFrame(encodeMessage(message));
  }

  /**
   * Sends frames one after another, in call order. A write waits for the end
   * of the turn, and frames queued meanwhile or while a write is under way go
   * out together: the acks of one group commit settle in one turn and share
   * one syscall instead of one each.
   */
  #sendFrame(frame: Uint8Array): Promise<void> {
    this.#outbox.push(frame);
    if (this.#flush === undefined) {
      this.#flush = this.#sending.then(_endOfTurn).then(() => {
        this.#flush = undefined;
        return writeAll(this.#sink, concatBytes(this.#outbox.splice(0)));
      });
      this.#sending = this.#flush;
    }
    return this.#flush;
  }

  async #oneSettled(): Promise<void> {
    this.#settled ??= Promise.withResolvers();
    await this.#settled.promise;
    this.#settled = undefined;
  }

  async #allSettled(): Promise<void> {
    while (this.#inFlight > 0) await this.#oneSettled();
    await this.#answered;
    await this.#sending;
  }
}
