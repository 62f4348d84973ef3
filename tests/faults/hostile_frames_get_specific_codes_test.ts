/**
 * Hostile and malformed frames: the frame reader and decoders answer every
 * input with a result or a ProtocolError (random bytes, mutated batches,
 * truncations; a 4 GiB length prefix refused before reading on); the batch
 * scanner the server runs agrees with decodeMessage + validateBet on every
 * mutated batch; and the real server answers each named bad input with its
 * own error code and log line while agencies upload at the same time,
 * unaffected.
 *
 * FAULT_SEED / FAULT_TRIALS / FAULT_SCALE: see helpers/trials.ts.
 */

import assert from "node:assert/strict";
import { localBetsPath } from "../helpers/storage.ts";
import { scanBatch } from "../../lib/server/batch_scan.ts";
import { todayIsoDate, validateBet } from "../../lib/bet/bet.ts";
import { dateNumber } from "../../lib/bet/bet_bytes.ts";
import { BufferedReader } from "../../lib/protocol/buffered_reader.ts";
import { linesOf, startLocalServer } from "../../lib/dev/local_cluster.ts";
import { decodeMessage, encodeMessage, type Message } from "../../lib/protocol/message_codec.ts";
import {
  errorCodeName,
  FRAME_HEADER_BYTES,
  MessageType,
  ProtocolError,
} from "../../lib/protocol/protocol.ts";
import { storeRowsOf } from "../helpers/store_rows.ts";
import { makeBets } from "../helpers/bets.ts";
import { ChunkedSource, joinBytes, OneReadSource } from "../helpers/byte_io.ts";
import { frameHeader, RawPeer } from "../helpers/raw_agency.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { assertStoreHoldsExactly, writeAgencyData } from "./helpers/agency_data.ts";
import { Rng, trialPlan } from "./helpers/trials.ts";
import { assertUploadsExact, startUploads } from "./helpers/uploads.ts";

const _FRAME_BYTES_MAX = 64 * 1024;
const _encoder = new TextEncoder();

function frame(type: number, body: Uint8Array): Uint8Array {
  return joinBytes([frameHeader(type, body.length), body]);
}

/** A bet's wire bytes from raw field bytes, so any byte can be sent. */
function rawBet(
  fields: { first?: Uint8Array; last?: Uint8Array; document?: Uint8Array; birthdate?: Uint8Array },
  number = 1234,
): Uint8Array {
  const text = (bytes: Uint8Array) => joinBytes([new Uint8Array([bytes.length]), bytes]);
  return joinBytes([
    text(fields.first ?? _encoder.encode("Ana")),
    text(fields.last ?? _encoder.encode("Pérez")),
    text(fields.document ?? _encoder.encode("30123456")),
    text(fields.birthdate ?? _encoder.encode("1990-05-17")),
    new Uint8Array([number >> 8, number & 0xff]),
  ]);
}

function batchBody(first: number, declared: number, bets: readonly Uint8Array[]): Uint8Array {
  const head = new Uint8Array(6);
  new DataView(head.buffer).setUint32(0, first);
  new DataView(head.buffer).setUint16(4, declared);
  return joinBytes([head, ...bets]);
}

const _text = (text: string) => _encoder.encode(text);
const _nextYear = `${new Date().getFullYear() + 1}-01-01`;

