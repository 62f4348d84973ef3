import assert from "node:assert/strict";
import { Histogram } from "../lib/runtime/histogram.ts";

Deno.test("Histogram.observe() counts a value in the first bucket whose bound is at or above it", () => {
  const histogram = new Histogram([0.001, 0.01, 0.1]);
  for (const value of [0, 0.001, 0.0011, 0.1, 0.1000001, 5]) histogram.observe(value);
  assert.deepEqual(histogram.snapshot(), {
    bounds: [0.001, 0.01, 0.1],
    // cumulative: <= 0.001: 0 and 0.001; <= 0.01: + 0.0011; <= 0.1: + 0.1; above: 2 more
    cumulative: [2, 3, 4],
    count: 6,
    sum: 0 + 0.001 + 0.0011 + 0.1 + 0.1000001 + 5,
  });
});

Deno.test("Histogram.snapshot() of no observation is all zeros", () => {
  assert.deepEqual(new Histogram([1]).snapshot(), {
    bounds: [1],
    cumulative: [0],
    count: 0,
    sum: 0,
  });
});

Deno.test("Histogram rejects empty, unsorted, repeated and infinite bounds", async (t) => {
  const cases: [string, number[]][] = [
    ["empty", []],
    ["unsorted", [2, 1]],
    ["repeated", [1, 1]],
    ["infinite", [1, Infinity]],
    ["NaN", [Number.NaN]],
  ];
  for (const [name, bounds] of cases) {
    await t.step(name, () => {
      assert.throws(() => new Histogram(bounds), { name: "RangeError" });
    });
  }
});
