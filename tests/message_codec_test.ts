import assert from "node:assert/strict";
import { BufferedReader } from "../lib/protocol/buffered_reader.ts";
import { ByteWriter } from "../lib/protocol/byte_cursor.ts";
import { FRAME_BYTES_MAX_DEFAULT } from "../lib/limits.ts";
import {
  batchAckFrame,
  decodeMessage,
  encodeBet,
  encodeMessage,
  encodeWinnerDocuments,
  finishFrame,
  type Frame,
  type Message,
  startFrame,
  type WireBet,
} from "../lib/protocol/message_codec.ts";
import {
  ErrorCode,
  FRAME_HEADER_BYTES,
  FRAME_MARKER,
  MessageType,
  PROTOCOL_VERSION,
} from "../lib/protocol/protocol.ts";
import { ChunkedSource, joinBytes } from "./helpers/byte_io.ts";
import { catchProtocolError, protocolError } from "./helpers/protocol_errors.ts";

const _BET: WireBet = {
  firstName: "Ana",
  lastName: "Pérez",
  document: "30123456",
  birthdate: "1990-05-17",
  number: 1234,
};

const _TRICKY_BETS: WireBet[] = [
  _BET,
  { ..._BET, firstName: 'Ana "Anita"', lastName: "Pérez, Núñez", number: 0 },
  { ..._BET, firstName: "Zoé 😀👍🏽", lastName: "O'Connor", number: 9999 },
  { ..._BET, firstName: "é".repeat(127) + "a", lastName: "Ñ", number: 7574 },
];

/** One message of every type, with values at their bounds. */
const _EVERY_MESSAGE: [string, Message][] = [
  ["hello", { type: MessageType.hello, agency: 1 }],
  ["hello agency 0", { type: MessageType.hello, agency: 0 }],
  ["hello agency u32 max", { type: MessageType.hello, agency: 0xffff_ffff }],
  ["helloAck", {
    type: MessageType.helloAck,
    drawId: "20261201-094200-1a2b",
    storedBets: 700,
    storedDigest: 0xdead_beef,
    checkpoints: [{ position: 100, digest: 1 }, { position: 700, digest: 0xdead_beef }],
  }],
  ["helloAck zeros", {
    type: MessageType.helloAck,
    drawId: "",
    storedBets: 0,
    storedDigest: 0,
    checkpoints: [],
  }],
  ["helloAck at its bounds", {
    type: MessageType.helloAck,
    drawId: "d".repeat(255),
    storedBets: 0xffff_ffff,
    storedDigest: 0xffff_ffff,
    checkpoints: [{ position: 0xffff_ffff, digest: 0xffff_ffff }],
  }],
  ["batch of 0 bets", { type: MessageType.batch, first: 1, bets: [] }],
  ["batch of 1 bet", { type: MessageType.batch, first: 2, bets: [_BET] }],
  ["batch of tricky names", { type: MessageType.batch, first: 0xffff_ffff, bets: _TRICKY_BETS }],
  ["batchAck", { type: MessageType.batchAck, first: 3, count: 100 }],
  ["batchAck count u16 max", { type: MessageType.batchAck, first: 3, count: 0xffff }],
  ["batchNack", {
    type: MessageType.batchNack,
    first: 4,
    count: 2,
    code: ErrorCode.invalidBet,
    betIndex: 2,
    field: "birthdate",
    reason: '"2023-02-29" is not a YYYY-MM-DD date',
    expected: 300,
  }],
  ["batchNack without bet", {
    type: MessageType.batchNack,
    first: 5,
    count: 0,
    code: ErrorCode.drawClosed,
    betIndex: 0,
    field: "",
    reason: "",
    expected: 0xffff_ffff,
  }],
  ["finished", { type: MessageType.finished, total: 2000 }],
  ["finished 0", { type: MessageType.finished, total: 0 }],
  ["winnersQuery", { type: MessageType.winnersQuery }],
  ["winners none", { type: MessageType.winners, documents: [] }],
  ["winners", { type: MessageType.winners, documents: ["30123456", "0", "123456789012"] }],
  ["error", { type: MessageType.error, code: ErrorCode.tooManyConnections, text: "busy, ¡adiós!" }],
];

