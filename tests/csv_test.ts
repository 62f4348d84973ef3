import assert from "node:assert/strict";
import {
  formatCsvField,
  formatCsvRecord,
  type NumberedLine,
  parseCsvLine,
  readLines,
} from "../lib/bet/csv.ts";
import { chunkedStream } from "./helpers/byte_io.ts";

const _encoder = new TextEncoder();

/** Collects every line readLines yields. */
async function collectLines(
  text: string | Uint8Array,
  chunkBytes: number,
  lineBytesMax = 1024,
): Promise<NumberedLine[]> {
  const bytes = typeof text === "string" ? _encoder.encode(text) : text;
  const lines: NumberedLine[] = [];
  for await (const line of readLines(chunkedStream(bytes, chunkBytes), lineBytesMax)) {
    lines.push(line);
  }
  return lines;
}

/** The texts of numbered lines 1, 2, 3, … (asserting the numbering). */
function texts(lines: NumberedLine[]): string[] {
  lines.forEach((line, index) => assert.equal(line.lineNumber, index + 1));
  return lines.map((line) => line.text);
}

Deno.test("formatCsvField() quotes only fields with a comma, a quote or a line break", async (t) => {
  const cases: [string, string][] = [
    ["plain", "plain"],
    ["", ""],
    [" lead and trail ", " lead and trail "],
    ["Pérez 😀", "Pérez 😀"],
    ["O'Connor", "O'Connor"],
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['"', '""""'],
    ['Pérez, "Tito"', '"Pérez, ""Tito"""'],
    ["two\nlines", '"two\nlines"'],
    ["cr\r", '"cr\r"'],
  ];
  for (const [text, field] of cases) {
    await t.step(JSON.stringify(text), () => {
      assert.equal(formatCsvField(text), field);
    });
  }
});

Deno.test("formatCsvRecord() joins fields with commas and ends the line", () => {
  assert.equal(formatCsvRecord(["1", "Ana", "Pérez, Núñez", ""]), '1,Ana,"Pérez, Núñez",\n');
  assert.equal(formatCsvRecord([]), "\n");
});

Deno.test("formatCsvRecord() and parseCsvLine() round-trip any fields without line breaks", async (t) => {
  const cases: string[][] = [
    ["a", "b", "c"],
    [""],
    ["", ""],
    ["", "", ""],
    ["a", ""],
    ["", "a"],
    [" a ", "  ", "b "],
    [",", ",,", "a,b,"],
    ['"', '""', 'a"b', '"a"'],
    ['Pérez, "Tito"', "Ñandú", "😀👍🏽", "O'Connor"],
    ['", "', '","', '"",""'],
  ];
  for (const fields of cases) {
    await t.step(JSON.stringify(fields), () => {
      const line = formatCsvRecord(fields);
      assert.equal(line.at(-1), "\n");
      assert.deepEqual(parseCsvLine(line.slice(0, -1)), fields);
    });
  }
});

Deno.test("parseCsvLine() reads quoted and unquoted fields as written by hand", async (t) => {
  const cases: [string, string[]][] = [
    ["", [""]],
    [",", ["", ""]],
    ["a,", ["a", ""]],
    ['a,"b,c",d', ["a", "b,c", "d"]],
    ['"",x', ["", "x"]],
    ['"a"', ["a"]],
    ['"a",', ["a", ""]],
    ['"a""b"', ['a"b']],
    ['""""', ['"']],
    [" a , b ", [" a ", " b "]],
    ["a\tb", ["a\tb"]],
  ];
  for (const [line, fields] of cases) {
    await t.step(JSON.stringify(line), () => {
      assert.deepEqual(parseCsvLine(line), fields);
    });
  }
});

Deno.test("parseCsvLine() rejects malformed lines with SyntaxError", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["stray quote in an unquoted field", 'a"b', /stray quote.*column 1/],
    ["stray quote in a later field", 'x,a"', /stray quote.*column 3/],
    ["unterminated quoted field", '"abc', /unterminated/],
    ["unterminated after a doubled quote", '"a""', /unterminated/],
    ["unterminated in a later field", 'a,"b', /unterminated/],
    ["a lone quote", '"', /unterminated/],
    ["junk after a closing quote", '"ab"c', /after a quoted field at column 5/],
    ["space after a closing quote", '"a" ,b', /after a quoted field at column 4/],
    ["quoted field then a quote", '"a""b"x', /after a quoted field/],
  ];
  for (const [name, line, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => parseCsvLine(line), { name: "SyntaxError", message: message });
    });
  }
});

