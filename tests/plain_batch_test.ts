import assert from "node:assert/strict";
import { copyPlainBatch, writeNumber } from "../lib/server/plain_batch.ts";
import { BET_NUMBER_MAX } from "../lib/bet/bet.ts";
import {
  readBatchHeader,
  scanBatch,
  scanBatchFieldByField,
  type ScannedBatch,
} from "../lib/server/batch_scan.ts";
import { dateNumber } from "../lib/bet/bet_bytes.ts";
import { generateAgencyBets, seededRandom } from "../lib/dev/bet_generator.ts";
import { encodeMessage } from "../lib/protocol/message_codec.ts";
import { FRAME_HEADER_BYTES, MessageType, ProtocolError } from "../lib/protocol/protocol.ts";
import { NAME_BYTES_MAX } from "../lib/limits.ts";

const TODAY = dateNumber(new Date());
const _encoder = new TextEncoder();

/** A field as wire bytes: text is UTF-8 encoded, numbers are bytes as they are. */
type Field = string | readonly number[];

interface RawBet {
  firstName?: Field;
  lastName?: Field;
  document?: Field;
  birthdate?: Field;
  number?: number;
}

function _fieldBytes(field: Field): number[] {
  return typeof field === "string" ? [..._encoder.encode(field)] : [...field];
}

/** A batch body of bets written byte by byte, so names may hold any bytes. */
function rawBody(first: number, bets: readonly RawBet[], declared = bets.length): Uint8Array {
  const bytes: number[] = [first >>> 24, (first >>> 16) & 255, (first >>> 8) & 255, first & 255];
  bytes.push(declared >>> 8, declared & 255);
  for (const bet of bets) {
    for (
      const field of [
        bet.firstName ?? "Ana",
        bet.lastName ?? "Pérez",
        bet.document ?? "30123456",
        bet.birthdate ?? "1990-05-17",
      ]
    ) {
      const fieldBytes = _fieldBytes(field);
      bytes.push(fieldBytes.length, ...fieldBytes);
    }
    const number = bet.number ?? 1234;
    bytes.push(number >>> 8, number & 255);
  }
  return new Uint8Array(bytes);
}

type Outcome = { rows: ScannedBatch } | { error: ProtocolError };

function outcomeOf(scan: () => ScannedBatch): Outcome {
  try {
    const scanned = scan();
    // The rows are a view of a scratch buffer: keep a copy.
    return { rows: { ...scanned, rows: { ...scanned.rows, bytes: scanned.rows.bytes.slice() } } };
  } catch (error) {
    assert.ok(error instanceof ProtocolError, `the scan threw ${error}`);
    return { error };
  }
}

/** True when the fast path takes the body (and then it must agree with the reference). */
function fastTakes(body: Uint8Array, agency: number): boolean {
  const { first, count } = readBatchHeader(body);
  return copyPlainBatch(
    body,
    first,
    count,
    agency,
    new Uint8Array(64 * 1024 + body.length * 2),
    TODAY,
  ) !== -1;
}

/**
 * scanBatch (fast path first) and scanBatchFieldByField agree exactly: the
 * same rows, digest and winners, or the same error code, message and batch
 * context (bet index and field).
 * @returns whether the fast path took the batch
 */
function assertSameOutcome(body: Uint8Array, label: string, agency = 1): boolean {
  const reference = outcomeOf(() => scanBatchFieldByField(body, agency, TODAY));
  const scanned = outcomeOf(() => scanBatch(body, agency, TODAY));
  const taken = fastTakes(body, agency);
  if ("error" in reference) {
    assert.ok(!taken, `${label}: the fast path took a batch the field-by-field scan refuses`);
    assert.ok("error" in scanned, `${label}: scanBatch took what the field-by-field scan refuses`);
    assert.equal(scanned.error.code, reference.error.code, label);
    assert.equal(scanned.error.message, reference.error.message, label);
    assert.deepEqual(scanned.error.batch, reference.error.batch, label);
  } else {
    assert.ok("rows" in scanned, `${label}: scanBatch refused a valid batch`);
    assert.deepEqual(scanned.rows, reference.rows, label);
  }
  return taken;
}