/** Reads every frame from `bytes`, `chunkBytes` at a time, until a clean end. */
async function readAllFrames(bytes: Uint8Array, chunkBytes: number): Promise<Frame[]> {
  const reader = new BufferedReader(new ChunkedSource(bytes, chunkBytes));
  const frames: Frame[] = [];
  while (true) {
    const frame = await reader.readFrame(FRAME_BYTES_MAX_DEFAULT);
    if (frame === null) return frames;
    frames.push(frame);
  }
}

/** A batch frame's bytes with its declared bet count replaced. */
function withBatchCount(frame: Uint8Array, count: number): Uint8Array {
  const copy = frame.slice();
  new DataView(copy.buffer).setUint16(FRAME_HEADER_BYTES + 4, count);
  return copy;
}

/** The frame that `bytes` holds, header dropped, without going through a reader. */
function frameOf(bytes: Uint8Array): Frame {
  return { type: bytes[2]!, body: bytes.subarray(FRAME_HEADER_BYTES) };
}

Deno.test("encodeMessage() writes marker, version, type and big-endian body length", () => {
  assert.deepEqual(
    [...encodeMessage({ type: MessageType.hello, agency: 0x01020304 })],
    [FRAME_MARKER, PROTOCOL_VERSION, MessageType.hello, 0, 0, 0, 4, 1, 2, 3, 4],
  );
  assert.deepEqual(
    [...encodeMessage({ type: MessageType.winnersQuery })],
    [FRAME_MARKER, PROTOCOL_VERSION, MessageType.winnersQuery, 0, 0, 0, 0],
  );
});

Deno.test("encodeMessage() writes a bet as four length-prefixed texts and a u16 number", () => {
  const frame = encodeMessage({ type: MessageType.batch, first: 9, bets: [_BET] });
  const body = [...frame.subarray(FRAME_HEADER_BYTES)];
  const text = (value: string) => [value.length, ...new TextEncoder().encode(value)];
  assert.deepEqual(body, [
    ...[0, 0, 0, 9, 0, 1],
    ...text("Ana"),
    6,
    ...new TextEncoder().encode("Pérez"),
    ...text("30123456"),
    ...text("1990-05-17"),
    0x04,
    0xd2,
  ]);
});

Deno.test("encodeMessage() then readFrame() then decodeMessage() round-trips every type", async (t) => {
  for (const [name, message] of _EVERY_MESSAGE) {
    await t.step(name, async () => {
      const frames = await readAllFrames(encodeMessage(message), 1);
      assert.equal(frames.length, 1);
      assert.equal(frames[0]!.type, message.type);
      assert.deepEqual(decodeMessage(frames[0]!), message);
    });
  }
});

Deno.test("decodeMessage() decodes a stream of every type fed one byte per read", async () => {
  const stream = joinBytes(_EVERY_MESSAGE.map(([, message]) => encodeMessage(message)));
  const frames = await readAllFrames(stream, 1);
  assert.deepEqual(frames.map(decodeMessage), _EVERY_MESSAGE.map(([, message]) => message));
});

Deno.test("startFrame() and finishFrame() patch each frame's length in a shared writer", () => {
  const writer = new ByteWriter(8);
  startFrame(writer, MessageType.batch);
  writer.u32(1).u16(1);
  encodeBet(writer, _BET);
  finishFrame(writer);
  const second = writer.length;
  startFrame(writer, MessageType.finished);
  writer.u32(1);
  const bytes = finishFrame(writer, second);
  const first = frameOf(bytes.subarray(0, second));
  assert.deepEqual(decodeMessage(first), { type: MessageType.batch, first: 1, bets: [_BET] });
  assert.deepEqual(decodeMessage(frameOf(bytes.subarray(second))), {
    type: MessageType.finished,
    total: 1,
  });
  assert.equal(new DataView(bytes.buffer).getUint32(3), second - FRAME_HEADER_BYTES);
});

Deno.test("encodeMessage() rejects a field that does not fit its wire type with RangeError", async (t) => {
  const cases: [string, Message][] = [
    ["name of 256 bytes", {
      type: MessageType.batch,
      first: 1,
      bets: [{ ..._BET, firstName: "é".repeat(128) }],
    }],
    ["document of 256 bytes", { type: MessageType.winners, documents: ["1".repeat(256)] }],
    ["number 65536", { type: MessageType.batch, first: 1, bets: [{ ..._BET, number: 65536 }] }],
    ["number -1", { type: MessageType.batch, first: 1, bets: [{ ..._BET, number: -1 }] }],
    ["65536 bets", {
      type: MessageType.batch,
      first: 1,
      bets: new Array<WireBet>(0x1_0000).fill(_BET),
    }],
    ["first 2^32", { type: MessageType.batch, first: 0x1_0000_0000, bets: [] }],
    ["agency -1", { type: MessageType.hello, agency: -1 }],
    ["batchAck count 65536", { type: MessageType.batchAck, first: 1, count: 0x1_0000 }],
    ["field of 256 bytes", {
      type: MessageType.batchNack,
      first: 1,
      count: 1,
      code: ErrorCode.invalidBet,
      betIndex: 1,
      field: "f".repeat(256),
      reason: "",
      expected: 0,
    }],
  ];
  for (const [name, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => encodeMessage(message), RangeError);
    });
  }
});

