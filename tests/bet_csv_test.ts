import assert from "node:assert/strict";
import { type Bet, todayIsoDate, validateBet } from "../lib/bet.ts";
import {
  AGENCY_FILE_COLUMNS,
  formatAgencyRow,
  formatStoreRow,
  parseAgencyRow,
  parseStoreRow,
  STORE_COLUMNS,
} from "../lib/bet_csv.ts";
import { parseCsvLine, readLines } from "../lib/csv.ts";
import { makeBet } from "./helpers/bets.ts";

/** The fields of a formatted row, its newline checked and dropped. */
function fieldsOf(row: string): string[] {
  assert.equal(row.at(-1), "\n");
  return parseCsvLine(row.slice(0, -1));
}

const _TRICKY_BETS: [string, Bet][] = [
  ["plain", makeBet()],
  ["comma and quotes", makeBet({ firstName: 'Ana "Anita"', lastName: "Pérez, Núñez" })],
  ["leading and trailing spaces", makeBet({ firstName: " Ana ", lastName: "de la Fuente " })],
  ["emoji and apostrophe", makeBet({ firstName: "Zoé 😀", lastName: "O'Connor" })],
  ["quotes only", makeBet({ firstName: '"', lastName: '""' })],
  ["number 0 and leading-zero document", makeBet({ number: 0, document: "00012345" })],
  ["agency 100000 and number 9999", makeBet({ agency: 100_000, number: 9999 })],
];

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

Deno.test("formatStoreRow() and parseStoreRow() round-trip every field", async (t) => {
  for (const [name, bet] of _TRICKY_BETS) {
    await t.step(name, () => {
      assert.deepEqual(parseStoreRow(fieldsOf(formatStoreRow(bet))), bet);
    });
  }
});

Deno.test("formatAgencyRow() and parseAgencyRow() round-trip every field but the agency", async (t) => {
  for (const [name, bet] of _TRICKY_BETS) {
    await t.step(name, () => {
      const parsed = parseAgencyRow(fieldsOf(formatAgencyRow(bet)), 42);
      assert.deepEqual(parsed, { ...bet, agency: 42 });
    });
  }
});

Deno.test("parseStoreRow() and parseAgencyRow() reject a wrong column count", async (t) => {
  const store = ["1", "Ana", "Pérez", "30123456", "1990-05-17", "1234"];
  const cases: [string, () => unknown, RegExp][] = [
    ["store row of 5", () => parseStoreRow(store.slice(0, 5)), /expected 6 columns, found 5/],
    ["store row of 7", () => parseStoreRow([...store, "x"]), /expected 6 columns, found 7/],
    ["store row of 0", () => parseStoreRow([]), /expected 6 columns, found 0/],
    ["agency row of 4", () => parseAgencyRow(store.slice(1, 5), 1), /expected 5 columns, found 4/],
    ["agency row of 6", () => parseAgencyRow(store, 1), /expected 5 columns, found 6/],
  ];
  for (const [name, parse, message] of cases) {
    await t.step(name, () => {
      assert.throws(parse, { name: "SyntaxError", message: message });
    });
  }
});

Deno.test("parseStoreRow() reads agency and number as whole numbers of up to 9 digits", async (t) => {
  const row = (agency: string, number: string) => [
    agency,
    "Ana",
    "Pérez",
    "30123456",
    "1990-05-17",
    number,
  ];
  const valid: [string, string, number, number][] = [
    ["1", "0", 1, 0],
    ["007", "0009", 7, 9],
    ["999999999", "9999", 999_999_999, 9999],
  ];
  for (const [agency, number, agencyValue, numberValue] of valid) {
    await t.step(`agency "${agency}", number "${number}"`, () => {
      const bet = parseStoreRow(row(agency, number));
      assert.equal(bet.agency, agencyValue);
      assert.equal(bet.number, numberValue);
    });
  }
  const invalid: [string, string, RegExp][] = [
    ["", "1", /agency "" is not a whole number/],
    ["-1", "1", /agency "-1"/],
    ["1000000000", "1", /agency "1000000000"/],
    ["1", "", /number "" is not a whole number/],
    ["1", "1.5", /number "1.5"/],
    ["1", " 12", /number " 12"/],
    ["1", "1e3", /number "1e3"/],
    ["1", "abc", /number "abc"/],
  ];
  for (const [agency, number, message] of invalid) {
    await t.step(`rejects agency "${agency}", number "${number}"`, () => {
      assert.throws(() => parseStoreRow(row(agency, number)), {
        name: "SyntaxError",
        message: message,
      });
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
