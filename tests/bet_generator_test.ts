import assert from "node:assert/strict";
import { type Bet, hasWon, todayIsoDate, validateBet } from "../lib/bet/bet.ts";
import { formatAgencyRow, parseAgencyRow } from "../lib/bet/bet_csv.ts";
import {
  type AgencyDataOptions,
  generateAgencyBets,
  seededRandom,
} from "../lib/dev/bet_generator.ts";
import { parseCsvLine } from "../lib/bet/csv.ts";

/** Every bet the generator yields for `options`. */
function generate(options: AgencyDataOptions): Bet[] {
  return [...generateAgencyBets(options)];
}

Deno.test("seededRandom() repeats its sequence for a seed and stays in [0, 1)", () => {
  const first = seededRandom(42);
  const second = seededRandom(42);
  const other = seededRandom(43);
  const values = Array.from({ length: 10_000 }, () => first());
  assert.deepEqual(Array.from({ length: 10_000 }, () => second()), values);
  assert.notDeepEqual(Array.from({ length: 10 }, () => other()), values.slice(0, 10));
  assert.ok(values.every((value) => value >= 0 && value < 1));
  assert.ok(new Set(values).size > 9_900, "values do not repeat much");
});

Deno.test("generateAgencyBets() yields the same rows for the same seed and agency", () => {
  const options = { agency: 2, bets: 500, winners: 3, seed: 1 };
  assert.deepEqual(generate(options), generate(options));
});

Deno.test("generateAgencyBets() yields other rows for another seed or agency", () => {
  const base = generate({ agency: 1, bets: 50, winners: 0, seed: 1 });
  const otherSeed = generate({ agency: 1, bets: 50, winners: 0, seed: 2 });
  const otherAgency = generate({ agency: 2, bets: 50, winners: 0, seed: 1 });
  assert.notDeepEqual(otherSeed, base);
  assert.notDeepEqual(
    otherAgency.map((bet) => bet.document),
    base.map((bet) => bet.document),
  );
});

Deno.test("generateAgencyBets() yields exactly the requested number of bets and winners", async (t) => {
  const cases: [number, number][] = [
    [0, 0],
    [1, 0],
    [1, 1],
    [10, 0],
    [10, 10],
    [2000, 4],
    [2000, 1],
    [5000, 37],
  ];
  for (const [bets, winners] of cases) {
    for (const seed of [1, 7]) {
      await t.step(`${winners} of ${bets}, seed ${seed}`, () => {
        const generated = generate({ agency: 3, bets, winners, seed });
        assert.equal(generated.length, bets);
        assert.equal(generated.filter(hasWon).length, winners);
      });
    }
  }
});

Deno.test("generateAgencyBets() yields only bets that pass validateBet", () => {
  const today = todayIsoDate();
  for (const agency of [1, 5]) {
    for (const bet of generateAgencyBets({ agency, bets: 5000, winners: 10, seed: 3 })) {
      assert.equal(bet.agency, agency);
      assert.equal(validateBet(bet, today, 5), undefined, JSON.stringify(bet));
      assert.match(bet.document, /^[1-9]\d{7}$/, "8-digit DNI");
    }
  }
});

Deno.test("generateAgencyBets() rows survive the agency file format", () => {
  for (const bet of generateAgencyBets({ agency: 4, bets: 1000, winners: 2, seed: 9 })) {
    const row = formatAgencyRow(bet);
    assert.deepEqual(parseAgencyRow(parseCsvLine(row.slice(0, -1)), 4), bet);
  }
});

Deno.test("generateAgencyBets() is lazy: a huge file's first rows come at once", () => {
  const bets = generateAgencyBets({ agency: 1, bets: 1e12, winners: 0, seed: 1 });
  const first = [bets.next().value, bets.next().value, bets.next().value];
  assert.deepEqual(first, generate({ agency: 1, bets: 3, winners: 0, seed: 1 }));
});

Deno.test("generateAgencyBets() rejects impossible counts with RangeError", async (t) => {
  const cases: [string, AgencyDataOptions, RegExp][] = [
    ["negative bets", { agency: 1, bets: -1, winners: 0, seed: 1 }, /bets must be/],
    ["fractional bets", { agency: 1, bets: 1.5, winners: 0, seed: 1 }, /bets must be/],
    [
      "winners above bets",
      { agency: 1, bets: 3, winners: 4, seed: 1 },
      /winners must be .* 0\.\.3/,
    ],
    ["negative winners", { agency: 1, bets: 3, winners: -1, seed: 1 }, /winners must be/],
    ["fractional winners", { agency: 1, bets: 3, winners: 0.5, seed: 1 }, /winners must be/],
  ];
  for (const [name, options, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => generate(options), { name: "RangeError", message: message });
    });
  }
});

Deno.test("the committed data/agency-*.csv are the generator's output for seed 1, 2000 bets, 4 winners", async (t) => {
  for (let agency = 1; agency <= 5; agency += 1) {
    await t.step(`data/agency-${agency}.csv`, async () => {
      let expected = "";
      for (const bet of generateAgencyBets({ agency, bets: 2000, winners: 4, seed: 1 })) {
        expected += formatAgencyRow(bet);
      }
      const file = new URL(`../data/agency-${agency}.csv`, import.meta.url);
      assert.equal(await Deno.readTextFile(file), expected);
    });
  }
});