Deno.test("encodeMessage() clips long error texts and nack reasons to 256 characters", async (t) => {
  await t.step("error text", () => {
    const frame = encodeMessage({ type: MessageType.error, code: 1, text: "x".repeat(5000) });
    const message = decodeMessage(frameOf(frame));
    assert.equal(message.type, MessageType.error);
    assert.equal(message.text, "x".repeat(256));
  });
  await t.step("nack reason of 4-byte characters stays within 1024 bytes", () => {
    const frame = encodeMessage({
      type: MessageType.batchNack,
      first: 1,
      count: 1,
      code: ErrorCode.invalidBet,
      betIndex: 1,
      field: "first_name",
      reason: "😀".repeat(1000),
      expected: 0,
    });
    const message = decodeMessage(frameOf(frame));
    assert.equal(message.type, MessageType.batchNack);
    assert.equal(message.reason, "😀".repeat(128));
    assert.ok(frame.length < 1024 + 64);
  });
});

Deno.test("decodeMessage() rejects a batch declaring more bets than it holds with countMismatch", async () => {
  const frame = encodeMessage({ type: MessageType.batch, first: 41, bets: [_BET, _BET] });
  const error = await catchProtocolError(() => decodeMessage(frameOf(withBatchCount(frame, 3))));
  assert.equal(error.code, ErrorCode.countMismatch);
  assert.deepEqual(error.batch, { first: 41, betIndex: 0, field: "" });
  assert.match(error.message, /bet 3: body ends inside first_name/);
});

Deno.test("decodeMessage() rejects a batch holding more bets than it declares with countMismatch", async (t) => {
  const frame = encodeMessage({ type: MessageType.batch, first: 42, bets: [_BET, _BET] });
  for (const count of [0, 1]) {
    await t.step(`declares ${count} of 2`, async () => {
      const error = await catchProtocolError(() =>
        decodeMessage(frameOf(withBatchCount(frame, count)))
      );
      assert.equal(error.code, ErrorCode.countMismatch);
      assert.deepEqual(error.batch, { first: 42, betIndex: 0, field: "" });
      assert.match(error.message, new RegExp(`declares ${count} bets`));
    });
  }
});

Deno.test("decodeMessage() says in the reason, not the bet index, where a batch's last bet is cut short", async (t) => {
  const frame = encodeMessage({ type: MessageType.batch, first: 43, bets: [_BET, _BET] });
  // The second bet starts after the batch prefix and the first bet.
  const secondBet = frame.length - (frame.length - FRAME_HEADER_BYTES - 6) / 2;
  const cases: [number, string][] = [
    [secondBet + 2, "first_name"],
    [secondBet + 4, "last_name"],
    [frame.length - 1, "number"],
  ];
  for (const [cut, field] of cases) {
    await t.step(`cut inside ${field}`, async () => {
      const error = await catchProtocolError(() => decodeMessage(frameOf(frame.subarray(0, cut))));
      assert.equal(error.code, ErrorCode.countMismatch);
      assert.deepEqual(error.batch, { first: 43, betIndex: 0, field: "" });
      assert.match(error.message, new RegExp(`bet 2: body ends inside ${field}`));
    });
  }
});

