/**
 * The benchmark's scenarios at full size and at the sizes of the seconds-long
 * `--quick` smoke run.
 */

/** Scenario names, as given to `--scenario`. */
export const SCENARIO_IDS = ["a", "b", "c", "d", "e"] as const;
export type ScenarioId = typeof SCENARIO_IDS[number];

/** One workload. */
export interface Scenario {
  id: ScenarioId;
  title: string;
  agencies: number;
  betsPerAgency: number;
  /** `clients`: one client.ts process per agency; `load`: load_generator.ts processes. */
  driver: "clients" | "load";
  /** Load generator processes (driver `load`), each with a share of the agencies. */
  loadProcesses: number;
  /** Agencies each load generator uploads at once. */
  loadConcurrency: number;
  /** Load generators connect (and say hello) all their agencies before any
   * uploads: every agency of the scenario is connected at once. */
  connectFirst: boolean;
  /** Agency files given with `--dataset` instead of generated ones, and
   * their bets in all (the files may differ in size). */
  dataset?: { dir: string; bets: number };
}

/** Rows of the ~1 GB file of scenario (d): the generator averages about 41 bytes a row. */
export const LARGE_FILE_BETS = 24_500_000;

/** Frame sizes (batch.maxAmount) of the sweep run on scenario (a)'s data. */
export const FRAME_SWEEP_MAX_AMOUNTS = [25, 50, 100, 180] as const;

/** Agencies a load generator uploads at once unless the scenario says otherwise. */
const _LOAD_CONCURRENCY = 50;

/** Load generator processes of (e): 2,500 agencies (and descriptors) each. */
const _E_LOAD_PROCESSES = 4;

/**
 * The scenarios at full or quick size.
 * @param quick tiny sizes for the smoke run
 */
export function scenarioTable(quick: boolean): Record<ScenarioId, Scenario> {
  const clients = {
    driver: "clients",
    loadProcesses: 0,
    loadConcurrency: 0,
    connectFirst: false,
  } as const;
  const load = {
    driver: "load",
    loadProcesses: 2,
    loadConcurrency: _LOAD_CONCURRENCY,
    connectFirst: false,
  } as const;
  return {
    a: {
      id: "a",
      title: "exercise size",
      agencies: 5,
      betsPerAgency: quick ? 400 : 16_000,
      ...clients,
    },
    b: {
      id: "b",
      title: "5 agencies x 1M bets",
      agencies: 5,
      betsPerAgency: quick ? 4_000 : 1_000_000,
      ...clients,
    },
    c: {
      id: "c",
      title: "many agencies (load generator)",
      agencies: quick ? 40 : 1_000,
      betsPerAgency: quick ? 200 : 5_000,
      ...load,
    },
    d: {
      id: "d",
      title: "one ~1 GB agency file",
      agencies: 1,
      betsPerAgency: quick ? 20_000 : LARGE_FILE_BETS,
      ...clients,
    },
    e: {
      id: "e",
      title: "10,000 agencies connected at once (load generator)",
      agencies: quick ? 200 : 10_000,
      betsPerAgency: quick ? 50 : 500,
      driver: "load",
      loadProcesses: _E_LOAD_PROCESSES,
      loadConcurrency: _LOAD_CONCURRENCY,
      connectFirst: true,
    },
  };
}

/** Bets a scenario moves in total. */
export function totalBets(scenario: Scenario): number {
  return scenario.dataset?.bets ?? scenario.agencies * scenario.betsPerAgency;
}