/** A batch of one bet breaking one rule, and the field the refusal must name. */
const _BROKEN_RULES: [string, Uint8Array, string][] = [
  ["first name empty", rawBet({ first: _text("") }), "first_name"],
  ["first name only spaces", rawBet({ first: _text("   ") }), "first_name"],
  ["first name with a line break", rawBet({ first: _text("Ana\nMaría") }), "first_name"],
  ["first name not UTF-8", rawBet({ first: new Uint8Array([0x41, 0xc3, 0x28]) }), "first_name"],
  ["last name empty", rawBet({ last: _text("") }), "last_name"],
  ["last name with a carriage return", rawBet({ last: _text("Pé\rrez") }), "last_name"],
  [
    "last name not UTF-8 (lone continuation)",
    rawBet({ last: new Uint8Array([0x80]) }),
    "last_name",
  ],
  ["first name with ESC (C0)", rawBet({ first: _text("Ana\u001b[2J") }), "first_name"],
  ["first name with NUL (C0)", rawBet({ first: new Uint8Array([0x41, 0x00, 0x42]) }), "first_name"],
  ["first name of one tab", rawBet({ first: _text("\t") }), "first_name"],
  ["last name with DEL", rawBet({ last: _text("Paz\u007f") }), "last_name"],
  ["last name with NEL (C1)", rawBet({ last: new Uint8Array([0x50, 0xc2, 0x85]) }), "last_name"],
  ["last name UTF-8 surrogate", rawBet({ last: new Uint8Array([0xed, 0xa0, 0x80]) }), "last_name"],
  ["document with a letter", rawBet({ document: _text("3012a456") }), "document"],
  ["document empty", rawBet({ document: _text("") }), "document"],
  ["document of 13 digits", rawBet({ document: _text("1234567890123") }), "document"],
  ["birthdate not a date", rawBet({ birthdate: _text("17/05/1990") }), "birthdate"],
  ["birthdate 30 February", rawBet({ birthdate: _text("1990-02-30") }), "birthdate"],
  ["birthdate month 13", rawBet({ birthdate: _text("1990-13-01") }), "birthdate"],
  ["birthdate in the future", rawBet({ birthdate: _text(_nextYear) }), "birthdate"],
  ["number 10000", rawBet({}, 10_000), "number"],
  ["number 65535", rawBet({}, 65_535), "number"],
];

/** Every outcome of reading one input allowed: frames, a clean end, or a ProtocolError. */
async function readAll(source: ChunkedSource): Promise<{ frames: number; error?: ProtocolError }> {
  const reader = new BufferedReader(source);
  let frames = 0;
  try {
    while (true) {
      const next = await reader.readFrame(_FRAME_BYTES_MAX);
      if (next === null) return { frames };
      frames += 1;
      if (next.type === MessageType.batch) {
        try {
          scanBatch(next.body, 1, dateNumber(new Date()));
        } catch (error) {
          if (!(error instanceof ProtocolError)) throw error;
        }
      }
      decodeMessage(next);
    }
  } catch (error) {
    if (error instanceof ProtocolError) return { frames, error };
    throw error;
  }
}

Deno.test("frame reader and decoders: every named bad input gets its own error code", async (t) => {
  const read = (bytes: Uint8Array) => new BufferedReader(new ChunkedSource(bytes, 3));
  const code = async (body: () => unknown): Promise<string> => {
    try {
      await body();
    } catch (error) {
      assert.ok(error instanceof ProtocolError, `a ProtocolError, not ${error}`);
      return errorCodeName(error.code);
    }
    return "accepted";
  };
  await t.step("a 4 GiB length prefix is refused from the header alone", async () => {
    const source = new OneReadSource(frameHeader(MessageType.hello, 0xffff_ffff));
    const reader = new BufferedReader(source);
    assert.equal(await code(() => reader.readFrame(_FRAME_BYTES_MAX)), "frameTooLarge");
    assert.equal(source.reads, 1, "no read for the body was even tried");
  });
  await t.step("a length of the cap is read, one more is refused", async () => {
    const atCap = joinBytes([
      frameHeader(MessageType.winnersQuery, _FRAME_BYTES_MAX),
      new Uint8Array(_FRAME_BYTES_MAX),
    ]);
    assert.equal((await read(atCap).readFrame(_FRAME_BYTES_MAX))?.body.length, _FRAME_BYTES_MAX);
    const overCap = frameHeader(MessageType.hello, _FRAME_BYTES_MAX + 1);
    assert.equal(await code(() => read(overCap).readFrame(_FRAME_BYTES_MAX)), "frameTooLarge");
  });
  for (const version of [0, 1, 3, 255]) {
    await t.step(`protocol version ${version}`, async () => {
      const bytes = frameHeader(MessageType.hello, 4, version);
      assert.equal(await code(() => read(bytes).readFrame(_FRAME_BYTES_MAX)), "unsupportedVersion");
    });
  }
  await t.step("a frame not starting with the marker", async () => {
    const bytes = frameHeader(MessageType.hello, 0);
    bytes[0] = 0x00;
    assert.equal(await code(() => read(bytes).readFrame(_FRAME_BYTES_MAX)), "malformedFrame");
  });
  for (const type of [0, 10, 200]) {
    await t.step(`unknown message type ${type}`, async () => {
      const next = await read(frameHeader(type, 0)).readFrame(_FRAME_BYTES_MAX);
      assert.equal(await code(() => decodeMessage(next!)), "unknownType");
    });
  }
  await t.step("a frame cut at every byte", async () => {
    const whole = encodeMessage({ type: MessageType.batch, first: 0, bets: makeBets(1, 2) });
    for (let length = 1; length < whole.length; length += 1) {
      const bytes = whole.subarray(0, length);
      assert.equal(await code(() => read(bytes).readFrame(_FRAME_BYTES_MAX)), "truncatedFrame");
    }
  });
  const today = dateNumber(new Date());
  const cases: [string, Uint8Array, string, string][] = [
    [
      "batch declaring more bets than it holds",
      batchBody(1, 3, [rawBet({}), rawBet({})]),
      "countMismatch",
      "",
    ],
    [
      "batch with bytes after its last bet",
      batchBody(1, 1, [rawBet({}), new Uint8Array(5)]),
      "countMismatch",
      "",
    ],
    ["batch shorter than its header", new Uint8Array([0, 0, 1]), "malformedFrame", ""],
    ..._BROKEN_RULES.map(([name, bet, field]): [string, Uint8Array, string, string] => [
      name,
      batchBody(1, 1, [bet]),
      "invalidBet",
      field,
    ]),
  ];
  for (const [name, body, expected, field] of cases) {
    await t.step(name, async () => {
      assert.equal(await code(() => scanBatch(body, 1, today)), expected);
      if (field !== "") {
        try {
          scanBatch(body, 1, today);
        } catch (error) {
          assert.ok(error instanceof ProtocolError);
          assert.equal(error.batch?.field, field);
          assert.equal(error.batch?.betIndex, 1);
        }
      }
    });
  }
});