Deno.test("copyPlainBatch() takes generated batches with accented names and writes the field-by-field scan's rows", () => {
  const bets = [...generateAgencyBets({ agency: 12, bets: 1_000, winners: 20, seed: 5 })];
  for (let start = 0; start < bets.length; start += 100) {
    const wire = bets.slice(start, start + 100).map(({ agency: _, ...bet }) => bet);
    const body = encodeMessage({
      type: MessageType.batch,
      first: 4_000_000_000 + start,
      bets: wire,
    })
      .subarray(FRAME_HEADER_BYTES);
    assert.ok(assertSameOutcome(body, `bets ${start}..`, 12), `batch at ${start} not taken`);
  }
});

Deno.test("copyPlainBatch() writes the agency column for 0, 1 digit and AGENCIES_MAX, and refuses an agency out of range", () => {
  const body = rawBody(0, [{}, { number: 7574 }]);
  for (const agency of [0, 9, 10, 99_999, 100_000]) {
    assertSameOutcome(body, `agency ${agency}`, agency);
  }
  assert.throws(() => scanBatch(body, 100_001, TODAY), RangeError);
  assert.throws(() => scanBatch(body, 1.5, TODAY), RangeError);
});

Deno.test("scanBatch() takes the fast path or not, and agrees with scanBatchFieldByField(), on names at every rule's bounds", async (t) => {
  const cases: { name: string; field: Field; plain: boolean }[] = [
    { name: "ASCII", field: "Ana", plain: true },
    { name: "leading and inner spaces", field: "  Ana  Paz ", plain: true },
    { name: "empty", field: "", plain: false },
    { name: "only spaces", field: "   ", plain: false },
    { name: "a comma (valid, quoted in the row)", field: "Paz, Ana", plain: false },
    { name: "a quote (valid, quoted in the row)", field: 'Ana "La" Paz', plain: false },
    { name: "accents", field: "Ñandú Güemes", plain: true },
    { name: `${NAME_BYTES_MAX} ASCII bytes`, field: "a".repeat(NAME_BYTES_MAX), plain: true },
    {
      name: `${NAME_BYTES_MAX} bytes ending in a two-byte character`,
      field: "a".repeat(NAME_BYTES_MAX - 2) + "é",
      plain: true,
    },
    {
      name: `${NAME_BYTES_MAX} bytes ending in half a two-byte character`,
      field: [..."a".repeat(NAME_BYTES_MAX - 1)].map((char) => char.charCodeAt(0)).concat(0xc3),
      plain: false,
    },
    { name: "U+00A0 (C2 A0, above C1)", field: [0x41, 0xc2, 0xa0], plain: true },
    { name: "U+07FF (DF BF)", field: [0xdf, 0xbf], plain: true },
    { name: "U+0800 (E0 A0 80)", field: [0xe0, 0xa0, 0x80], plain: true },
    { name: "U+D7FF (ED 9F BF)", field: [0xed, 0x9f, 0xbf], plain: true },
    { name: "U+E000 (EE 80 80)", field: [0xee, 0x80, 0x80], plain: true },
    { name: "U+FFFD", field: "\ufffd", plain: true },
    { name: "U+FEFF at the start", field: "\ufeffAna", plain: true },
    { name: "U+10000 (F0 90 80 80)", field: [0xf0, 0x90, 0x80, 0x80], plain: true },
    { name: "U+10FFFF (F4 8F BF BF)", field: [0xf4, 0x8f, 0xbf, 0xbf], plain: true },
    { name: "overlong NUL (C0 80)", field: [0x41, 0xc0, 0x80], plain: false },
    { name: "overlong (C1 BF)", field: [0xc1, 0xbf], plain: false },
    { name: "overlong (E0 9F BF)", field: [0xe0, 0x9f, 0xbf], plain: false },
    { name: "overlong (F0 8F BF BF)", field: [0xf0, 0x8f, 0xbf, 0xbf], plain: false },
    { name: "surrogate U+D800 (ED A0 80)", field: [0xed, 0xa0, 0x80], plain: false },
    { name: "surrogate U+DFFF (ED BF BF)", field: [0xed, 0xbf, 0xbf], plain: false },
    { name: "above U+10FFFF (F4 90 80 80)", field: [0xf4, 0x90, 0x80, 0x80], plain: false },
    { name: "F5 lead", field: [0xf5, 0x80, 0x80, 0x80], plain: false },
    { name: "FF byte", field: [0x41, 0xff], plain: false },
    { name: "lone continuation byte", field: [0x41, 0x80], plain: false },
    { name: "two-byte lead before ASCII", field: [0xc3, 0x41], plain: false },
    { name: "three-byte character cut short", field: [0xe2, 0x82], plain: false },
    { name: "four-byte character cut short", field: [0xf0, 0x9f, 0x98], plain: false },
  ];
  const controls = [
    ...Array.from({ length: 0x20 }, (_, code) => code),
    0x7f,
    ...Array.from({ length: 0x20 }, (_, code) => 0x80 + code),
  ];
  for (const code of controls) {
    cases.push({
      name: `control U+${code.toString(16).toUpperCase().padStart(4, "0")}`,
      field: [0x41, ...(code < 0x80 ? [code] : [0xc2, code]), 0x42],
      plain: false,
    });
  }
  for (const { name, field, plain } of cases) {
    await t.step(name, () => {
      for (const which of ["firstName", "lastName"] as const) {
        const body = rawBody(9, [{}, { [which]: field }, {}]);
        const taken = assertSameOutcome(body, `${name} in ${which}`);
        assert.equal(taken, plain, `${name} in ${which}: fast path taken`);
      }
    });
  }
});

