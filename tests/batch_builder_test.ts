import assert from "node:assert/strict";
import { type AgencyRow, AgencyRowScanner } from "../lib/bet/agency_row_scanner.ts";
import type { Bet } from "../lib/bet/bet.ts";
import { BatchBuilder, type EncodedBatch } from "../lib/client/batch_builder.ts";
import { dateNumber } from "../lib/bet/bet_bytes.ts";
import { formatAgencyRow } from "../lib/bet/bet_csv.ts";
import { CLIENT_FRAME_BYTES_MAX, CLIENT_FRAME_ROOM_BYTES } from "../lib/limits.ts";
import { decodeMessage } from "../lib/protocol/message_codec.ts";
import { FRAME_HEADER_BYTES, MessageType } from "../lib/protocol/protocol.ts";
import { makeBet, makeBets } from "./helpers/bets.ts";
import { digestOf } from "./helpers/store_rows.ts";

function wire(bets: readonly Bet[]) {
  return bets.map(({ agency: _, ...bet }) => bet);
}

/** The rows an agency file of `bets` scans to (their bytes stay valid). */
function rowsOf(bets: readonly Bet[]): AgencyRow[] {
  const rows: AgencyRow[] = [];
  const scanner = new AgencyRowScanner(
    dateNumber(new Date()),
    (row) =>
      rows.push({
        ...row,
        bytes: row.bytes.slice(),
        starts: row.starts.slice(),
        ends: row.ends.slice(),
      }),
    () => {
      throw new Error("no row may be skipped");
    },
  );
  scanner.push(new TextEncoder().encode(bets.map(formatAgencyRow).join("")));
  scanner.end();
  return rows;
}

/** Every batch `bets` make, the last partial one included. */
function batchesOf(builder: BatchBuilder, bets: readonly Bet[]): EncodedBatch[] {
  const batches = rowsOf(bets).map((row) => builder.addRow(row))
    .filter((batch) => batch !== undefined);
  const last = builder.flush();
  return last === undefined ? batches : [...batches, last];
}

function decode(batch: EncodedBatch) {
  const message = decodeMessage({
    type: batch.frame[2]!,
    body: batch.frame.subarray(FRAME_HEADER_BYTES),
  });
  assert.ok(message.type === MessageType.batch);
  assert.equal(
    new DataView(batch.frame.buffer).getUint32(3),
    batch.frame.length - FRAME_HEADER_BYTES,
  );
  return message;
}

Deno.test("BatchBuilder makes batches of exactly maxBets except the last, placed by position from 0", async (t) => {
  for (const total of [0, 1, 99, 100, 101, 250]) {
    await t.step(`${total} bets`, () => {
      const bets = makeBets(1, total);
      const batches = batchesOf(new BatchBuilder(100, CLIENT_FRAME_BYTES_MAX, false), bets);
      const expected = [
        ...Array(Math.floor(total / 100)).fill(100),
        ...(total % 100 ? [total % 100] : []),
      ];
      assert.deepEqual(batches.map((batch) => batch.count), expected);
      assert.deepEqual(
        batches.map((batch) => batch.first),
        expected.map((_, index) => 100 * index),
      );
      assert.deepEqual(batches.map((batch) => decode(batch).first), batches.map((b) => b.first));
      assert.deepEqual(batches.flatMap((batch) => decode(batch).bets), wire(bets));
    });
  }
});

Deno.test("BatchBuilder hashes no bet it sends: a batch carries no digest, the skipped rows keep theirs", () => {
  const bets = makeBets(3, 230, { winnersAt: [5] });
  const builder = new BatchBuilder(100, CLIENT_FRAME_BYTES_MAX, false);
  const rows = rowsOf(bets);
  for (const row of rows.slice(0, 30)) builder.skipRow(row);
  const batches = rows.slice(30).map((row) => builder.addRow(row)).filter((b) => b !== undefined);
  assert.equal(builder.flush(), undefined);
  assert.deepEqual(batches.map((batch) => Object.keys(batch).sort()), [
    ["bets", "count", "first", "frame"],
    ["bets", "count", "first", "frame"],
  ]);
  assert.equal(builder.digest, digestOf(bets.slice(0, 30)));
});

