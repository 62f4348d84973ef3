import assert from "node:assert/strict";
import { parseDuration } from "../lib/config/duration.ts";

Deno.test("parseDuration() converts every unit to milliseconds", async (t) => {
  const cases: [string, number][] = [
    ["0ms", 0],
    ["0s", 0],
    ["1ms", 1],
    ["100ms", 100],
    ["5s", 5_000],
    ["1.5s", 1_500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    [" 5s ", 5_000],
    ["5 s", 5_000],
    ["0.4ms", 0],
    ["0.5ms", 1],
  ];
  for (const [text, ms] of cases) {
    await t.step(`"${text}" is ${ms} ms`, () => {
      assert.equal(parseDuration(text), ms);
    });
  }
});

Deno.test("parseDuration() rejects text that is not a number and a unit with SyntaxError", async (t) => {
  for (const text of ["", "5", "ms", "-1s", "5S", "5sec", "1.s", ".5s", "5s5", "1e3ms", "5 m s"]) {
    await t.step(`"${text}"`, () => {
      assert.throws(() => parseDuration(text), {
        name: "SyntaxError",
        message: new RegExp(RegExp.escape(`"${text}"`)),
      });
    });
  }
});