Deno.test("scanBatch() agrees with scanBatchFieldByField() on documents, birthdates, numbers and counts at their bounds", async (t) => {
  const tomorrow = new Date();
  tomorrow.setDate(tomorrow.getDate() + 1);
  const iso = (date: Date) =>
    `${String(date.getFullYear()).padStart(4, "0")}-${
      String(date.getMonth() + 1).padStart(2, "0")
    }-${String(date.getDate()).padStart(2, "0")}`;
  const cases: { name: string; bets: RawBet[]; declared?: number; plain: boolean }[] = [
    { name: "document of 1 digit", bets: [{ document: "7" }], plain: true },
    { name: "document of 12 digits", bets: [{ document: "123456789012" }], plain: true },
    { name: "document of 13 digits", bets: [{ document: "1234567890123" }], plain: false },
    { name: "empty document", bets: [{ document: "" }], plain: false },
    { name: "document with a letter", bets: [{ document: "1234a" }], plain: false },
    { name: "document with a slash", bets: [{ document: "12/4" }], plain: false },
    { name: "2023-02-29", bets: [{ birthdate: "2023-02-29" }], plain: false },
    { name: "2024-02-29", bets: [{ birthdate: "2024-02-29" }], plain: true },
    { name: "1900-02-29", bets: [{ birthdate: "1900-02-29" }], plain: false },
    { name: "2000-02-29", bets: [{ birthdate: "2000-02-29" }], plain: true },
    { name: "2023-04-31", bets: [{ birthdate: "2023-04-31" }], plain: false },
    { name: "2023-12-31", bets: [{ birthdate: "2023-12-31" }], plain: true },
    { name: "2023-13-01", bets: [{ birthdate: "2023-13-01" }], plain: false },
    { name: "2023-00-10", bets: [{ birthdate: "2023-00-10" }], plain: false },
    { name: "2023-01-00", bets: [{ birthdate: "2023-01-00" }], plain: false },
    { name: "0000-01-01", bets: [{ birthdate: "0000-01-01" }], plain: false },
    { name: "0001-01-01", bets: [{ birthdate: "0001-01-01" }], plain: true },
    { name: "today", bets: [{ birthdate: iso(new Date()) }], plain: true },
    { name: "tomorrow", bets: [{ birthdate: iso(tomorrow) }], plain: false },
    { name: "9 bytes", bets: [{ birthdate: "2023-1-01" }], plain: false },
    { name: "11 bytes", bets: [{ birthdate: "2023-01-011" }], plain: false },
    { name: "slashes", bets: [{ birthdate: "2023/01/01" }], plain: false },
    { name: "a digit that is not one", bets: [{ birthdate: "2023-0:-01" }], plain: false },
    { name: "number 0", bets: [{ number: 0 }], plain: true },
    { name: "number 9999", bets: [{ number: 9999 }], plain: true },
    { name: "number 10000", bets: [{ number: 10_000 }], plain: false },
    { name: "number 65535", bets: [{ number: 65_535 }], plain: false },
    { name: "winners", bets: [{ number: 7574 }, {}, { number: 7574, document: "1" }], plain: true },
    { name: "no bets", bets: [], plain: true },
    { name: "3 bets declared as 2", bets: [{}, {}, {}], declared: 2, plain: false },
    { name: "3 bets declared as 4", bets: [{}, {}, {}], declared: 4, plain: false },
    { name: "0 bets declared as 1", bets: [], declared: 1, plain: false },
    { name: "1 bet declared as 0", bets: [{}], declared: 0, plain: false },
  ];
  for (const { name, bets, declared, plain } of cases) {
    await t.step(name, () => {
      const body = rawBody(3, [{}, ...bets], declared === undefined ? undefined : declared + 1);
      assert.equal(assertSameOutcome(body, name), plain, `${name}: fast path taken`);
    });
  }
  await t.step("a body cut at every byte", () => {
    const body = rawBody(3, [{}, { firstName: "Zoé" }, { number: 7574 }]);
    for (let end = 0; end <= body.length; end += 1) {
      const cut = body.subarray(0, end);
      if (end < 6) assert.throws(() => scanBatch(cut, 1, TODAY), ProtocolError);
      else assertSameOutcome(cut, `cut at ${end}`);
    }
  });
});

