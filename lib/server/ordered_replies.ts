/**
 * A connection's outgoing frames: replies leave in the order their requests
 * were read, whatever order they settle in, and the frames queued in one
 * event-loop turn share one write (the acks one group commit releases
 * settle in one turn and cost one syscall, not one each).
 */

import { concatBytes } from "../runtime/bytes.ts";
import { type ByteSink, writeAll } from "../runtime/write_all.ts";

/** Resolves after the microtasks of this turn: every reply a settled group
 * commit releases is queued by then. */
function _endOfTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Ordered, coalesced writes of frames to one sink. */
export class OrderedReplies {
  readonly #sink: ByteSink;
  /** Frames waiting for the next write. */
  readonly #outbox: Uint8Array[] = [];
  /** The last write started (or waiting for the end of the turn). */
  #sending: Promise<void> = Promise.resolve();
  /** The write the next frame joins, until it starts. */
  #flush: Promise<void> | undefined;
  /** The last reply handed to {@link send}. */
  #replied: Promise<void> = Promise.resolve();

  constructor(sink: ByteSink) {
    this.#sink = sink;
  }

  /**
   * Queues a reply behind every reply queued before it; it is sent once it
   * and they have settled. A reply that rejects, or whose write fails, is
   * dropped (the peer asks again on a new connection).
   */
  reply(frame: Uint8Array | Promise<Uint8Array>): void {
    // Two plain hops, no async function: this runs once per batch.
    this.#replied = this.#replied.then(() => frame).then((bytes) => {
      this.send(bytes).catch(() => {});
    }, () => {});
  }

  /**
   * Sends a frame behind the frames already handed over, without waiting
   * for replies still unsettled. It goes out at the end of this turn,
   * together with every frame queued meanwhile or while a write is under
   * way.
   * @returns once the write that carries it is done
   * @throws what the sink's write throws
   */
  send(frame: Uint8Array): Promise<void> {
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

  /** Resolves once every reply queued so far was handed to {@link send}. */
  replied(): Promise<void> {
    return this.#replied;
  }

  /**
   * Resolves once every reply queued so far is written.
   * @throws the last write's error
   */
  async written(): Promise<void> {
    await this.#replied;
    await this.#sending;
  }
}
