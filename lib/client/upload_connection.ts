/**
 * An upload's link to the server across lost connections. It owns the
 * socket and the window of unacknowledged batches (it resends them), says
 * the first hello and the resume hellos (upload_hello.ts), and after a loss
 * reconnects as the client's one retry policy says (retry_backoff.ts).
 *
 * A lost connection or a transient refusal is handled here; a refusal for
 * good ({@link UploadRefusal}), the signal's abort and any other error end
 * the upload and reach its caller.
 */

import type { Message } from "../protocol/message_codec.ts";
import { errorCodeName } from "../protocol/protocol.ts";
import { concatBytes } from "../runtime/bytes.ts";
import type { EncodedBatch } from "./batch_builder.ts";
import { type BatchNack, judgeBatchReply } from "./batch_reply.ts";
import { connectOptionsOf, connectWithRetry, type ServerEndpoint, sleep } from "./connect_retry.ts";
import { RetryBackoff } from "../runtime/retry_backoff.ts";
import { isConnectionLoss, TransientRefusal, UploadRefusal } from "./upload_errors.ts";
import { firstHello, resumeHello, type ResumeOptions, type UploadStart } from "./upload_hello.ts";
import { UploadLink } from "./upload_link.ts";

/** Where the server is, who the agency is and how a resume checks what it sent. */
export interface UploadConnectionOptions extends ServerEndpoint, ResumeOptions {}

/** One upload's connection, reconnected after each loss. */
export class UploadConnection {
  readonly #options: UploadConnectionOptions;
  /** Losses and refusals since the server last confirmed something. The
   * first loss reconnects at once; refusals are bounded by the budget. */
  readonly #backoff: RetryBackoff;
  /** Closing the socket interrupts a pending read or write. */
  readonly #closeOnAbort = () => this.#link?.close();
  #link: UploadLink | undefined;
  #start: UploadStart | undefined;