Deno.test("decodeMessage() rejects invalid UTF-8 in a bet with invalidBet, its field and index", async (t) => {
  const cases: [string, number, keyof WireBet, string][] = [
    ["first name of bet 1", 1, "firstName", "first_name"],
    ["last name of bet 2", 2, "lastName", "last_name"],
    ["document of bet 3", 3, "document", "document"],
    ["birthdate of bet 1", 1, "birthdate", "birthdate"],
  ];
  for (const [name, betIndex, key, field] of cases) {
    await t.step(name, async () => {
      const bets = [_BET, _BET, _BET].map((bet) => ({ ...bet }));
      (bets[betIndex - 1]! as Record<string, unknown>)[key] = "\u0001MARK\u0001";
      const frame = encodeMessage({ type: MessageType.batch, first: 44, bets });
      // After the header and the batch prefix, 0x01 appears only in the marked text.
      const at = frame.indexOf(0x01, FRAME_HEADER_BYTES + 6);
      frame[at] = 0xff;
      frame[at + 1] = 0xfe;
      const error = await catchProtocolError(() => decodeMessage(frameOf(frame)));
      assert.equal(error.code, ErrorCode.invalidBet);
      assert.deepEqual(error.batch, { first: 44, betIndex, field });
      assert.match(error.message, new RegExp(`bet ${betIndex}: ${field} is not valid UTF-8`));
    });
  }
});

Deno.test("decodeMessage() rejects an unknown message type with unknownType", async (t) => {
  for (const type of [0, 10, 255]) {
    await t.step(`type ${type}`, () => {
      assert.throws(
        () => decodeMessage({ type, body: new Uint8Array(0) }),
        protocolError(ErrorCode.unknownType),
      );
    });
  }
});

Deno.test("decodeMessage() rejects bytes after a fixed message's last field with malformedFrame", async (t) => {
  for (const [name, message] of _EVERY_MESSAGE) {
    // A hello may end in an optional secret (tests/faults/agency_identity_bound_at_hello_test.ts).
    if (message.type === MessageType.batch || message.type === MessageType.hello) continue;
    await t.step(name, () => {
      const frame = frameOf(encodeMessage(message));
      const body = joinBytes([frame.body, new Uint8Array([0])]);
      assert.throws(
        () => decodeMessage({ type: frame.type, body }),
        protocolError(ErrorCode.malformedFrame),
      );
    });
  }
});

Deno.test("decodeMessage() rejects a body cut short with malformedFrame", async (t) => {
  for (const [name, message] of _EVERY_MESSAGE) {
    const frame = frameOf(encodeMessage(message));
    if (message.type === MessageType.batch || frame.body.length === 0) continue;
    await t.step(name, () => {
      assert.throws(
        () => decodeMessage({ type: frame.type, body: frame.body.subarray(0, -1) }),
        protocolError(ErrorCode.malformedFrame),
      );
    });
  }
});

Deno.test("decodeMessage() rejects a winners count larger than its body with countMismatch", () => {
  const writer = new ByteWriter();
  writer.u32(0xffff_ffff).text("1", 1, "document");
  assert.throws(
    () => decodeMessage({ type: MessageType.winners, body: writer.view() }),
    protocolError(ErrorCode.countMismatch),
  );
});

Deno.test("decodeMessage() rejects a batch body too short for its header with malformedFrame", async (t) => {
  for (const length of [0, 3, 5]) {
    await t.step(`${length} bytes`, () => {
      assert.throws(
        () => decodeMessage({ type: MessageType.batch, body: new Uint8Array(length) }),
        protocolError(ErrorCode.malformedFrame),
      );
    });
  }
});

Deno.test("encodeWinnerDocuments() refuses a document of 256 bytes", () => {
  assert.throws(() => encodeWinnerDocuments(["1".repeat(256)]), {
    name: "RangeError",
    message: "document is 256 bytes, more than 255",
  });
});

Deno.test("batchAckFrame() writes a batchAck's frame as the general writer does, and refuses what does not fit", async (t) => {
  const general = (first: number, count: number) => {
    const writer = new ByteWriter();
    startFrame(writer, MessageType.batchAck);
    writer.u32(first).u16(count);
    return finishFrame(writer);
  };
  for (const [first, count] of [[0, 0], [100, 100], [0xffff_ffff, 0xffff]] as const) {
    await t.step(`first ${first}, count ${count}`, () => {
      const frame = batchAckFrame(first, count);
      assert.deepEqual([...frame], [...general(first, count)]);
      assert.deepEqual(decodeMessage({ type: frame[2]!, body: frame.subarray(7) }), {
        type: MessageType.batchAck,
        first,
        count,
      });
    });
  }
  await t.step("first 2^32 and count 65536 are refused", () => {
    assert.throws(() => batchAckFrame(2 ** 32, 1), RangeError);
    assert.throws(() => batchAckFrame(0, 0x1_0000), RangeError);
    assert.throws(() => batchAckFrame(-1, 1), RangeError);
  });
});