Deno.test("readLines() yields numbered lines whatever the chunk size", async (t) => {
  const text = 'first\nsecond,"x"\n\nÑandú 😀\nlast\n';
  const expected = ["first", 'second,"x"', "", "Ñandú 😀", "last"];
  for (const chunkBytes of [1, 2, 3, 5, 1024]) {
    await t.step(`chunks of ${chunkBytes} bytes`, async () => {
      assert.deepEqual(texts(await collectLines(text, chunkBytes)), expected);
    });
  }
});

Deno.test("readLines() decodes multi-byte UTF-8 split across chunks", async (t) => {
  // "é" is 2 bytes, "€" 3, "😀" 4: chunks of 1..4 bytes split each of them somewhere.
  const text = "é€😀\nÁngel Muñoz\n";
  for (const chunkBytes of [1, 2, 3, 4]) {
    await t.step(`chunks of ${chunkBytes} bytes`, async () => {
      assert.deepEqual(texts(await collectLines(text, chunkBytes)), ["é€😀", "Ángel Muñoz"]);
    });
  }
});

Deno.test("readLines() handles line endings and the end of the stream", async (t) => {
  const cases: [string, string, string[]][] = [
    ["empty stream", "", []],
    ["one empty line", "\n", [""]],
    ["missing final newline", "a\nb", ["a", "b"]],
    ["only a line without newline", "abc", ["abc"]],
    ["CRLF", "a\r\nb\r\n", ["a", "b"]],
    ["CRLF without final newline", "a\r\nb\r", ["a", "b"]],
    ["mixed endings", "a\nb\r\nc", ["a", "b", "c"]],
    ["a lone CR inside a line is kept", "a\rb\n", ["a\rb"]],
    ["blank lines", "\n\n\n", ["", "", ""]],
  ];
  for (const [name, text, lines] of cases) {
    for (const chunkBytes of [1, 64]) {
      await t.step(`${name}, chunks of ${chunkBytes}`, async () => {
        assert.deepEqual(texts(await collectLines(text, chunkBytes)), lines);
      });
    }
  }
});

Deno.test("readLines() accepts a line of lineBytesMax bytes and rejects one byte more", async (t) => {
  const max = 8;
  const cases: [string, string, boolean][] = [
    ["0 bytes", "\n", true],
    ["max ASCII bytes", "a".repeat(max) + "\n", true],
    ["max + 1 ASCII bytes", "a".repeat(max + 1) + "\n", false],
    ["max ASCII bytes, CRLF", "a".repeat(max) + "\r\n", true],
    ["max + 1 bytes without final newline", "a".repeat(max + 1), false],
    ["max bytes of 2-byte characters", "é".repeat(max / 2) + "\n", true],
    ["max + 2 bytes of 2-byte characters", "é".repeat(max / 2 + 1) + "\n", false],
    ["max + 1 bytes of 3-byte characters", "€".repeat(3) + "\n", false],
    ["long line after a short one", "ok\n" + "a".repeat(max + 1) + "\n", false],
  ];
  for (const [name, text, accepted] of cases) {
    for (const chunkBytes of [1, 3, 1024]) {
      await t.step(`${name}, chunks of ${chunkBytes}`, async () => {
        const reading = collectLines(text, chunkBytes, max);
        if (accepted) {
          await reading;
          return;
        }
        await assert.rejects(reading, {
          name: "RangeError",
          message: new RegExp(`line \\d+ is longer than ${max} bytes`),
        });
      });
    }
  }
});

Deno.test("readLines() names the line that is too long", async () => {
  const text = "ok\nfine\n" + "x".repeat(20) + "\n";
  await assert.rejects(collectLines(text, 1024, 10), /line 3 is longer than 10 bytes/);
  await assert.rejects(collectLines(text, 1, 10), /line 3 is longer than 10 bytes/);
});

Deno.test("readLines() rejects bytes that are not UTF-8 with TypeError", async () => {
  const bytes = new Uint8Array([0x61, 0x0a, 0xff, 0xfe, 0x0a]);
  await assert.rejects(collectLines(bytes, 1), TypeError);
});

Deno.test("readLines() yields lines before the stream ends", async () => {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const lines = readLines(readable, 64);
  // Writes resolve only once the reader took the chunk, so they are awaited after reading.
  const first = writer.write(_encoder.encode("one\ntw"));
  assert.deepEqual((await lines.next()).value, { lineNumber: 1, text: "one" });
  await first;
  const second = writer.write(_encoder.encode("o\n"));
  assert.deepEqual((await lines.next()).value, { lineNumber: 2, text: "two" });
  await second;
  const closing = writer.close();
  assert.equal((await lines.next()).done, true);
  await closing;
});