Deno.test("random bytes and mutated batches: the reader and both batch decoders answer with a result or a ProtocolError, and agree", async () => {
  const plan = trialPlan("frame_fuzz", 4000);
  const rng = new Rng(plan.seed);
  const today = todayIsoDate();
  const todayNumber = dateNumber(new Date());
  const tally = { inputs: 0, frames: 0, refused: 0, batches: 0, accepted: 0, rejected: 0 };
  const interesting = [
    0x00,
    0x09,
    0x0a,
    0x0d,
    0x1b,
    0x1f,
    0x20,
    0x22,
    0x2c,
    0x2d,
    0x39,
    0x7f,
    0x80,
    0x9f,
    0xa0,
    0xc2,
    0xc3,
    0xff,
  ];
  for (let trial = 0; trial < plan.count; trial += 1) {
    // Random bytes, half of them behind a plausible header.
    const noise = rng.bytes(rng.int(0, 200));
    const input = rng.chance(0.5)
      ? joinBytes([frameHeader(rng.int(0, 12), rng.int(0, 300)), noise])
      : noise;
    const outcome = await readAll(new ChunkedSource(input, rng.int(1, 64)));
    tally.inputs += 1;
    tally.frames += outcome.frames;
    if (outcome.error !== undefined) tally.refused += 1;

    // A valid batch, mutated a little: the scanner and the reference agree.
    const bets = makeBets(1, rng.int(1, 4), { winnersAt: rng.chance(0.5) ? [0] : [] })
      .map(({ agency: _, ...bet }) => bet);
    const body = encodeMessage({ type: MessageType.batch, first: 7, bets }).slice(
      FRAME_HEADER_BYTES,
    );
    for (let mutations = rng.int(1, 3); mutations > 0; mutations -= 1) {
      const at = rng.int(6, body.length - 1);
      body[at] = rng.chance(0.5) ? rng.pick(interesting) : rng.int(0, 255);
      // Now and then a whole two-byte character at the C1 bounds (C2 80-C2 A0).
      if (rng.chance(0.2) && at + 1 < body.length) {
        body[at] = 0xc2;
        body[at + 1] = rng.pick([0x80, 0x85, 0x9f, 0xa0]);
      }
    }
    const mutated = rng.chance(0.1) ? body.subarray(0, rng.int(0, body.length)) : body;
    let reference: Message | undefined;
    try {
      reference = decodeMessage({ type: MessageType.batch, body: mutated });
    } catch (error) {
      assert.ok(error instanceof ProtocolError, `decodeMessage threw ${error}`);
    }
    let scanned: ReturnType<typeof scanBatch> | undefined;
    let scanError: ProtocolError | undefined;
    try {
      scanned = scanBatch(mutated, 1, todayNumber);
    } catch (error) {
      assert.ok(error instanceof ProtocolError, `scanBatch threw ${error}`);
      scanError = error;
    }
    tally.batches += 1;
    if (reference === undefined || reference.type !== MessageType.batch) {
      assert.ok(
        scanned === undefined,
        `scanBatch accepted what decodeMessage refused (trial ${trial})`,
      );
      tally.rejected += 1;
      continue;
    }
    const violation = reference.bets
      .map((bet, index) => ({ index, violation: validateBet({ agency: 1, ...bet }, today, 1) }))
      .find(({ violation }) => violation !== undefined);
    if (violation === undefined) {
      assert.ok(scanned !== undefined, `scanBatch refused a valid batch: ${scanError?.message}`);
      const expected = storeRowsOf(reference.bets.map((bet) => ({ agency: 1, ...bet })), 7);
      assert.deepEqual(scanned.rows, expected, `trial ${trial}: rows differ`);
      tally.accepted += 1;
    } else {
      assert.ok(
        scanError !== undefined,
        `scanBatch accepted a bet validateBet refuses (trial ${trial})`,
      );
      assert.equal(errorCodeName(scanError.code), "invalidBet");
      assert.equal(scanError.batch?.betIndex, violation.index + 1);
      assert.equal(scanError.batch?.field, violation.violation!.field);
      tally.rejected += 1;
    }
  }
  console.log(`frame_fuzz: ${JSON.stringify(tally)}`);
});

