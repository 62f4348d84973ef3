import assert from "node:assert/strict";
import { todayIsoDate, validateBet } from "../lib/bet/bet.ts";
import {
  AGENCY_FILE_COLUMNS,
  formatAgencyRow,
  formatStoreRow,
  parseAgencyRow,
  STORE_COLUMNS,
} from "../lib/bet/bet_csv.ts";
import { parseCsvLine, readLines } from "../lib/bet/csv.ts";
import { makeBet, TRICKY_BETS } from "./helpers/bets.ts";

/** The fields of a formatted row, its newline checked and dropped. */
function fieldsOf(row: string): string[] {
  assert.equal(row.at(-1), "\n");
  return parseCsvLine(row.slice(0, -1));
}

Deno.test("STORE_COLUMNS keep the exercise's order; agency files drop the agency", () => {
  assert.deepEqual(
    [...STORE_COLUMNS],
    ["agency", "first_name", "last_name", "document", "birthdate", "number"],
  );
  assert.deepEqual([...AGENCY_FILE_COLUMNS], STORE_COLUMNS.slice(1));
});

Deno.test("formatStoreRow() writes the columns in order, quoting when needed", () => {
  const bet = makeBet({ agency: 3, lastName: 'Pérez, "Tito"', number: 7574 });
  assert.equal(formatStoreRow(bet), '3,Ana,"Pérez, ""Tito""",30123456,1990-05-17,7574\n');
});

Deno.test("formatAgencyRow() writes the columns without the agency", () => {
  assert.equal(formatAgencyRow(makeBet({ agency: 3 })), "Ana,Pérez,30123456,1990-05-17,1234\n");
});

Deno.test("formatAgencyRow() and parseAgencyRow() round-trip every field but the agency", async (t) => {
  for (const [name, bet] of TRICKY_BETS) {
    await t.step(name, () => {
      const parsed = parseAgencyRow(fieldsOf(formatAgencyRow(bet)), 42);
      assert.deepEqual(parsed, { ...bet, agency: 42 });
    });
  }
});

Deno.test("parseAgencyRow() rejects a wrong column count", async (t) => {
  const store = ["1", "Ana", "Pérez", "30123456", "1990-05-17", "1234"];
  const cases: [string, () => unknown, RegExp][] = [
    ["agency row of 4", () => parseAgencyRow(store.slice(1, 5), 1), /expected 5 columns, found 4/],
    ["agency row of 6", () => parseAgencyRow(store, 1), /expected 5 columns, found 6/],
  ];
  for (const [name, parse, message] of cases) {
    await t.step(name, () => {
      assert.throws(parse, { name: "SyntaxError", message: message });
    });
  }
});

Deno.test("every row of the committed data/agency-*.csv parses and is a valid bet", async (t) => {
  const today = todayIsoDate();
  for (let agency = 1; agency <= 5; agency += 1) {
    await t.step(`data/agency-${agency}.csv`, async () => {
      using file = await Deno.open(new URL(`../data/agency-${agency}.csv`, import.meta.url));
      let rows = 0;
      for await (const { lineNumber, text } of readLines(file.readable, 4096)) {
        const bet = parseAgencyRow(parseCsvLine(text), agency);
        assert.equal(validateBet(bet, today, 5), undefined, `line ${lineNumber}: ${text}`);
        rows += 1;
      }
      assert.equal(rows, 2000);
    });
  }
});
