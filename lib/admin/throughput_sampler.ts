/**
 * Upload rates from periodic samples of the bets stored: per agency (the
 * status page's rate column) and in total, with a bounded history of the
 * total rate for the throughput chart.
 */

/** One point of the chart: when (epoch ms) and the total rate since the sample before. */
export type ThroughputPoint = readonly [atMs: number, betsPerS: number];

/** Rates between consecutive samples of the bets stored per agency. */
export class ThroughputSampler {
  readonly #agencies: number;
  readonly #historyMax: number;
  readonly #lastBets: Float64Array;
  readonly #rates: Float64Array;
  readonly #history: ThroughputPoint[] = [];
  #lastAtMs: number | undefined;
  #totalBets = 0;
  #totalRate = 0;

  /**
   * @param agencies agencies 1..agencies are sampled
   * @param historyMax points kept for the chart; older ones are dropped
   * @throws {RangeError} when either is not a whole number of at least 1
   */
  constructor(agencies: number, historyMax: number) {
    for (const [name, value] of [["agencies", agencies], ["historyMax", historyMax]] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(
          `Cannot sample throughput: ${name} ${value} is not a whole number >= 1`,
        );
      }
    }
    this.#agencies = agencies;
    this.#historyMax = historyMax;
    this.#lastBets = new Float64Array(agencies + 1);
    this.#rates = new Float64Array(agencies + 1);
  }

  /**
   * Reads every agency's bets stored. The first sample sets the baseline
   * (bets restored from disk are not an upload); each later one sets the
   * rates since the one before and adds a point to the history.
   * @param atMs the sample's time (epoch ms); a sample not after the last one is ignored
   * @param betCount bets stored for an agency now
   */
  sample(atMs: number, betCount: (agency: number) => number): void {
    const first = this.#lastAtMs === undefined;
    if (!first && atMs <= this.#lastAtMs!) return;
    const seconds = first ? 0 : (atMs - this.#lastAtMs!) / 1000;
    let total = 0;
    for (let agency = 1; agency <= this.#agencies; agency += 1) {
      const bets = betCount(agency);
      total += bets;
      this.#rates[agency] = first ? 0 : (bets - this.#lastBets[agency]!) / seconds;
      this.#lastBets[agency] = bets;
    }
    this.#totalRate = first ? 0 : (total - this.#totalBets) / seconds;
    this.#totalBets = total;
    this.#lastAtMs = atMs;
    if (first) return;
    this.#history.push([atMs, this.#totalRate]);
    if (this.#history.length > this.#historyMax) this.#history.shift();
  }

  /** An agency's bets per second between the last two samples; 0 outside 1..agencies. */
  rate(agency: number): number {
    return agency >= 1 && agency <= this.#agencies ? this.#rates[agency]! : 0;
  }

  /** Bets stored in all, at the last sample. */
  get totalBets(): number {
    return this.#totalBets;
  }

  /** All agencies' bets per second between the last two samples. */
  get totalRate(): number {
    return this.#totalRate;
  }

  /** The chart's points, oldest first. */
  history(): readonly ThroughputPoint[] {
    return this.#history;
  }
}