Deno.test("scanBatch() agrees with scanBatchFieldByField() on randomly mutated batches", () => {
  const random = seededRandom(2024);
  const int = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const interesting = [
    0x00,
    0x09,
    0x0a,
    0x1f,
    0x20,
    0x22,
    0x2c,
    0x2d,
    0x30,
    0x39,
    0x3a,
    0x7f,
    0x80,
    0x9f,
    0xa0,
    0xbf,
    0xc0,
    0xc1,
    0xc2,
    0xc3,
    0xdf,
    0xe0,
    0xed,
    0xef,
    0xf0,
    0xf4,
    0xf5,
    0xff,
    10,
    13,
  ];
  const bets = [...generateAgencyBets({ agency: 2, bets: 400, winners: 10, seed: 9 })]
    .map(({ agency: _, ...bet }) => bet);
  let taken = 0;
  let refused = 0;
  const trials = 4_000;
  for (let trial = 0; trial < trials; trial += 1) {
    const start = int(0, bets.length - 20);
    const slice = bets.slice(start, start + int(1, 20));
    const body = encodeMessage({ type: MessageType.batch, first: start, bets: slice })
      .slice(FRAME_HEADER_BYTES);
    for (let mutations = int(0, 3); mutations > 0; mutations -= 1) {
      const at = int(4, body.length - 1);
      body[at] = random() < 0.6 ? interesting[int(0, interesting.length - 1)]! : int(0, 255);
    }
    const mutated = random() < 0.1 ? body.subarray(0, int(6, body.length)) : body;
    const label = `trial ${trial}`;
    if (assertSameOutcome(mutated, label)) taken += 1;
    try {
      scanBatchFieldByField(mutated, 1, TODAY);
    } catch {
      refused += 1;
    }
  }
  // Both sides of the comparison were exercised.
  assert.ok(taken > trials / 10, `the fast path took only ${taken} of ${trials}`);
  assert.ok(refused > trials / 10, `only ${refused} of ${trials} were refused`);
});

Deno.test("writeNumber() writes 0 to BET_NUMBER_MAX in decimal, each digit count at its edges", () => {
  const out = new Uint8Array(8);
  for (const value of [0, 9, 10, 99, 100, 999, 1000, 7574, BET_NUMBER_MAX]) {
    const end = writeNumber(out, 1, value);
    assert.equal(new TextDecoder().decode(out.subarray(1, end)), String(value));
  }
  for (let value = 0; value <= BET_NUMBER_MAX; value += 1) {
    const end = writeNumber(out, 0, value);
    assert.equal(Number(new TextDecoder().decode(out.subarray(0, end))), value);
    assert.equal(end, String(value).length);
  }
});
