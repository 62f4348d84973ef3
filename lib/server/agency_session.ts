/**
 * One agency's protocol session: hello binds the agency to the connection
 * (taking it over from any older connection of that agency), then batches
 * placed by position (pipelined, acknowledged once durable), finished, and
 * the winners query, which waits for the draw. Reply order and write
 * coalescing are OrderedReplies', the count of batches at the store is
 * BatchIntake's; this class dispatches, keeps the agency and fences.
 */

import type { BufferedReader } from "../protocol/buffered_reader.ts";
import type { ByteSink } from "../runtime/write_all.ts";
import { closeQuietly } from "../runtime/close_quietly.ts";
import { HELLO_CHECKPOINTS_MAX } from "../limits.ts";
import type { AgencyClaims, AgencyHolder } from "./agency_claims.ts";
import type { Lottery } from "./lottery.ts";
import type { BetLedger } from "../store/bet_ledger.ts";
import { decodeMessage, encodeMessage, type Message } from "../protocol/message_codec.ts";
import { ErrorCode, MessageType, ProtocolError } from "../protocol/protocol.ts";
import type { IdleClock } from "./idle_timer.ts";
import type { PeerIdentity } from "./peer_identity.ts";
import { checkHello } from "./hello_check.ts";
import { BatchIntake, type IntakeOptions } from "./batch_intake.ts";
import { OrderedReplies } from "./ordered_replies.ts";
import { closeAfter } from "./refuse_and_close.ts";
import { answerWinnersQuery } from "./winners_query.ts";
import { logSessionError, storeRefusal } from "./session_replies.ts";

/** What every session of a server shares. */
export interface SessionOptions extends IntakeOptions {
  /** The draw's bets: what hello reports, where a nack says to resume. */
  ledger: Pick<
    BetLedger,
    "claim" | "room" | "storedBets" | "acceptedBets" | "storedDigest" | "checkpoints"
  >;
  /** The draw: batches and finishes go through its rules. */
  lottery: Pick<Lottery, "drawId" | "agencies" | "storeBatch" | "finish" | "answerWinners">;
  frameBytesMax: number;
  /** Each agency's secret; undefined when hello needs none. */
  agencySecrets: ReadonlyMap<number, string> | undefined;
  /** Which connection uploads for which agency. */
  claims: AgencyClaims;
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
  /** The agency's batches, from hello on. */
  #intake: BatchIntake | undefined;
  /** Set when a newer connection took the agency over: nothing more is stored. */
  #fenced = false;

  constructor(link: SessionConnection, options: SessionOptions) {
    this.#link = link;
    this.#options = options;
    this.#replies = new OrderedReplies(link.conn);
  }

  /** The agency bound at hello, 0 before. */
  get agency(): number {
    return this.#intake?.agency ?? 0;
  }

  /** True while batches of this session wait at the store. */
  get storeBusy(): boolean {
    return this.#intake?.storeBusy ?? false;
  }

  /**
   * Serves frames until the peer closes or breaks the protocol. A protocol
   * error is answered with an error frame before this returns.
   * @throws {Error} on connection failures (the caller closes and logs)
   */
  async run(): Promise<void> {
    try {
      const intake = await this.#hello();
      if (intake === undefined) return;
      await this.#serveFrames(intake);
      await this.drain();
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      const { logger, metrics, shutdown } = this.#options;
      logSessionError(logger, this.agency, error, shutdown.aborted);
      metrics?.connectionRefused(this.agency, error.code, error.message);
      await this.drain();
      await this.refuse(error.code, error.message);
    } finally {
      // Hold the agency until its batches at the store settle: a hello that
      // comes meanwhile waits for them, so its helloAck counts them.
      if (this.#intake !== undefined) {
        await this.#intake.storeSettled();
        this.#options.claims.release(this.#intake.agency, this);
      }
      await this.#replies.written().catch(() => {});
    }
  }

  /** Resolves once no batch of this session waits at the store. */
  storeSettled(): Promise<void> {
    return this.#intake?.storeSettled() ?? Promise.resolve();
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
    this.#intake?.fence();
    this.#options.logger.warning("hello", "in_progress", {
      agency: this.agency,
      reason: "a newer connection took this agency over",
    });
    this.storeSettled().then(() => this.#replies.replied()).then(() =>
      this.refuseAndClose(
        ErrorCode.superseded,
        `a newer connection of agency ${this.agency} took over`,
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

  /** @returns the agency's batches, or undefined when the peer left or was fenced */
  async #hello(): Promise<BatchIntake | undefined> {
    const { reader, idle, identity } = this.#link;
    const { frameBytesMax, metrics, lottery, ledger, agencySecrets } = this.#options;
    const frame = await reader.readFrame(frameBytesMax);
    if (frame === null) return undefined;
    idle.touch();
    metrics?.frameReceived(frame.body.length);
    const agency = await checkHello(frame, {
      agencies: lottery.agencies,
      identity,
      agencySecrets,
    });
    this.#intake = new BatchIntake(agency, this.#options, this.#replies, () => this.fence());
    // An older connection's batches settle first, so the count below is
    // final: this process's, then, in a store other centrals share, theirs.
    await this.#options.claims.claim(agency, this);
    if (this.#fenced) return undefined;
    await ledger.claim(agency).catch((error) => {
      throw storeRefusal(error);
    });
    if (this.#fenced) return undefined;
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
    return this.#intake;
  }

  /** Reads and answers frames until the peer closes its side. */
  async #serveFrames(intake: BatchIntake): Promise<void> {
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
        const held = intake.take(frame.body);
        if (held !== undefined) await held;
        continue;
      }
      let message: Message;
      try {
        message = decodeMessage(frame);
      } catch (error) {
        if (!(error instanceof ProtocolError) || error.batch === undefined) throw error;
        intake.refuse(error.batch.first, 0, error);
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
          agency: this.agency,
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

  async #finished(total: number): Promise<void> {
    const agency = this.agency;
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
