/**
 * What the admin port knows about the central, and the status it shows:
 * one snapshot type for the page's pushes and /api/status, built from the
 * store, the server and the metrics without touching their hot paths.
 */

import { ADMIN_HISTORY_SAMPLES_MAX, ADMIN_PAGE_ROWS_MAX } from "../limits.ts";
import type { Central } from "../server/central.ts";
import type { Refusal, ServerMetrics } from "../server/server_metrics.ts";
import { type ThroughputPoint, ThroughputSampler } from "./throughput_sampler.ts";

/** What the status reads from a restored central. */
export interface CentralReader {
  /** Agencies taking part (AGENCIES). */
  readonly agencies: number;
  /** The draw (DRAW_ID) the store belongs to. */
  readonly drawId: string;
  /** Where the bets are kept: the draw's bets file, or the database (no password). */
  readonly storage: string;
  /** Resolves while the store can take writes; rejects saying why not. */
  storeHealth(): Promise<void>;
  betCount(agency: number): number;
  /** Finished agencies with the total each declared. */
  finishedAgencies(): ReadonlyMap<number, number>;
  connectionsOpen(): number;
  /** Bytes of rows waiting for the disk. */
  queuedBytes(): number;
  /** Group commits and the batches they wrote since the start. */
  syncStats(): { syncs: number; batches: number };
}

/** A {@link CentralReader} over a real central. */
export function readerOf(central: Central): CentralReader {
  return {
    agencies: central.lottery.agencies,
    drawId: central.lottery.drawId,
    storage: central.storage,
    storeHealth: () => central.store.health(),
    betCount: (agency) => central.store.storedBets(agency),
    finishedAgencies: () => central.store.finishedAgencies(),
    connectionsOpen: () => central.server.connectionCount,
    queuedBytes: () => central.store.queuedBytes,
    syncStats: () => central.store.syncStats(),
  };
}

/** Where the process is in its life, as /readyz and the page say it. */
export type Phase = "restoring" | "starting" | "ready" | "shutting_down";

/** The central as the admin port sees it; server.ts moves it along. */
export class AdminState {
  readonly startedAtMs: number;
  readonly metrics: ServerMetrics;
  #reader: CentralReader | undefined;
  #sampler: ThroughputSampler | undefined;
  #lotteryPort: number | undefined;
  #shuttingDown = false;

  /**
   * @param metrics the counters the server updates
   * @param startedAtMs when the process started (epoch ms)
   */
  constructor(metrics: ServerMetrics, startedAtMs: number) {
    this.metrics = metrics;
    this.startedAtMs = startedAtMs;
  }

  /** The store is restored: the status reads `reader` from now on. */
  attach(reader: CentralReader): void {
    this.#reader = reader;
    this.#sampler = new ThroughputSampler(reader.agencies, ADMIN_HISTORY_SAMPLES_MAX);
    this.#sampler.sample(Date.now(), reader.betCount);
  }

  /** The lottery port listens on `port`. */
  lotteryListening(port: number): void {
    this.#lotteryPort = port;
  }

  /** Shutdown began: not ready any more. */
  shuttingDown(): void {
    this.#shuttingDown = true;
  }

