import assert from "node:assert/strict";
import { AgencyRowScanner } from "../lib/bet/agency_row_scanner.ts";
import { AGENCY_LINE_BYTES_MAX } from "../lib/limits.ts";
import { todayIsoDate, validateBet } from "../lib/bet/bet.ts";
import { dateNumber } from "../lib/bet/bet_bytes.ts";
import { parseAgencyRow } from "../lib/bet/bet_csv.ts";
import { parseCsvLine } from "../lib/bet/csv.ts";

const LINES = [
  "Ana,Paz,30111222,1990-01-01,7574",
  '"Pérez, Juan",Ruiz,30111223,1990-02-28,12',
  '"O""Hara",Díaz,30111225,1980-12-31,0',
  "Luis,Gómez,abc,1990-01-01,12",
  "Eva,Sosa,30111224,1991-01-01",
  "Eva,Sosa,30111224,1991-01-01,1,extra",
  "Eva,Sosa,30111224,1991-02-30,1",
  "Eva,Sosa,30111224,2999-01-01,1",
  "Eva,Sosa,30111224,1991-01-01,10000",
  "Eva,Sosa,30111224,1991-01-01,x",
  '"Eva,Sosa,30111224,1991-01-01,1',
  'E"va,Sosa,30111224,1991-01-01,1',
  '"Eva"x,Sosa,30111224,1991-01-01,1',
  "   ,Sosa,30111224,1991-01-01,1",
  "",
  "   ",
  "Zoé,Ñandú 🎲,1,2000-02-29,9999\r",
  "Eva,Sosa,30111224,1991-01-01,",
  ",Sosa,30111224,1991-01-01,5",
  "Max,Last,1234567890123,1991-01-01,5",
  "Ana\u001b[31m,Paz,30111226,1990-01-01,1",
  "Ana,Paz\u0000,30111227,1990-01-01,1",
  "\t,Paz,30111228,1990-01-01,1",
  '"Ana\u0085",Paz,30111229,1990-01-01,1',
  "Ana\u007f,Paz,30111230,1990-01-01,1",
  "Ana\u00a0María,Paz,30111231,1990-01-01,1",
];

interface Outcome {
  line: number;
  fields?: string[];
  number?: number;
  skipped?: boolean;
}

/** What the string functions say of each line: the reference. */
function reference(lines: readonly string[]): Outcome[] {
  const today = todayIsoDate();
  const outcomes: Outcome[] = [];
  lines.forEach((raw, index) => {
    const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (text.trim() === "") return;
    try {
      const bet = parseAgencyRow(parseCsvLine(text), 1);
      if (validateBet(bet, today, 1) !== undefined) throw new Error("invalid");
      outcomes.push({
        line: index + 1,
        fields: [bet.firstName, bet.lastName, bet.document, bet.birthdate],
        number: bet.number,
      });
    } catch {
      outcomes.push({ line: index + 1, skipped: true });
    }
  });
  return outcomes;
}

function scan(bytes: Uint8Array, chunkBytes: number): Outcome[] {
  const decoder = new TextDecoder();
  const outcomes: Outcome[] = [];
  const scanner = new AgencyRowScanner(
    dateNumber(new Date()),
    (row) => {
      const fields = [0, 1, 2, 3].map((field) =>
        decoder.decode(row.bytes.subarray(row.starts[field]!, row.ends[field]!))
      );
      outcomes.push({ line: -1, fields, number: row.number });
    },
    (skipped) => {
      outcomes.push({ line: skipped.lineNumber, skipped: true });
    },
  );
  for (let start = 0; start < bytes.length; start += chunkBytes) {
    scanner.push(bytes.subarray(start, start + chunkBytes));
  }
  scanner.end();
  return outcomes;
}

Deno.test("AgencyRowScanner accepts and skips exactly the rows the string parser does, at every chunk size", async (t) => {
  const expected = reference(LINES);
  const bytes = new TextEncoder().encode(LINES.join("\n") + "\n");
  for (const chunkBytes of [1, 2, 3, 7, 64, bytes.length]) {
    await t.step(`chunks of ${chunkBytes} bytes`, () => {
      const got = scan(bytes, chunkBytes);
      assert.equal(got.length, expected.length);
      got.forEach((outcome, index) => {
        const want = expected[index]!;
        if (want.skipped) assert.deepEqual(outcome, want);
        else {assert.deepEqual({ fields: outcome.fields, number: outcome.number }, {
            fields: want.fields,
            number: want.number,
          });}
      });
    });
  }
});

