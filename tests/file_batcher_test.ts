import assert from "node:assert/strict";
import type { Bet } from "../lib/bet/bet.ts";
import { formatAgencyRow } from "../lib/bet/bet_csv.ts";
import { FileBatcher } from "../lib/client/file_batcher.ts";
import { StoredPrefixCheck } from "../lib/client/stored_prefix_check.ts";
import { UploadRefusal } from "../lib/client/upload_errors.ts";
import { Logger } from "../lib/runtime/log.ts";
import { makeBets } from "./helpers/bets.ts";
import { digestOf } from "./helpers/store_rows.ts";

const _encoder = new TextEncoder();

/** The bytes of an agency file of `bets`. */
function fileOf(bets: readonly Bet[]): Uint8Array {
  return _encoder.encode(bets.map(formatAgencyRow).join(""));
}

/** A batcher whose draw stores `stored` (the first bets of a file, by default those of `bets`). */
function batcherOf(
  bets: readonly Bet[],
  stored: number,
  batchMaxAmount: number,
  lines: string[] = [],
) {
  const check = new StoredPrefixCheck(stored, digestOf(bets.slice(0, stored)), []);
  const logger = new Logger("INFO", (line) => lines.push(line));
  return new FileBatcher(
    { agency: 1, dataFile: "agency-1.csv", drawId: "d1", batchMaxAmount, logger },
    check,
  );
}

/** [first, count] of each batch. */
function spans(batches: readonly { first: number; count: number }[]): number[][] {
  return batches.map((batch) => [batch.first, batch.count]);
}

Deno.test("FileBatcher with nothing stored batches 0, max and max + 1 rows as full batches and one partial", async (t) => {
  const max = 4;
  const cases: [number, number[][], number[][]][] = [
    [0, [], []],
    [max, [[0, 4]], []],
    [max + 1, [[0, 4]], [[4, 1]]],
  ];
  for (const [rows, pushed, ended] of cases) {
    await t.step(`${rows} rows`, () => {
      const bets = makeBets(1, rows);
      const batcher = batcherOf(bets, 0, max);
      const first = batcher.push(fileOf(bets));
      assert.deepEqual(spans(first), pushed);
      const last = batcher.end();
      assert.deepEqual(spans(last), ended);
      assert.equal(batcher.prefixVerified, true);
    });
  }
});

Deno.test("FileBatcher skips the stored rows and batches the rest from their position", () => {
  const bets = makeBets(1, 7);
  const batcher = batcherOf(bets, 3, 2);
  assert.deepEqual(spans(batcher.push(fileOf(bets.slice(0, 3)))), []);
  assert.equal(batcher.prefixVerified, false, "not before a row after the stored ones");
  const batches = batcher.push(fileOf(bets.slice(3)));
  assert.deepEqual(spans(batches), [[3, 2], [5, 2]]);
  assert.equal(batcher.prefixVerified, true);
  assert.deepEqual(batcher.end(), []);
});

Deno.test("FileBatcher refuses a file whose first rows are not the bets stored", () => {
  const bets = makeBets(1, 6);
  const other = makeBets(1, 6, { firstDocument: 40_000_000 });
  const check = new StoredPrefixCheck(3, digestOf(other.slice(0, 3)), []);
  const batcher = new FileBatcher({
    agency: 7,
    dataFile: "agency-7.csv",
    drawId: "d9",
    batchMaxAmount: 2,
    logger: new Logger("ERROR", () => {}),
  }, check);
  assert.throws(
    () => batcher.push(fileOf(bets)),
    (error: unknown) => {
      assert.ok(error instanceof UploadRefusal);
      assert.match(
        error.message,
        /^agency 7, draw d9: agency-7\.csv does not match the bets stored: .*rows 1\.\.3 .*; first position that differs: 0\.\.2$/,
      );
      return true;
    },
  );
  assert.equal(batcher.prefixVerified, false);
});

Deno.test("FileBatcher.end() refuses a file shorter than the bets stored", () => {
  const bets = makeBets(1, 5);
  const batcher = batcherOf(bets, 5, 2);
  batcher.push(fileOf(bets.slice(0, 4)));
  assert.throws(
    () => batcher.end(),
    (error: unknown) =>
      error instanceof UploadRefusal &&
      /has 4 valid rows but the draw stores 5 bets/.test(error.message),
  );
  assert.equal(batcher.prefixVerified, false);
});

Deno.test("FileBatcher counts and logs invalid rows, and counts every byte pushed", () => {
  const bets = makeBets(1, 2);
  const lines: string[] = [];
  const batcher = batcherOf(bets, 0, 10, lines);
  const text = `${formatAgencyRow(bets[0]!)}not,a,bet\n${formatAgencyRow(bets[1]!)}`;
  const bytes = _encoder.encode(text);
  assert.deepEqual(batcher.push(bytes.subarray(0, 10)), []);
  assert.deepEqual(batcher.push(bytes.subarray(10)), []);
  assert.deepEqual(spans(batcher.end()), [[0, 2]]);
  assert.equal(batcher.rowsSkipped, 1);
  assert.equal(batcher.bytesRead, bytes.length);
  const invalid = lines.filter((line) => line.includes("action: fila_invalida | result: fail"));
  assert.equal(invalid.length, 1);
  assert.match(invalid[0]!, /client_id: 1 \| line: 2 \| error: /);
});
