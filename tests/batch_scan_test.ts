import assert from "node:assert/strict";
import { readBatchHeader, scanBatch } from "../lib/server/batch_scan.ts";
import { type Bet, todayIsoDate, validateBet } from "../lib/bet/bet.ts";
import { dateNumber } from "../lib/bet/bet_bytes.ts";
import { generateAgencyBets } from "../lib/dev/bet_generator.ts";
import { encodeMessage } from "../lib/protocol/message_codec.ts";
import {
  ErrorCode,
  FRAME_HEADER_BYTES,
  MessageType,
  ProtocolError,
} from "../lib/protocol/protocol.ts";
import { storeRowsOf } from "./helpers/store_rows.ts";
import { makeBets } from "./helpers/bets.ts";

const TODAY = dateNumber(new Date());

function body(first: number, bets: readonly Bet[]): Uint8Array {
  const wire = bets.map(({ agency: _, ...bet }) => bet);
  return encodeMessage({ type: MessageType.batch, first, bets: wire }).subarray(
    FRAME_HEADER_BYTES,
  );
}

Deno.test("scanBatch() encodes exactly the rows, winners and digest of the slow encoder", () => {
  const generated = [...generateAgencyBets({ agency: 3, bets: 500, winners: 7, seed: 11 })];
  const tricky = makeBets(3, 40, { winnersAt: [0, 39] });
  for (const bets of [generated, tricky, []]) {
    const scanned = scanBatch(body(9, bets), 3, TODAY);
    const expected = storeRowsOf(bets, 9);
    assert.equal(scanned.first, 9);
    assert.equal(scanned.rows.digest, expected.digest);
    assert.equal(scanned.rows.count, bets.length);
    assert.equal(
      new TextDecoder().decode(scanned.rows.bytes),
      new TextDecoder().decode(expected.bytes),
    );
    assert.deepEqual(scanned.rows.winners, expected.winners);
  }
});

Deno.test("scanBatch() refuses the first invalid bet with the same field as validateBet()", async (t) => {
  const cases: { name: string; change: Partial<Bet> }[] = [
    { name: "whitespace-only first name", change: { firstName: "   " } },
    { name: "last name with a line break", change: { lastName: "Paz\nRuiz" } },
    { name: "document with a letter", change: { document: "1234a" } },
    { name: "document of 13 digits", change: { document: "1234567890123" } },
    { name: "impossible birthdate", change: { birthdate: "2023-02-29" } },
    { name: "birthdate tomorrow", change: { birthdate: "9999-12-31" } },
    { name: "number 10000", change: { number: 10_000 } },
  ];
  for (const { name, change } of cases) {
    await t.step(name, () => {
      const bets = makeBets(1, 3);
      bets[1] = { ...bets[1]!, ...change };
      const expected = validateBet(bets[1], todayIsoDate(), 1);
      assert.ok(expected !== undefined);
      assert.throws(() => scanBatch(body(4, bets), 1, TODAY), (error: unknown) => {
        assert.ok(error instanceof ProtocolError);
        assert.equal(error.code, ErrorCode.invalidBet);
        assert.deepEqual(error.batch, { first: 4, betIndex: 2, field: expected.field });
        return true;
      });
    });
  }
});

Deno.test("scanBatch() refuses a name holding a control character (C0, DEL, C1) as validateBet() does", async (t) => {
  for (const codePoint of [0x00, 0x09, 0x1b, 0x1f, 0x7f, 0x80, 0x85, 0x9f]) {
    const control = String.fromCodePoint(codePoint);
    // Otherwise plain names: the fast path sees them first.
    for (const change of [{ firstName: `Ana${control}` }, { lastName: `${control}Paz` }]) {
      const field = "firstName" in change ? "first_name" : "last_name";
      await t.step(`U+${codePoint.toString(16).padStart(4, "0")} in ${field}`, () => {
        const bets = makeBets(1, 3).map((bet) => ({ ...bet, firstName: "Ana", lastName: "Paz" }));
        bets[2] = { ...bets[2]!, ...change };
        assert.equal(validateBet(bets[2], todayIsoDate(), 1)?.field, field);
        assert.throws(() => scanBatch(body(4, bets), 1, TODAY), (error: unknown) => {
          assert.ok(error instanceof ProtocolError);
          assert.equal(error.code, ErrorCode.invalidBet);
          assert.deepEqual(error.batch, { first: 4, betIndex: 3, field });
          return true;
        });
      });
    }
  }
});

Deno.test("scanBatch() refuses invalid UTF-8 in a name as invalidBet", () => {
  const bytes = body(2, makeBets(1, 1, {}).map((bet) => ({ ...bet, firstName: "Ab" })));
  bytes[7] = 0xff; // the second byte of the first name "Ab"
  assert.throws(() => scanBatch(bytes, 1, TODAY), (error: unknown) => {
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.code, ErrorCode.invalidBet);
    assert.equal(error.batch?.field, "first_name");
    return true;
  });
});

Deno.test("scanBatch() refuses a declared count above or below the content with countMismatch, naming no bet", async (t) => {
  for (const declared of [2, 4]) {
    await t.step(`3 bets declared as ${declared}`, () => {
      const bytes = body(6, makeBets(1, 3));
      new DataView(bytes.buffer, bytes.byteOffset).setUint16(4, declared);
      assert.throws(() => scanBatch(bytes, 1, TODAY), (error: unknown) => {
        assert.ok(error instanceof ProtocolError);
        assert.equal(error.code, ErrorCode.countMismatch);
        assert.deepEqual(error.batch, { first: 6, betIndex: 0, field: "" });
        assert.match(error.message, new RegExp(`batch declares ${declared} bets`));
        return true;
      });
    });
  }
});

Deno.test("readBatchHeader() refuses a body shorter than its 6-byte header", () => {
  assert.deepEqual(readBatchHeader(new Uint8Array([0, 0, 0, 7, 0, 2])), { first: 7, count: 2 });
  assert.throws(() => readBatchHeader(new Uint8Array(5)), ProtocolError);
});