Deno.test("AgencyRowScanner reads a last line without a line break", () => {
  const got = scan(new TextEncoder().encode("Ana,Paz,1,1990-01-01,5"), 4);
  assert.deepEqual(got, [{ line: -1, fields: ["Ana", "Paz", "1", "1990-01-01"], number: 5 }]);
});

Deno.test("AgencyRowScanner skips a line longer than AGENCY_LINE_BYTES_MAX and goes on", async (t) => {
  for (const extra of [0, 1]) {
    await t.step(`a line of max + ${extra} bytes`, () => {
      const long = "A".repeat(AGENCY_LINE_BYTES_MAX + extra);
      const bytes = new TextEncoder().encode(`${long}\nAna,Paz,1,1990-01-01,5\n`);
      const got = scan(bytes, 100);
      assert.equal(got.length, 2);
      assert.deepEqual(got[0], { line: 1, skipped: true });
      assert.deepEqual(got[1]!.fields, ["Ana", "Paz", "1", "1990-01-01"]);
    });
  }
});

Deno.test("AgencyRowScanner skips a row whose name holds a control character", async (t) => {
  const cases: [string, string][] = [
    ["ESC (C0)", "Ana\u001b[31m,Paz,30111226,1990-01-01,1"],
    ["NUL (C0)", "Ana,Paz\u0000,30111227,1990-01-01,1"],
    ["one tab", "\t,Paz,30111228,1990-01-01,1"],
    ["NEL (C1), quoted", '"Ana\u0085",Paz,30111229,1990-01-01,1'],
    ["DEL", "Ana\u007f,Paz,30111230,1990-01-01,1"],
  ];
  for (const [name, line] of cases) {
    await t.step(name, () => {
      const got = scan(new TextEncoder().encode(line + "\n"), 64);
      assert.deepEqual(got, [{ line: 1, skipped: true }]);
    });
  }
});

/** Every reason the scanner gives for `text`'s lines, "ok" for a row. */
function reasons(text: string, chunkBytes: number): string[] {
  const got: string[] = [];
  const scanner = new AgencyRowScanner(
    dateNumber(new Date()),
    () => got.push("ok"),
    (skipped) => got.push(`${skipped.lineNumber}: ${skipped.reason}`),
  );
  const bytes = new TextEncoder().encode(text);
  for (let start = 0; start < bytes.length; start += chunkBytes) {
    scanner.push(bytes.subarray(start, start + chunkBytes));
  }
  scanner.end();
  return got;
}

Deno.test("AgencyRowScanner gives a line with no quote the same reason whether or not its chunk holds a quote", async (t) => {
  const lines = LINES.filter((line) => !line.includes('"')).concat([
    "a",
    "a,b",
    "a,b,c,d,e,f,g",
    ",,,,",
    "Eva,Sosa,30111224,1991-01-01,1,",
    "Eva,Sosa,30111224,1991-01-01,1,\r",
    "Eva,Sosa,30111224,1991-01-01,\r",
  ]);
  for (const line of lines) {
    await t.step(JSON.stringify(line), () => {
      // A quoted row after the line puts a quote in the line's chunk.
      const withQuote = reasons(`${line}\n"Ana",Paz,1,1990-01-01,5\n`, 4096);
      assert.deepEqual(reasons(`${line}\nAna,Paz,1,1990-01-01,5\n`, 4096), withQuote);
    });
  }
});

Deno.test("AgencyRowScanner neither changes the chunks it is given nor keeps them after push", () => {
  const text = '"O""Hara",Díaz,30111225,1980-12-31,0\nAna,Paz,1,1990-01-01,5\n'.repeat(3);
  const bytes = new TextEncoder().encode(text);
  const expected = scan(bytes, bytes.length);
  for (const chunkBytes of [1, 5, 16, 40]) {
    // One buffer for every chunk, as the client reads its file.
    const buffer = new Uint8Array(chunkBytes);
    const got: Outcome[] = [];
    const scanner = new AgencyRowScanner(
      dateNumber(new Date()),
      (row) => {
        const fields = [0, 1, 2, 3].map((field) =>
          new TextDecoder().decode(row.bytes.subarray(row.starts[field]!, row.ends[field]!))
        );
        got.push({ line: -1, fields, number: row.number });
      },
      (skipped) => got.push({ line: skipped.lineNumber, skipped: true }),
    );
    for (let start = 0; start < bytes.length; start += chunkBytes) {
      const piece = bytes.subarray(start, start + chunkBytes);
      buffer.set(piece);
      const chunk = buffer.subarray(0, piece.length);
      const before = chunk.slice();
      scanner.push(chunk);
      assert.deepEqual(chunk, before);
      buffer.fill(0x2c);
    }
    scanner.end();
    assert.deepEqual(got, expected, `chunks of ${chunkBytes} bytes`);
  }
});