  constructor(options: UploadConnectionOptions) {
    this.#options = options;
    this.#backoff = new RetryBackoff({
      budgetMs: options.reconnectBudgetMs,
      immediateRetries: 1,
    });
  }

  /** What the first hello said; undefined before it. */
  get start(): UploadStart | undefined {
    return this.#start;
  }

  /** Whether a whole reply is buffered already (reading it will not wait). */
  get hasWholeReply(): boolean {
    return this.#link?.hasWholeReply ?? false;
  }

  /**
   * Connects and says the first hello, again after each loss. From here on
   * the signal closes the socket.
   * @returns where the upload starts
   * @throws {UploadRefusal} when the server refuses the agency for good
   * @throws {Error} when the server cannot be reached within the budget
   */
  async open(): Promise<UploadStart> {
    this.#options.signal.addEventListener("abort", this.#closeOnAbort, { once: true });
    this.#start = await this.#connectUntilUp((link) => firstHello(link, this.#options));
    return this.#start;
  }

  /**
   * Sends batches, keeping them in the window until acknowledged. After a
   * loss the reconnect resends the window, these batches included. A write
   * that finds the connection lost leaves the reconnect to the next read:
   * the replies the server sent before it broke are still readable, and an
   * ack read is a batch not resent.
   */
  async send(batches: readonly EncodedBatch[]): Promise<void> {
    const window = this.#opened().window;
    for (const batch of batches) window.add(batch);
    this.#options.signal.throwIfAborted();
    try {
      await this.#linkNow().write(concatBytes(batches.map((batch) => batch.frame)));
    } catch (error) {
      if (isConnectionLoss(error) && !this.#options.signal.aborted) return;
      await this.#reconnect(error);
    }
  }

  /**
   * Waits for the next answer to a batch and applies it to the window.
   * After a loss it reconnects, and waits again unless the resume found
   * every batch stored.
   * @returns the batch acknowledged, or undefined when no batch in flight
   *   was (an ack of none, or a resume that emptied the window)
   * @throws {UploadRefusal} when the server refuses a batch for good
   */
  async awaitBatchReply(): Promise<EncodedBatch | undefined> {
    const window = this.#opened().window;
    while (true) {
      this.#options.signal.throwIfAborted();
      try {
        return this.#applyBatchReply(await this.#linkNow().readReply());
      } catch (error) {
        await this.#reconnect(error);
        if (window.size === 0) return undefined;
      }
    }
  }

  /**
   * Writes a request and reads its answer, again on a new connection after
   * each loss.
   * @returns the answer
   */
  async exchange(request: Uint8Array): Promise<Message> {
    while (true) {
      this.#options.signal.throwIfAborted();
      try {
        const link = this.#linkNow();
        await link.write(request);
        const reply = await link.readReply();
        this.#backoff.succeeded();
        return reply;
      } catch (error) {
        await this.#reconnect(error);
      }
    }
  }

  /**
   * Closes the connection and stops following the signal; safe to call twice.
   * @returns whether a connection was open
   */
  close(): boolean {
    this.#options.signal.removeEventListener("abort", this.#closeOnAbort);
    const link = this.#link;
    this.#link = undefined;
    link?.close();
    return link !== undefined;
  }

  #opened(): UploadStart {
    if (this.#start === undefined) throw new Error("the upload connection is not open");
    return this.#start;
  }

  #linkNow(): UploadLink {
    if (this.#link === undefined) throw new Error("not connected");
    return this.#link;
  }

  #applyBatchReply(reply: Message): EncodedBatch | undefined {
    const verdict = judgeBatchReply(reply);
    switch (verdict.kind) {
      case "acknowledged": {
        const batch = this.#opened().window.acknowledge(verdict.first, verdict.count);
        if (batch !== undefined) this.#backoff.succeeded();
        return batch;
      }
      case "retryLater":
        throw new TransientRefusal(verdict.reason);
      case "refused":
        if (verdict.nack !== undefined) this.#logRefusedBatch(verdict.nack);
        throw new UploadRefusal(verdict.reason);
    }
  }

  #logRefusedBatch(nack: BatchNack): void {
    this.#options.logger.error("apuesta_enviada", "fail", {
      client_id: this.#options.agency,
      first: nack.first,
      cantidad: nack.count,
      code: errorCodeName(nack.code),
      bet: nack.betIndex,
      field: nack.field,
      error: nack.reason,
    });
  }

  /** After a loss: a new connection whose resume hello resends the window. */
  async #reconnect(lost: unknown): Promise<void> {
    await this.#afterLoss(lost);
    const start = this.#opened();
    await this.#connectUntilUp((link) => resumeHello(link, this.#options, start));
  }

  /** Connects and says `hello` on the new connection, again after each loss. */
  async #connectUntilUp<T>(hello: (link: UploadLink) => Promise<T>): Promise<T> {
    while (true) {
      this.#options.signal.throwIfAborted();
      try {
        const conn = await connectWithRetry(connectOptionsOf(this.#options, this.#options.agency));
        this.#link = new UploadLink(conn);
        return await hello(this.#link);
      } catch (error) {
        await this.#afterLoss(error);
      }
    }
  }

  /**
   * Logs a lost connection, closes it and waits as the back-off says.
   * @throws `error` itself when it is not a loss (or the signal's reason once aborted)
   * @throws {UploadRefusal} when transient refusals outlast the budget
   */
  async #afterLoss(error: unknown): Promise<void> {
    const { agency, logger, signal } = this.#options;
    signal.throwIfAborted();
    if (!isConnectionLoss(error)) throw error;
    logger.warning("connection_lost", "in_progress", {
      client_id: agency,
      unacknowledged_batches: this.#start?.window.size ?? 0,
      error: (error as Error).message,
    });
    this.#link?.close();
    this.#link = undefined;
    const nowMs = Date.now();
    if (error instanceof TransientRefusal) {
      this.#backoff.startClock(nowMs);
      if (this.#backoff.isPastBudget(nowMs)) {
        throw new UploadRefusal(
          `server kept refusing for ${this.#backoff.elapsedMs(nowMs)} ms: ${error.message}`,
        );
      }
    }
    const delayMs = this.#backoff.failed();
    if (delayMs > 0) await sleep(delayMs, signal);
  }
}
