import assert from "node:assert/strict";
import type { Bet } from "../lib/bet/bet.ts";
import { formatStoreRow } from "../lib/bet/bet_csv.ts";
import { loadBets } from "../lib/store/bets_file_reader.ts";
import { makeBet, TRICKY_BETS } from "./helpers/bets.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

/** Writes `text` as a bets file and reads it back with loadBets(). */
function load(text: string): Promise<Bet[]> {
  return withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    await Deno.writeTextFile(path, text);
    return await Array.fromAsync(loadBets(path));
  });
}

Deno.test("formatStoreRow() and loadBets() round-trip every field", async (t) => {
  for (const [name, bet] of TRICKY_BETS) {
    await t.step(name, async () => {
      assert.deepEqual(await load(formatStoreRow(bet)), [bet]);
    });
  }
  assert.deepEqual(
    await load(TRICKY_BETS.map(([, bet]) => formatStoreRow(bet)).join("")),
    TRICKY_BETS.map(([, bet]) => bet),
  );
});

Deno.test("loadBets() refuses a row with a wrong column count or a blank line, naming the line", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["5 columns", "1,Ana,Pérez,30123456,1990-05-17\n", /line 1: expected 6 columns, found 5/],
    [
      "7 columns",
      "1,Ana,Pérez,30123456,1990-05-17,1,x\n",
      /line 1: expected 6 columns, found more/,
    ],
    ["a blank line", `${formatStoreRow(makeBet())}\n`, /line 2: blank line/],
  ];
  for (const [name, text, message] of cases) {
    await t.step(name, async () => {
      await assert.rejects(load(text), { name: "SyntaxError", message });
    });
  }
});

Deno.test("loadBets() reads agency and number as whole numbers of up to 9 digits", async (t) => {
  const row = (agency: string, number: string) =>
    `${agency},Ana,Pérez,30123456,1990-05-17,${number}\n`;
  const valid: [string, string, number, number][] = [
    ["1", "0", 1, 0],
    ["007", "0009", 7, 9],
    ["999999999", "9999", 999_999_999, 9999],
  ];
  for (const [agency, number, agencyValue, numberValue] of valid) {
    await t.step(`agency "${agency}", number "${number}"`, async () => {
      const [bet] = await load(row(agency, number));
      assert.equal(bet?.agency, agencyValue);
      assert.equal(bet?.number, numberValue);
    });
  }
  const invalid: [string, string, RegExp][] = [
    ["", "1", /agency "" is not a whole number/],
    ["-1", "1", /agency "-1"/],
    ["0", "1", /agency "0"/],
    ["1000000000", "1", /agency "1000000000"/],
    ["1", "", /number "" is not a whole number/],
    ["1", "1.5", /number "1.5"/],
    ["1", " 12", /number " 12"/],
    ["1", "1e3", /number "1e3"/],
    ["1", "abc", /number "abc"/],
    ["1", "10000", /number 10000 is not an integer in 0..9999/],
  ];
  for (const [agency, number, message] of invalid) {
    await t.step(`rejects agency "${agency}", number "${number}"`, async () => {
      await assert.rejects(load(row(agency, number)), { name: "SyntaxError", message });
    });
  }
});
