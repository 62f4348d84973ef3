/**
 * The server's own counters, in plain numbers, updated by one call per
 * frame, batch, connection or fdatasync (never per bet), and read by the
 * admin port (lib/admin/) for /metrics and the status page. What the store
 * and the server already know (bets per agency, finished agencies, open
 * connections, group commits) is read from them when asked, not counted here.
 */

import { ADMIN_REFUSALS_KEPT } from "../limits.ts";
import { errorCodeName, FRAME_HEADER_BYTES } from "../protocol/protocol.ts";
import { Histogram, type HistogramSnapshot } from "../runtime/histogram.ts";
import type { StoreFileKind, StoreObserver } from "../store/store_observer.ts";

/** Bucket bounds of the fdatasync histogram, in seconds: from a page-cache
 * hit (well under 1 ms) to a disk that stalls for seconds. */
const FSYNC_SECONDS_BOUNDS = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
] as const;

/** A refused batch or connection, as the status page lists it. */
export interface Refusal {
  /** When it was refused (epoch ms). */
  atMs: number;
  /** `batch` (a nack: the connection stays) or `connection` (an error frame, then closed). */
  kind: "batch" | "connection";
  /** The agency, 0 before hello. */
  agency: number;
  /** The error code's name, e.g. `invalidBet`. */
  code: string;
  /** The text sent with the refusal. */
  reason: string;
}

/** Counters of one server process since it started. */
export class ServerMetrics implements StoreObserver {
  #bytesReceived = 0;
  #framesReceived = 0;
  #batchesDuplicate = 0;
  #winnersAnswers = 0;
  #drawAtMs: number | undefined;
  readonly #batchesRefused = new Map<string, number>();
  readonly #connectionsRefused = new Map<string, number>();
  /** Per agency, its connections bound by a hello that are still open. */
  readonly #agencyConnections = new Map<number, number>();
  /** Per agency, the winner count of the last answer it was sent. */
  readonly #winnersTold = new Map<number, number>();
  /** Newest first, at most ADMIN_REFUSALS_KEPT. */
  readonly #refusals: Refusal[] = [];
  readonly #fsync: Record<StoreFileKind, Histogram> = {
    bets: new Histogram(FSYNC_SECONDS_BOUNDS),
    journal: new Histogram(FSYNC_SECONDS_BOUNDS),
  };
  /** Group-commit transactions of the PostgreSQL store, committed and failed. */
  readonly #transactions = {
    seconds: new Histogram(FSYNC_SECONDS_BOUNDS),
    committed: 0,
    failed: 0,
  };

  /** An agency frame of `bodyBytes` arrived (header counted too). */
  frameReceived(bodyBytes: number): void {
    this.#framesReceived += 1;
    this.#bytesReceived += FRAME_HEADER_BYTES + bodyBytes;
  }

  /** A hello bound a connection to `agency`. */
  agencyConnected(agency: number): void {
    this.#agencyConnections.set(agency, (this.#agencyConnections.get(agency) ?? 0) + 1);
  }

  /** A connection bound to `agency` ended. */
  agencyDisconnected(agency: number): void {
    const open = (this.#agencyConnections.get(agency) ?? 0) - 1;
    if (open > 0) this.#agencyConnections.set(agency, open);
    else this.#agencyConnections.delete(agency);
  }

  /** A re-sent batch was acknowledged again without being stored. */
  batchDuplicate(): void {
    this.#batchesDuplicate += 1;
  }

  /** A batch was refused with a nack carrying `code`. */
  batchRefused(agency: number, code: number, reason: string): void {
    this.#count(this.#batchesRefused, errorCodeName(code));
    this.#remember("batch", agency, code, reason);
  }

  /** A connection was refused: an error frame with `code`, then closed. */
  connectionRefused(agency: number, code: number, reason: string): void {
    this.#count(this.#connectionsRefused, errorCodeName(code));
    this.#remember("connection", agency, code, reason);
  }

  /** An agency was sent its winners answer of `count` documents. */
  winnersSent(agency: number, count: number): void {
    this.#winnersAnswers += 1;
    this.#winnersTold.set(agency, count);
  }

  /** The draw happened in this process, now. */
  drawMade(atMs: number = Date.now()): void {
    this.#drawAtMs ??= atMs;
  }

  /** {@link StoreObserver}: one fdatasync took `seconds`. */
  synced(file: StoreFileKind, seconds: number): void {
    this.#fsync[file].observe(seconds);
  }

  /** {@link StoreObserver}: one transaction took `seconds`. */
  transaction(seconds: number, committed: boolean): void {
    this.#transactions.seconds.observe(seconds);
    if (committed) this.#transactions.committed += 1;
    else this.#transactions.failed += 1;
  }

  /** Bytes of agency frames received, headers included. */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** Agency frames received. */
  get framesReceived(): number {
    return this.#framesReceived;
  }

  /** Re-sent batches acknowledged without storing them again. */
  get batchesDuplicate(): number {
    return this.#batchesDuplicate;
  }

  /** Winners answers sent. */
  get winnersAnswers(): number {
    return this.#winnersAnswers;
  }

  /** When the draw happened in this process (epoch ms); undefined before, or when it was restored. */
  get drawAtMs(): number | undefined {
    return this.#drawAtMs;
  }

  /** Refused batches by error code name. */
  batchesRefused(): ReadonlyMap<string, number> {
    return this.#batchesRefused;
  }

  /** Refused connections by error code name. */
  connectionsRefused(): ReadonlyMap<string, number> {
    return this.#connectionsRefused;
  }

  /** Open connections per agency (bound by hello). */
  agencyConnections(): ReadonlyMap<number, number> {
    return this.#agencyConnections;
  }

  /** Per agency, the winner count it was told. */
  winnersTold(): ReadonlyMap<number, number> {
    return this.#winnersTold;
  }

  /** The last refusals, newest first. */
  refusals(): readonly Refusal[] {
    return this.#refusals;
  }

  /** The fdatasync durations of one store file so far. */
  fsyncSeconds(file: StoreFileKind): HistogramSnapshot {
    return this.#fsync[file].snapshot();
  }

  /** The PostgreSQL store's transactions so far: how many of each outcome, and how long. */
  transactions(): { committed: number; failed: number; seconds: HistogramSnapshot } {
    const { committed, failed, seconds } = this.#transactions;
    return { committed, failed, seconds: seconds.snapshot() };
  }

  #count(counts: Map<string, number>, key: string): void {
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }

  #remember(kind: Refusal["kind"], agency: number, code: number, reason: string): void {
    this.#refusals.unshift({ atMs: Date.now(), kind, agency, code: errorCodeName(code), reason });
    if (this.#refusals.length > ADMIN_REFUSALS_KEPT) this.#refusals.length = ADMIN_REFUSALS_KEPT;
  }
}
