/**
 * The lottery's shared state across connections: which agencies finished,
 * whether the draw happened, and the winners queries waiting for it.
 *
 * Deno runs every connection handler on one thread, so this state needs no
 * lock; what must be serialized (disk writes) goes through the store's single
 * writer, and waiting queries park in one set that the draw releases at once
 * (and a shutdown fails at once): no listener per query on shared signals.
 */

import type { Bet } from "./bet.ts";
import type { AppendResult, BetStore } from "./bet_store.ts";
import type { StoreRows } from "./store_rows.ts";
import type { WinnersAnswer } from "./winners_index.ts";
import { ErrorCode, ProtocolError } from "./protocol.ts";

/** Called once when the draw happens. */
export type DrawListener = () => void;

/** Draw coordination on top of a store. */
export class Lottery {
  readonly #store: BetStore;
  readonly #agencies: number;
  readonly #onDraw: DrawListener;
  #drawn = false;
  #stopped = false;
  /** Winners queries waiting for the draw. */
  readonly #waiting = new Set<PromiseWithResolvers<void>>();

  /**
   * @param store the opened store (its restored state counts)
   * @param agencies how many agencies must finish before the draw
   * @param onDraw called once, when the draw happens in this process
   */
  constructor(store: BetStore, agencies: number, onDraw: DrawListener) {
    this.#store = store;
    this.#agencies = agencies;
    this.#onDraw = onDraw;
    this.#drawn = store.finishedAgencies().size >= agencies;
  }

  /** How many agencies take part. */
  get agencies(): number {
    return this.#agencies;
  }

  /** The store's backpressure: see {@link BetStore.room}. */
  storeRoom(): Promise<void> | undefined {
    return this.#store.room();
  }

  /** Highest sequence stored for an agency, 0 when none. */
  lastSequence(agency: number): number {
    return this.#store.lastSequence(agency);
  }

  /** Bets stored for an agency. */
  betCount(agency: number): number {
    return this.#store.betCount(agency);
  }

  /** True once every agency finished and the draw was made. */
  get drawn(): boolean {
    return this.#drawn;
  }

  /**
   * Stores a batch of an agency's bets exactly once.
   * @throws {ProtocolError} drawClosed when the draw already happened, or
   *   alreadyFinished when the agency declared itself finished
   */
  async storeBatch(
    agency: number,
    sequence: number,
    bets: readonly Bet[] | StoreRows,
  ): Promise<AppendResult> {
    if (sequence <= this.#store.lastSequence(agency)) {
      return { duplicate: true };
    }
    if (this.#drawn) {
      throw new ProtocolError(
        ErrorCode.drawClosed,
        "the draw already happened: no more bets",
      );
    }
    if (this.#store.finishedAgencies().has(agency)) {
      throw new ProtocolError(
        ErrorCode.alreadyFinished,
        `agency ${agency} already finished: no more bets`,
      );
    }
    return await this.#store.append(agency, sequence, bets);
  }

  /**
   * Records that an agency finished; makes the draw when it is the last one.
   * @param total bets the agency says it sent
   * @param onRecorded called once the record is durable, before any draw
   * @throws {ProtocolError} countMismatch when `total` differs from the bets stored
   */
  async finish(agency: number, total: number, onRecorded: () => void = () => {}): Promise<void> {
    const finishedTotal = this.#store.finishedAgencies().get(agency);
    const stored = this.#store.betCount(agency);
    if (finishedTotal === undefined && total !== stored) {
      throw new ProtocolError(
        ErrorCode.countMismatch,
        `agency ${agency} declares ${total} bets but ${stored} are stored`,
      );
    }
    if (finishedTotal !== undefined && finishedTotal !== total) {
      throw new ProtocolError(
        ErrorCode.countMismatch,
        `agency ${agency} finished with ${finishedTotal} bets, now declares ${total}`,
      );
    }
    await this.#store.markFinished(agency, total);
    onRecorded();
    if (!this.#drawn && this.#store.finishedAgencies().size >= this.#agencies) {
      this.#drawn = true;
      this.#onDraw();
      for (const waiter of this.#waiting) waiter.resolve();
      this.#waiting.clear();
    }
  }

  /**
   * Answers an agency's winners, waiting for the draw if needed.
   * @param signal aborts the wait (the peer left)
   * @returns the winners answer: the documents of the agency's winning bets
   * @throws the signal's reason when it aborts before the draw
   * @throws {ProtocolError} shuttingDown when {@link stopWaiting} comes first
   */
  async winners(agency: number, signal: AbortSignal): Promise<WinnersAnswer> {
    if (!this.#drawn) await this.#waitForDraw(signal);
    return this.#store.winners(agency);
  }

  /**
   * Fails every winners query waiting for the draw, and every later one
   * before it, with shuttingDown (server shutdown). Safe to call twice.
   */
  stopWaiting(): void {
    this.#stopped = true;
    for (const waiter of this.#waiting) waiter.reject(_shuttingDown());
    this.#waiting.clear();
  }

  async #waitForDraw(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.#stopped) throw _shuttingDown();
    const waiter = Promise.withResolvers<void>();
    const onAbort = () => {
      this.#waiting.delete(waiter);
      waiter.reject(signal.reason);
    };
    this.#waiting.add(waiter);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await waiter.promise;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}

function _shuttingDown(): ProtocolError {
  return new ProtocolError(ErrorCode.shuttingDown, "server shutting down before the draw");
}
