/**
 * Server replicas on one PostgreSQL database for fault trials: real server
 * processes with the same STORE_URL and DRAW_ID behind a round-robin proxy
 * (replica_proxy.ts), killed and restarted by index as a swarm would; and
 * the checks made on the database afterwards: every agency's bets stored
 * once at their positions, nothing else, the draw stamped, and the draw
 * logged as made by exactly one run.
 */

import assert from "node:assert/strict";
import type { Bet } from "../../../lib/bet/bet.ts";
import { parseCsvLine } from "../../../lib/bet/csv.ts";
import { formatStoreRow } from "../../../lib/bet/bet_csv.ts";
import {
  fieldOf,
  linesOf,
  type LocalServer,
  startLocalServer,
} from "../../../lib/dev/local_cluster.ts";
import { connectPostgres, type Sql } from "../../../lib/store/pg_client.ts";
import { type ReplicaProxy, startReplicaProxy } from "./replica_proxy.ts";

/** One process run of a replica. */
export interface ReplicaRun {
  /** Which replica slot it ran in. */
  index: number;
  server: LocalServer;
  /** When the test sent it SIGKILL (Date.now()), if it did. */
  killedAtMs: number | undefined;
}

/** Replicas of one draw on one database, behind one proxy. */
export class ReplicaSet {
  readonly #env: Record<string, string>;
  readonly #onLine: (index: number, line: string) => void;
  readonly #live: (ReplicaRun | undefined)[];
  /** Every run of every replica, in start order. */
  readonly runs: ReplicaRun[] = [];
  readonly proxy: ReplicaProxy;

  /**
   * @param env the servers' environment (STORE_URL, DRAW_ID, AGENCIES, …)
   * @param onLine told each output line of each run, with its replica index
   */
  constructor(
    env: Record<string, string>,
    replicas: number,
    onLine: (index: number, line: string) => void = () => {},
  ) {
    this.#env = env;
    this.#onLine = onLine;
    this.#live = Array.from({ length: replicas }, () => undefined);
    this.proxy = startReplicaProxy(replicas);
  }

  /** How many replica slots. */
  get size(): number {
    return this.#live.length;
  }

  /** The live run of replica `index`, if it is up. */
  live(index: number): ReplicaRun | undefined {
    return this.#live[index];
  }

  /** Indexes of the replicas that are up. */
  liveIndexes(): number[] {
    return this.#live.flatMap((run, index) => run === undefined ? [] : [index]);
  }