  /** Takes a throughput sample (the admin server's timer calls it). */
  sample(atMs: number): void {
    if (this.#reader !== undefined) this.#sampler?.sample(atMs, this.#reader.betCount);
  }

  get phase(): Phase {
    if (this.#shuttingDown) return "shutting_down";
    if (this.#reader === undefined) return "restoring";
    return this.#lotteryPort === undefined ? "starting" : "ready";
  }

  get reader(): CentralReader | undefined {
    return this.#reader;
  }

  get sampler(): ThroughputSampler | undefined {
    return this.#sampler;
  }

  get lotteryPort(): number | undefined {
    return this.#lotteryPort;
  }
}

/** Which agency rows a snapshot carries. */
export interface RowsView {
  /** `number`: agencies from `offset` on; `slowest`: unfinished first, fewest bets first. */
  order: "number" | "slowest";
  /** First row (0-based) of `number` order. */
  offset: number;
  /** Most rows carried. */
  limit: number;
}

/** One agency's row. */
export interface AgencyRow {
  agency: number;
  /** Open connections bound to it. */
  connections: number;
  bets: number;
  /** Bets per second over the last sampling interval. */
  ratePerS: number;
  finished: boolean;
  /** Winners it was told; null until its answer was sent. */
  winners: number | null;
}

/** The status of the central at one moment (the page's push and /api/status). */
export interface StatusSnapshot {
  at: string;
  phase: Phase;
  startedAt: string;
  lotteryPort: number | null;
  draw: {
    /** DRAW_ID; null before the store is restored. */
    id: string | null;
    /** Where the bets are kept (see {@link CentralReader.storage}); null before the store is restored. */
    storage: string | null;
    state: "open" | "drawn" | "unknown";
    /** When the draw happened in this process; null before, or when restored drawn. */
    at: string | null;
    agencies: number;
    finished: number;
  };
  totals: {
    bets: number;
    ratePerS: number;
    agenciesConnected: number;
    connectionsOpen: number;
    /** Winners told so far, all agencies; null before any answer. */
    winners: number | null;
    batchesStored: number;
    groupCommits: number;
    batchesDuplicate: number;
    batchesRefused: number;
    connectionsRefused: number;
    bytesReceived: number;
    queuedBytes: number;
  };
  rows: {
    order: RowsView["order"];
    offset: number;
    /** Agencies in all; rows holds at most ADMIN_PAGE_ROWS_MAX of them. */
    total: number;
    items: AgencyRow[];
  };
  history: { intervalMs: number; points: readonly ThroughputPoint[] };
  refusals: (Omit<Refusal, "atMs"> & { at: string })[];
  memory: { rssBytes: number; heapUsedBytes: number };
}

function _whole(text: string | null, fallback: number, max: number): number {
  const value = Number(text ?? "");
  if (text === null || text === "" || !Number.isSafeInteger(value) || value < 0) return fallback;
  return Math.min(value, max);
}

/**
 * Reads a rows view from query parameters `order`, `offset` and `limit`
 * (unknown or bad values fall back to the first page by number).
 * @param limitMax the largest `limit` accepted; larger ones are cut to it
 * @example parseRowsView(new URLSearchParams("order=slowest"), 50)
 * // { order: "slowest", offset: 0, limit: 50 }
 */
export function parseRowsView(params: URLSearchParams, limitMax: number): RowsView {
  return {
    order: params.get("order") === "slowest" ? "slowest" : "number",
    offset: _whole(params.get("offset"), 0, Number.MAX_SAFE_INTEGER),
    limit: _whole(params.get("limit"), Math.min(ADMIN_PAGE_ROWS_MAX, limitMax), limitMax),
  };
}

function _sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

/** Bets stored in all, now. */
export function totalBets(reader: CentralReader): number {
  let total = 0;
  for (let agency = 1; agency <= reader.agencies; agency += 1) total += reader.betCount(agency);
  return total;
}

function _row(state: AdminState, reader: CentralReader, agency: number): AgencyRow {
  return {
    agency,
    connections: state.metrics.agencyConnections().get(agency) ?? 0,
    bets: reader.betCount(agency),
    ratePerS: state.sampler?.rate(agency) ?? 0,
    finished: reader.finishedAgencies().has(agency),
    winners: state.metrics.winnersTold().get(agency) ?? null,
  };
}

/**
 * The agency rows of one view: at most `view.limit`, by number from
 * `view.offset` on, or the slowest (unfinished first, then fewest bets, then
 * lowest number).
 */
export function selectRows(
  state: AdminState,
  reader: CentralReader,
  view: RowsView,
): AgencyRow[] {
  const limit = view.limit;
  if (view.order === "number") {
    const rows: AgencyRow[] = [];
    const last = Math.min(reader.agencies, view.offset + limit);
    for (let agency = view.offset + 1; agency <= last; agency += 1) {
      rows.push(_row(state, reader, agency));
    }
    return rows;
  }
  const all: AgencyRow[] = [];
  for (let agency = 1; agency <= reader.agencies; agency += 1) {
    all.push(_row(state, reader, agency));
  }
  all.sort((a, b) =>
    Number(a.finished) - Number(b.finished) || a.bets - b.bets || a.agency - b.agency
  );
  return all.slice(0, limit);
}

/**
 * The status now.
 * @param view which agency rows to include
 * @param memory the process's memory, e.g. `Deno.memoryUsage()`
 */
export function statusSnapshot(
  state: AdminState,
  view: RowsView,
  intervalMs: number,
  nowMs: number,
  memory: { rss: number; heapUsed: number },
): StatusSnapshot {
  const { metrics } = state;
  const reader = state.reader;
  const finished = reader?.finishedAgencies().size ?? 0;
  const agencies = reader?.agencies ?? 0;
  const drawn = reader !== undefined && finished >= agencies;
  const stats = reader?.syncStats() ?? { syncs: 0, batches: 0 };
  const told = metrics.winnersTold();
  return {
    at: new Date(nowMs).toISOString(),
    phase: state.phase,
    startedAt: new Date(state.startedAtMs).toISOString(),
    lotteryPort: state.lotteryPort ?? null,
    draw: {
      id: reader?.drawId ?? null,
      storage: reader?.storage ?? null,
      state: reader === undefined ? "unknown" : drawn ? "drawn" : "open",
      at: metrics.drawAtMs === undefined ? null : new Date(metrics.drawAtMs).toISOString(),
      agencies,
      finished,
    },
    totals: {
      bets: reader === undefined ? 0 : totalBets(reader),
      ratePerS: state.sampler?.totalRate ?? 0,
      agenciesConnected: metrics.agencyConnections().size,
      connectionsOpen: reader?.connectionsOpen() ?? 0,
      winners: told.size === 0 ? null : _sum(told.values()),
      batchesStored: stats.batches,
      groupCommits: stats.syncs,
      batchesDuplicate: metrics.batchesDuplicate,
      batchesRefused: _sum(metrics.batchesRefused().values()),
      connectionsRefused: _sum(metrics.connectionsRefused().values()),
      bytesReceived: metrics.bytesReceived,
      queuedBytes: reader?.queuedBytes() ?? 0,
    },
    rows: {
      order: view.order,
      offset: view.order === "number" ? view.offset : 0,
      total: agencies,
      items: reader === undefined ? [] : selectRows(state, reader, view),
    },
    history: { intervalMs, points: state.sampler?.history() ?? [] },
    refusals: metrics.refusals().map(({ atMs, ...refusal }) => ({
      ...refusal,
      at: new Date(atMs).toISOString(),
    })),
    memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
  };
}
