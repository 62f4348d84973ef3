/**
 * A fixed-bucket histogram of durations or sizes, counted in plain numbers:
 * one comparison loop per observation and no allocation, so it can sit on a
 * hot path (the store observes each fdatasync).
 */

/** Counts of a histogram at one moment, cumulative as Prometheus wants them. */
export interface HistogramSnapshot {
  /** Upper bounds, ascending, without +Inf. */
  bounds: readonly number[];
  /** Observations at or below each bound (cumulative), same length as bounds. */
  cumulative: number[];
  /** Every observation (the +Inf bucket). */
  count: number;
  /** Sum of every observation. */
  sum: number;
}

/** Observations sorted into buckets by upper bound. */
export class Histogram {
  readonly #bounds: readonly number[];
  readonly #counts: Float64Array;
  #count = 0;
  #sum = 0;

  /**
   * @param bounds upper bounds of the buckets, ascending and finite
   * @throws {RangeError} when the bounds are empty, not finite or not ascending
   */
  constructor(bounds: readonly number[]) {
    if (bounds.length === 0) throw new RangeError("Cannot make a histogram without buckets");
    bounds.forEach((bound, index) => {
      if (!Number.isFinite(bound) || (index > 0 && bound <= bounds[index - 1]!)) {
        throw new RangeError(
          `Cannot make a histogram: bound ${bound} at ${index} is not finite and above the one before`,
        );
      }
    });
    this.#bounds = [...bounds];
    this.#counts = new Float64Array(bounds.length);
  }

  /** Counts one observation in the first bucket whose bound is at or above it. */
  observe(value: number): void {
    this.#count += 1;
    this.#sum += value;
    const bounds = this.#bounds;
    for (let index = 0; index < bounds.length; index += 1) {
      if (value <= bounds[index]!) {
        this.#counts[index]! += 1;
        return;
      }
    }
  }

  /** The counts so far, cumulative per bound. */
  snapshot(): HistogramSnapshot {
    const cumulative: number[] = [];
    let running = 0;
    for (const count of this.#counts) {
      running += count;
      cumulative.push(running);
    }
    return { bounds: this.#bounds, cumulative, count: this.#count, sum: this.#sum };
  }
}