/**
 * Opens a connection, sends `bytes`, returns the replies up to the first
 * error or nack (or until the server closes), then closes.
 */
async function exchange(port: number, bytes: Uint8Array): Promise<Message[]> {
  const peer = await RawPeer.connect(port);
  await peer.sendBytes(bytes);
  const replies: Message[] = [];
  try {
    while (true) {
      const reply = await peer.receive();
      replies.push(reply);
      if (reply.type === MessageType.error || reply.type === MessageType.batchNack) break;
    }
  } catch {
    // the server closed the connection
  }
  peer.close();
  return replies;
}

Deno.test("the real server answers each bad input with its own code and log line while agencies upload, unaffected", async () => {
  await withTempDir(async (dir) => {
    // Agencies 1 and 2 upload; the hostile peers speak for agency 3.
    const data = await writeAgencyData(dir, [{ bets: 4000, winners: 3 }, {
      bets: 3000,
      winners: 1,
    }], 9);
    const storage = localBetsPath(dir);
    const server = await startLocalServer({
      STORAGE_DIR: dir,
      AGENCIES: "3",
      FRAME_BYTES_MAX: String(_FRAME_BYTES_MAX),
    });
    const hello3 = encodeMessage({ type: MessageType.hello, agency: 3 });
    const errorCases: [string, Uint8Array, string][] = [
      ["4 GiB length prefix", frameHeader(MessageType.hello, 0xffff_ffff), "frameTooLarge"],
      [
        "length prefix of the cap + 1",
        frameHeader(MessageType.hello, _FRAME_BYTES_MAX + 1),
        "frameTooLarge",
      ],
      [
        "protocol version 1 (before positions)",
        frameHeader(MessageType.hello, 4, 1),
        "unsupportedVersion",
      ],
      ["unknown type after hello", joinBytes([hello3, frameHeader(99, 0)]), "unknownType"],
      [
        "batch before hello",
        frame(MessageType.batch, batchBody(1, 1, [rawBet({})])),
        "helloRequired",
      ],
      [
        "hello for agency 0",
        encodeMessage({ type: MessageType.hello, agency: 0 }),
        "unknownAgency",
      ],
      [
        "hello for agency 4",
        encodeMessage({ type: MessageType.hello, agency: 4 }),
        "unknownAgency",
      ],
      [
        "hello for agency 2^32 - 1",
        encodeMessage({ type: MessageType.hello, agency: 0xffff_ffff }),
        "unknownAgency",
      ],
      [
        "a second hello",
        joinBytes([hello3, encodeMessage({ type: MessageType.hello, agency: 1 })]),
        "unexpectedMessage",
      ],
      [
        "a server message from an agency",
        joinBytes([hello3, encodeMessage({ type: MessageType.batchAck, first: 0, count: 1 })]),
        "unexpectedMessage",
      ],
      [
        "a batch body shorter than its header",
        joinBytes([hello3, frame(MessageType.batch, new Uint8Array(3))]),
        "malformedFrame",
      ],
      [
        "hello with a broken trailing field",
        frame(MessageType.hello, new Uint8Array([0, 0, 0, 3, 9])),
        "malformedFrame",
      ],
      [
        "hello with FF FF FF after the agency, on a server without secrets",
        frame(MessageType.hello, new Uint8Array([0, 0, 0, 3, 0xff, 0xff, 0xff])),
        "malformedFrame",
      ],
      ["an unknown type as the first frame", frameHeader(99, 0), "helloRequired"],
      [
        "a frame without the marker after hello",
        joinBytes([hello3, new Uint8Array(7)]),
        "malformedFrame",
      ],
      [
        "finished with a wrong total",
        joinBytes([hello3, encodeMessage({ type: MessageType.finished, total: 5 })]),
        "countMismatch",
      ],
    ];
    const nackCases: [string, Uint8Array, string, string][] = [
      [
        "batch declaring more bets than it holds",
        batchBody(1, 3, [rawBet({})]),
        "countMismatch",
        "", // about the count, not one bet: no field, bet index 0
      ],
      [
        "batch with bytes after its last bet",
        batchBody(1, 1, [rawBet({}), new Uint8Array(3)]),
        "countMismatch",
        "",
      ],
      ..._BROKEN_RULES.map(([name, bet, field]): [string, Uint8Array, string, string] => [
        name,
        batchBody(1, 1, [bet]),
        "invalidBet",
        field,
      ]),
    ];
    const uploads = startUploads(data.files, {
      port: server.port,
      batchMaxAmount: 10,
      batchWindow: 4,
    });
    try {
      for (const [name, bytes, expected] of errorCases) {
        const replies = await exchange(server.port, bytes);
        const last = replies.at(-1);
        assert.ok(
          last?.type === MessageType.error,
          `${name}: an error frame, got ${JSON.stringify(replies)}`,
        );
        assert.equal(errorCodeName(last.code), expected, name);
      }
      for (const [name, body, expected, field] of nackCases) {
        const replies = await exchange(
          server.port,
          joinBytes([hello3, frame(MessageType.batch, body)]),
        );
        const nack = replies.at(-1);
        assert.ok(
          nack?.type === MessageType.batchNack,
          `${name}: a nack, got ${JSON.stringify(replies)}`,
        );
        assert.equal(errorCodeName(nack.code), expected, name);
        assert.equal(nack.field, field, name);
        assert.equal(nack.betIndex, field === "" ? 0 : 1, `${name}: bet index`);
      }
      // Random garbage after a hello: never a crash, always an answer or a close.
      const rng = new Rng(trialPlan("live_garbage", 1).seed);
      for (let index = 0; index < 50; index += 1) {
        await exchange(server.port, joinBytes([hello3, rng.bytes(rng.int(1, 300))]));
      }
      // Each refusal has its log line with the code's name.
      const refusalLines = server.lines.filter((line) => line.includes("result: fail"));
      for (const [name, , expected] of [...errorCases, ...nackCases]) {
        assert.ok(
          refusalLines.some((line) => line.includes(`code: ${expected}`)),
          `a log line for ${name}`,
        );
      }
      assert.equal(
        linesOf(server.lines, "apuesta_recibida", "fail").length >= nackCases.length,
        true,
        "each refused batch logs apuesta_recibida fail",
      );
      // The agencies were not disturbed: agency 3 finishes empty, the draw comes.
      const [agency3] = await RawPeer.hello(server.port, 3);
      await agency3.send({ type: MessageType.finished, total: 0 });
      await agency3.send({ type: MessageType.winnersQuery });
      assert.deepEqual(await agency3.receive(), { type: MessageType.winners, documents: [] });
      agency3.close();
      await assertUploadsExact(uploads, data.bets);
      console.log(
        `live_hostile: ${errorCases.length} error cases, ${nackCases.length} refused batches, 50 garbage connections, ${data.bets.length} bets uploaded meanwhile`,
      );
    } finally {
      for (const upload of uploads) upload.abort();
      assert.equal(await server.stop(), 0);
    }
    await assertStoreHoldsExactly(storage, data.bets);
  });
});
