import assert from "node:assert/strict";
import { AgencyRowScanner } from "../lib/bet/agency_row_scanner.ts";
import { BatchBuilder, type EncodedBatch } from "../lib/client/batch_builder.ts";
import { dateNumber } from "../lib/bet/bet_bytes.ts";
import { formatAgencyRow } from "../lib/bet/bet_csv.ts";
import { CLIENT_FRAME_BYTES_MAX } from "../lib/limits.ts";
import { decodeMessage } from "../lib/protocol/message_codec.ts";
import { FRAME_HEADER_BYTES, MessageType } from "../lib/protocol/protocol.ts";
import { makeBet, makeBets } from "./helpers/bets.ts";

function wire(bets: ReturnType<typeof makeBets>) {
  return bets.map(({ agency: _, ...bet }) => bet);
}

function collect(
  builder: BatchBuilder,
  add: (builder: BatchBuilder) => (EncodedBatch | undefined)[],
) {
  const batches = add(builder).filter((batch) => batch !== undefined);
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

Deno.test("BatchBuilder makes batches of exactly maxBets except the last, numbered from 1", async (t) => {
  for (const total of [0, 1, 99, 100, 101, 250]) {
    await t.step(`${total} bets`, () => {
      const bets = wire(makeBets(1, total));
      const batches = collect(
        new BatchBuilder(100, CLIENT_FRAME_BYTES_MAX, false),
        (builder) => bets.map((bet) => builder.add(bet)),
      );
      const sizes = batches.map((batch) => batch.count);
      const expected = [
        ...Array(Math.floor(total / 100)).fill(100),
        ...(total % 100 ? [total % 100] : []),
      ];
      assert.deepEqual(sizes, expected);
      assert.deepEqual(
        batches.map((batch) => batch.sequence),
        expected.map((_, index) => index + 1),
      );
      assert.deepEqual(batches.flatMap((batch) => decode(batch).bets), bets);
    });
  }
});

Deno.test("BatchBuilder closes a batch early when the next bet would pass the frame cap, and says so", () => {
  const long = "Ñ".repeat(120);
  const bets = wire(makeBets(1, 40)).map((bet) => ({ ...bet, firstName: long, lastName: long }));
  const splits: number[] = [];
  const batches = collect(
    new BatchBuilder(100, CLIENT_FRAME_BYTES_MAX, false, (batch) => splits.push(batch.sequence)),
    (builder) => bets.map((bet) => builder.add(bet)),
  );
  assert.ok(batches.length > 1);
  for (const batch of batches) assert.ok(batch.frame.length <= CLIENT_FRAME_BYTES_MAX);
  assert.deepEqual(splits, batches.slice(0, -1).map((batch) => batch.sequence));
  assert.deepEqual(batches.flatMap((batch) => decode(batch).bets), bets);
});

Deno.test("BatchBuilder.addRow() frames the same bytes as add() for the same bets", () => {
  const bets = makeBets(2, 230, { winnersAt: [3] });
  const viaAdd = collect(
    new BatchBuilder(100, CLIENT_FRAME_BYTES_MAX, true),
    (builder) => wire(bets).map((bet) => builder.add(bet)),
  );
  const rows: (EncodedBatch | undefined)[] = [];
  const builder = new BatchBuilder(100, CLIENT_FRAME_BYTES_MAX, true);
  const scanner = new AgencyRowScanner(
    dateNumber(new Date()),
    (row) => rows.push(builder.addRow(row)),
    () => {
      throw new Error("no row may be skipped");
    },
  );
  scanner.push(new TextEncoder().encode(bets.map(formatAgencyRow).join("")));
  scanner.end();
  const viaRows = collect(builder, () => rows);
  assert.deepEqual(viaRows.map((batch) => batch.frame), viaAdd.map((batch) => batch.frame));
  assert.deepEqual(viaRows.map((batch) => batch.bets), viaAdd.map((batch) => batch.bets));
});

Deno.test("BatchBuilder refuses a frame cap too small for the largest bet", () => {
  assert.throws(() => new BatchBuilder(10, 512, false), RangeError);
  assert.ok(new BatchBuilder(1, CLIENT_FRAME_BYTES_MAX, false).add(wire([makeBet()])[0]!));
});