Deno.test("BatchBuilder.skipRow() counts a stored row into the digest and the next batch starts after it", () => {
  const bets = makeBets(1, 150);
  const rows = rowsOf(bets);
  const builder = new BatchBuilder(100, CLIENT_FRAME_BYTES_MAX, false);
  for (const row of rows.slice(0, 120)) builder.skipRow(row);
  assert.equal(builder.position, 120);
  assert.equal(builder.digest, digestOf(bets.slice(0, 120)));
  const batches = rows.slice(120).map((row) => builder.addRow(row)).filter((b) => b !== undefined);
  batches.push(builder.flush()!);
  assert.deepEqual(batches.map((batch) => [batch.first, batch.count]), [[120, 30]]);
  assert.deepEqual(decode(batches[0]!).bets, wire(bets.slice(120)));
  assert.equal(builder.digest, digestOf(bets.slice(0, 120)), "the rows sent join no digest");
  assert.throws(() => {
    const open = new BatchBuilder(100, CLIENT_FRAME_BYTES_MAX, false);
    open.addRow(rows[0]!);
    open.skipRow(rows[1]!);
  }, RangeError);
});

Deno.test("BatchBuilder closes a batch early when the next bet would pass the frame cap, and says so", () => {
  const long = "Ñ".repeat(120);
  const bets = makeBets(1, 40).map((bet) => ({ ...bet, firstName: long, lastName: long }));
  const splits: number[] = [];
  const batches = batchesOf(
    new BatchBuilder(100, CLIENT_FRAME_BYTES_MAX, false, (batch) => splits.push(batch.first)),
    bets,
  );
  assert.ok(batches.length > 1);
  for (const batch of batches) assert.ok(batch.frame.length <= CLIENT_FRAME_BYTES_MAX);
  assert.deepEqual(splits, batches.slice(0, -1).map((batch) => batch.first));
  assert.deepEqual(batches.flatMap((batch) => decode(batch).bets), wire(bets));
});

Deno.test("BatchBuilder keeps each bet's document and number only when asked (DEBUG logs)", () => {
  const bets = makeBets(2, 3);
  const kept = batchesOf(new BatchBuilder(100, CLIENT_FRAME_BYTES_MAX, true), bets);
  assert.deepEqual(kept[0]!.bets, bets.map(({ document, number }) => ({ document, number })));
  const dropped = batchesOf(new BatchBuilder(100, CLIENT_FRAME_BYTES_MAX, false), bets);
  assert.equal(dropped[0]!.bets, undefined);
});

Deno.test("BatchBuilder refuses a frame cap too small for the largest bet", () => {
  assert.throws(() => new BatchBuilder(10, 512, false), RangeError);
  assert.equal(
    batchesOf(new BatchBuilder(1, CLIENT_FRAME_BYTES_MAX, false), [makeBet()]).length,
    1,
  );
});