  /** Starts replica `index` (again) and routes to it once it listens. */
  async start(index: number): Promise<ReplicaRun> {
    if (this.#live[index] !== undefined) throw new Error(`replica ${index} is running`);
    const server = await startLocalServer(
      { ...this.#env, SERVER_PORT: "0", ADMIN_PORT: "off" },
      (line) => this.#onLine(index, line),
    );
    const run: ReplicaRun = { index, server, killedAtMs: undefined };
    this.runs.push(run);
    this.#live[index] = run;
    this.proxy.setReplica(index, server.port);
    return run;
  }

  /** Starts every replica at once. */
  async startAll(): Promise<void> {
    await Promise.all(this.#live.map((_, index) => this.start(index)));
  }

  /** SIGKILLs replica `index` and waits for its exit; no-op when it is down. */
  async kill(index: number): Promise<void> {
    const run = this.#live[index];
    if (run === undefined) return;
    this.#live[index] = undefined;
    this.proxy.setReplica(index, undefined);
    run.killedAtMs = Date.now();
    try {
      run.server.process.kill("SIGKILL");
    } catch {
      // It exited by itself.
    }
    await run.server.exited;
  }

  /**
   * Stops every live replica with SIGTERM and the proxy.
   * @returns each live run's exit code
   */
  async stop(): Promise<number[]> {
    const live = this.#live.filter((run) => run !== undefined);
    this.#live.fill(undefined);
    const codes = await Promise.all(live.map((run) => run.server.stop()));
    await this.proxy.close();
    return codes;
  }

  /** Kills whatever still runs (cleanup after a failed trial). */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.#live.map((_, index) => this.kill(index)));
    await this.proxy.close();
  }
}

/** A pool on the trial's database for the checks (closed with `end`). */
export function checkerSql(url: string): Promise<Sql> {
  return connectPostgres(url);
}

/** Every stored bet of the draw, as its CSV row, by agency in position order. */
async function _storedRows(sql: Sql, drawId: string): Promise<Map<number, string[]>> {
  const rows = await sql`
    SELECT agency, position, row FROM lottery.bets
    WHERE draw_id = ${drawId} ORDER BY agency, position`;
  const byAgency = new Map<number, string[]>();
  for (const row of rows) {
    const agency = Number(row.agency);
    let list = byAgency.get(agency);
    if (list === undefined) byAgency.set(agency, list = []);
    assert.equal(
      Number(row.position),
      list.length,
      `agency ${agency}: stored positions run 0, 1, 2, … without gap or repeat`,
    );
    list.push(row.row);
  }
  return byAgency;
}

/**
 * Asserts that the database holds exactly `bets` for the draw: each
 * agency's bets in file order at positions 0..n-1, once, and nothing for
 * any other agency.
 * @param bets every bet of every file, in file order per agency
 * @returns the number of bets compared
 */
export async function assertDatabaseHoldsExactly(
  sql: Sql,
  drawId: string,
  bets: readonly Bet[],
): Promise<number> {
  const stored = await _storedRows(sql, drawId);
  const expected = new Map<number, string[]>();
  for (const bet of bets) {
    let list = expected.get(bet.agency);
    if (list === undefined) expected.set(bet.agency, list = []);
    // The row as the file store writes it, without its newline (the view splits on it).
    list.push(formatStoreRow(bet).slice(0, -1));
  }
  const counts = (map: Map<number, string[]>) =>
    [...map].map(([agency, list]) => [agency, list.length]).sort((a, b) => a[0]! - b[0]!);
  assert.deepEqual(counts(stored), counts(expected), "bets stored per agency vs its file");
  for (const [agency, want] of expected) {
    const have = stored.get(agency)!;
    const first = want.findIndex((row, index) => row !== have[index]);
    assert.equal(
      first,
      -1,
      `agency ${agency}: stored bet at position ${first} differs from its file`,
    );
  }
  return bets.length;
}

/** Stored batches of the draw. */
export async function countBatches(sql: Sql, drawId: string): Promise<number> {
  const [row] = await sql`
    SELECT count(*)::int AS batches FROM lottery.batches WHERE draw_id = ${drawId}`;
  return row!.batches;
}

/** When the draw was stamped, or undefined while it is not. */
export async function drawnAt(sql: Sql, drawId: string): Promise<Date | undefined> {
  const [row] = await sql`SELECT drawn_at FROM lottery.draws WHERE draw_id = ${drawId}`;
  return row?.drawn_at ?? undefined;
}

/**
 * The (agency, document, number) of every bet `lines` logged as
 * acknowledged (the client's DEBUG `apuesta_enviada` lines), with counts.
 */
export function acknowledgedBets(agency: number, lines: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of linesOf(lines, "apuesta_enviada")) {
    const key = `${agency},${fieldOf(line, "dni")},${fieldOf(line, "numero")}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * Asserts that every acknowledged bet is in the database (as often as it
 * was acknowledged, at most).
 * @param acknowledged per agency, from {@link acknowledgedBets}
 * @returns how many acknowledged bets were checked
 */
export async function assertAcknowledgedStored(
  sql: Sql,
  drawId: string,
  acknowledged: ReadonlyMap<string, number>,
): Promise<number> {
  const rows = await sql`SELECT row FROM lottery.bets WHERE draw_id = ${drawId}`;
  const stored = new Map<string, number>();
  for (const { row } of rows) {
    const [agency, , , document, , number] = parseCsvLine(row);
    const key = `${agency},${document},${number}`;
    stored.set(key, (stored.get(key) ?? 0) + 1);
  }
  const missing: string[] = [];
  let checked = 0;
  for (const [key, count] of acknowledged) {
    checked += count;
    const found = stored.get(key) ?? 0;
    if (found < count) missing.push(`${key}: acknowledged ${count}, stored ${found}`);
  }
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} acknowledged bets are not stored`);
  return checked;
}

/**
 * Asserts that the draw was made once over every run: each run logged at
 * most one `sorteo`, and over all runs exactly one says it made the draw
 * (`restored: false` and no `made_by`); none only when a fault struck
 * after the draw's transaction began (a run SIGKILLed, or the database
 * stopped, between its commit and the maker hearing of it).
 * @param drawnAtMs when the database stamped the draw
 * @param faultsAtMs when faults other than the runs' kills struck
 * @returns how many runs logged making it (1, or 0 as above)
 */
export function assertDrawLoggedOnce(
  runs: readonly ReplicaRun[],
  drawnAtMs: number,
  faultsAtMs: readonly number[] = [],
): number {
  const makers: number[] = [];
  for (const [order, run] of runs.entries()) {
    const sorteos = linesOf(run.server.lines, "sorteo");
    assert.ok(
      sorteos.length <= 1,
      `run ${order} (replica ${run.index}) logged ${sorteos.length} sorteo lines`,
    );
    const made = sorteos.filter((line) =>
      fieldOf(line, "restored") === "false" && fieldOf(line, "made_by") === undefined
    );
    if (made.length > 0) makers.push(order);
  }
  if (makers.length === 0) {
    const faults = [...runs.map((run) => run.killedAtMs ?? -Infinity), ...faultsAtMs];
    assert.ok(
      faults.some((atMs) => atMs >= drawnAtMs),
      "no run logged making the draw, and no fault struck after it was stamped",
    );
    return 0;
  }
  assert.equal(makers.length, 1, `runs that logged making the draw: ${makers.join(", ")}`);
  return 1;
}

/** Lines of every run of a set with `action` and `result`. */
export function countRunLines(
  runs: readonly ReplicaRun[],
  action: string,
  result = "success",
): number {
  return runs.reduce((sum, run) => sum + linesOf(run.server.lines, action, result).length, 0);
}
