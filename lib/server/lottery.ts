/**
 * The lottery's shared state across connections: which agencies finished,
 * whether the draw happened, and the winners queries waiting for it.
 *
 * Deno runs every connection handler on one thread, so this state needs no
 * lock; what must be serialized (disk writes) goes through the store's single
 * writer, and waiting queries park in one set that the draw releases at once
 * (and a shutdown fails at once): no listener per query on shared signals.
 *
 * The queries the draw releases are answered as one fan-out: each returns
 * only once all of them were sent. What follows an answer (the agency closes,
 * the server reads the end and closes its side, tens of µs each on loopback)
 * then never runs between two answers. Deno completes at most 128 socket
 * operations per event-loop turn (tokio's cooperative budget: answers go out
 * in steps of 128), so with 1,000 agencies the answers span several turns,
 * which the teardown of the first ones would otherwise slow down.
 */

import { type AppendResult, type BetLedger, MisplacedBatchError } from "../store/bet_ledger.ts";
import type { StoreRows } from "../store/store_rows.ts";
import type { WinnersAnswer } from "../store/winners_index.ts";
import { ErrorCode, ProtocolError } from "../protocol/protocol.ts";

/** Called once per process for the draw: when it happens, or at start
 * (`restored`) when the restored store had every agency finished already;
 * `elsewhere` when another process on the same store recorded the last
 * finish. */
export type DrawListener = (restored: boolean, elsewhere: boolean) => void;

/** Sends an agency its winners answer; rejects when it could not. */
export type WinnersSender = (answer: WinnersAnswer) => Promise<void>;

/** Draw coordination on top of any BetLedger. */
export class Lottery {
  readonly #store: BetLedger;
  readonly #drawId: string;
  readonly #agencies: number;
  readonly #onDraw: DrawListener;
  #drawn = false;
  #stopped = false;
  /** Finishes of this process not yet durable and reported (onRecorded):
   * one group commit makes several durable at once, and the draw must come
   * after each of them is reported, not after the first. */
  #unreported = 0;
  /** Winners queries waiting for the draw. */
  readonly #waiting = new Set<PromiseWithResolvers<void>>();
  /** Answers the draw released that are not sent yet (nor failed). */
  #fanOutPending = 0;
  /** Resolves once #fanOutPending is back to 0 after the draw. */
  readonly #fanOutDone = Promise.withResolvers<void>();

  /**
   * @param store the opened store of draw `drawId` (its restored state counts)
   * @param agencies how many agencies must finish before the draw
   * @param onDraw called once: from here when the restored store is drawn
   *   already, else when the draw happens
   */
  constructor(store: BetLedger, drawId: string, agencies: number, onDraw: DrawListener) {
    this.#store = store;
    this.#drawId = drawId;
    this.#agencies = agencies;
    this.#onDraw = onDraw;
    this.#drawn = store.finishedAgencies().size >= agencies;
    if (this.#drawn) onDraw(true, false);
    store.watch({ finishesChanged: () => this.#drawIfComplete(true) });
  }

  /** The draw this lottery's store belongs to. */
  get drawId(): string {
    return this.#drawId;
  }

  /** How many agencies take part. */
  get agencies(): number {
    return this.#agencies;
  }

  /**
   * Stores a batch of an agency's bets exactly once, by position (see
   * {@link BetLedger.append}), while the draw takes it.
   * @param first position of the batch's first bet in the agency's upload
   * @throws {ProtocolError} positionMismatch when the batch neither starts
   *   where the agency's bets end nor repeats a stored batch; drawClosed when
   *   the draw already happened; alreadyFinished when the agency finished
   */
  storeBatch(agency: number, first: number, rows: StoreRows): Promise<AppendResult> {
    return this.#store.append(agency, first, rows, this.#admit).catch(_positionMismatch);
  }

  /** Whether a batch placed next may be stored: not after the draw, nor
   * after its agency finished. */
  readonly #admit = (agency: number): ProtocolError | undefined => {
    if (this.#drawn) {
      return new ProtocolError(ErrorCode.drawClosed, "the draw already happened: no more bets");
    }
    if (this.#store.finishedAgencies().has(agency)) {
      return new ProtocolError(
        ErrorCode.alreadyFinished,
        `agency ${agency} already finished: no more bets`,
      );
    }
    return undefined;
  };

  /**
   * Records that an agency finished; makes the draw when it is the last one.
   * @param total bets the agency says it sent
   * @param onRecorded called once the record is durable, before any draw
   * @throws {ProtocolError} countMismatch when `total` differs from the bets stored
   */
  async finish(agency: number, total: number, onRecorded: () => void = () => {}): Promise<void> {
    const finishedTotal = this.#store.finishedAgencies().get(agency);
    const stored = this.#store.storedBets(agency);
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
    this.#unreported += 1;
    try {
      await this.#store.markFinished(agency, total);
      onRecorded();
    } finally {
      this.#unreported -= 1;
      this.#drawIfComplete(false);
    }
  }

  /** Makes the draw once every agency's finish is durable and reported. */
  #drawIfComplete(elsewhere: boolean): void {
    if (this.#drawn || this.#unreported > 0) return;
    if (this.#store.finishedAgencies().size < this.#agencies) return;
    this.#drawn = true;
    this.#onDraw(false, elsewhere);
    this.#fanOutPending = this.#waiting.size;
    if (this.#fanOutPending === 0) this.#fanOutDone.resolve();
    for (const waiter of this.#waiting) waiter.resolve();
    this.#waiting.clear();
  }

  /**
   * Sends an agency its winners with `send`, waiting for the draw if needed.
   * A query the draw released returns once every query it released was sent
   * or failed (see the module's note on the fan-out); `send` failing returns
   * at once.
   * @param signal aborts the wait (the peer left)
   * @returns the answer sent: the documents of the agency's winning bets
   * @throws the signal's reason when it aborts before the draw
   * @throws {ProtocolError} shuttingDown when {@link stopWaiting} comes first
   * @throws what `send` throws
   */
  async answerWinners(
    agency: number,
    signal: AbortSignal,
    send: WinnersSender,
  ): Promise<WinnersAnswer> {
    const released = !this.#drawn;
    if (released) await this.#waitForDraw(signal);
    const answer = this.#store.winners(agency);
    try {
      await send(answer);
    } finally {
      if (released) this.#fanOutSettled();
    }
    if (released) await this.#fanOutDone.promise;
    return answer;
  }

  #fanOutSettled(): void {
    this.#fanOutPending -= 1;
    if (this.#fanOutPending === 0) this.#fanOutDone.resolve();
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

/** A misplaced batch as the agency is told about it; other errors as they are. */
function _positionMismatch(error: unknown): never {
  if (!(error instanceof MisplacedBatchError)) throw error;
  throw new ProtocolError(
    ErrorCode.positionMismatch,
    `batch of ${error.count} bets at position ${error.first} does not start where agency ${error.agency}'s bets end: ${error.expected} expected`,
    { first: error.first, betIndex: 0, field: "" },
  );
}

function _shuttingDown(): ProtocolError {
  return new ProtocolError(ErrorCode.shuttingDown, "server shutting down before the draw");
}