Deno.test("BatchBuilder.recycle() gives an acknowledged frame's buffer to a later batch", async (t) => {
  const bets = makeBets(1, 400);
  const rows = rowsOf(bets);
  await t.step("a frame of 1 KiB or more is reused, with the next batch's bytes", () => {
    const builder = new BatchBuilder(100, CLIENT_FRAME_BYTES_MAX, false);
    const first = rows.slice(0, 100).map((row) => builder.addRow(row)).at(-1)!;
    assert.ok(first.frame.length >= CLIENT_FRAME_ROOM_BYTES);
    builder.recycle(first);
    const second = rows.slice(100, 200).map((row) => builder.addRow(row)).at(-1)!;
    assert.equal(second.frame.buffer, first.frame.buffer);
    assert.deepEqual(decode(second).bets, wire(bets.slice(100, 200)));
  });
  await t.step("a spare too small for the next frame is not used", () => {
    const builder = new BatchBuilder(100, CLIENT_FRAME_BYTES_MAX, false);
    const small = rows.slice(0, 30).map((row) => builder.addRow(row)).at(-1) ??
      builder.flush()!;
    builder.recycle(small);
    const large = rows.slice(30, 130).map((row) => builder.addRow(row)).at(-1)!;
    assert.notEqual(large.frame.buffer, small.frame.buffer);
    assert.deepEqual(decode(large).bets, wire(bets.slice(30, 130)));
  });
  await t.step("a frame under 1 KiB is not kept", () => {
    const builder = new BatchBuilder(2, CLIENT_FRAME_BYTES_MAX, false);
    const tiny = builder.addRow(rows[0]!) ?? builder.addRow(rows[1]!)!;
    assert.ok(tiny.frame.length < CLIENT_FRAME_ROOM_BYTES);
    builder.recycle(tiny);
    const next = builder.addRow(rows[2]!) ?? builder.addRow(rows[3]!)!;
    assert.notEqual(next.frame.buffer, tiny.frame.buffer);
  });
});

Deno.test("BatchBuilder encodes a row the same whether or not its fields were quoted in the file", () => {
  const bets = [
    makeBet({ firstName: "A", lastName: "B", document: "1", number: 0 }),
    makeBet({ firstName: "Pérez, Juan", lastName: 'O"Hara', document: "12345678" }),
    makeBet({ firstName: "María José", lastName: "x".repeat(255), number: 9999 }),
    makeBet({ firstName: "Ñandú", lastName: "Gómez", birthdate: "2000-02-29" }),
  ];
  const quotedEverywhere = bets.map((bet) =>
    [bet.firstName, bet.lastName, bet.document, bet.birthdate]
      .map((field) => `"${field.replaceAll('"', '""')}"`).join(",") + `,${bet.number}\n`
  ).join("");
  const files = [bets.map(formatAgencyRow).join(""), quotedEverywhere];
  for (const file of files) {
    const rows: AgencyRow[] = [];
    const scanner = new AgencyRowScanner(dateNumber(new Date()), (row) =>
      rows.push({
        ...row,
        bytes: row.bytes.slice(),
        starts: row.starts.slice(),
        ends: row.ends.slice(),
      }), () => {
      throw new Error("no row may be skipped");
    });
    scanner.push(new TextEncoder().encode(file));
    scanner.end();
    const builder = new BatchBuilder(100, CLIENT_FRAME_BYTES_MAX, false);
    for (const row of rows) builder.addRow(row);
    assert.deepEqual(decode(builder.flush()!).bets, wire(bets));
  }
});

Deno.test("BatchBuilder encodes a row the same at any byte offset of the scanner's buffer", () => {
  const bets = [
    makeBet({ firstName: "A", lastName: "B", document: "1", number: 0 }),
    makeBet({ firstName: "María José", lastName: "x".repeat(255), number: 9999 }),
    makeBet({ firstName: "Ñandú", lastName: "Gómez", document: "12345678901" }),
  ];
  const file = new TextEncoder().encode(bets.map(formatAgencyRow).join(""));
  for (let offset = 0; offset < 5; offset += 1) {
    // The rows start `offset` bytes into the chunk's buffer.
    const buffer = new Uint8Array(offset + file.length);
    buffer.set(file, offset);
    const builder = new BatchBuilder(100, CLIENT_FRAME_BYTES_MAX, false);
    const scanner = new AgencyRowScanner(dateNumber(new Date()), (row) => {
      builder.addRow(row);
    }, () => {
      throw new Error("no row may be skipped");
    });
    scanner.push(buffer.subarray(offset));
    scanner.end();
    assert.deepEqual(decode(builder.flush()!).bets, wire(bets), `offset ${offset}`);
  }
});
