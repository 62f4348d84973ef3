import assert from "node:assert/strict";
import { BufferedReader } from "../lib/protocol/buffered_reader.ts";
import { type ByteSink, writeAll, writeChunks } from "../lib/runtime/write_all.ts";
import {
  FRAME_BYTES_MAX_CEILING,
  FRAME_BYTES_MAX_DEFAULT,
  READ_BUFFER_FIRST_BYTES,
  READ_BUFFER_FREE_BYTES,
} from "../lib/limits.ts";
import { decodeMessage, encodeMessage, type Message } from "../lib/protocol/message_codec.ts";
import {
  ErrorCode,
  FRAME_HEADER_BYTES,
  FRAME_MARKER,
  MessageType,
  PROTOCOL_VERSION,
} from "../lib/protocol/protocol.ts";
import { ChunkedSource, joinBytes, OneReadSource, PartialSink } from "./helpers/byte_io.ts";
import { protocolError } from "./helpers/protocol_errors.ts";
import { afterMicrotasks, isPending } from "./helpers/promise_state.ts";
import { ReadBudget } from "../lib/protocol/read_budget.ts";

const _encoder = new TextEncoder();
const _decoder = new TextDecoder();

/** A frame header declaring `length` body bytes. */
function header(length: number, marker = FRAME_MARKER, version = PROTOCOL_VERSION): Uint8Array {
  const bytes = new Uint8Array(FRAME_HEADER_BYTES);
  bytes[0] = marker;
  bytes[1] = version;
  bytes[2] = MessageType.hello;
  new DataView(bytes.buffer).setUint32(3, length);
  return bytes;
}

/** A frame of `length` body bytes counting 0, 1, 2, … */
function frameWithBody(length: number): Uint8Array {
  const body = new Uint8Array(length).map((_, index) => index % 251);
  return joinBytes([header(length), body]);
}

/** A reader over `bytes`, `chunkBytes` at a time. */
function readerOf(bytes: Uint8Array | string, chunkBytes: number): BufferedReader {
  const data = typeof bytes === "string" ? _encoder.encode(bytes) : bytes;
  return new BufferedReader(new ChunkedSource(data, chunkBytes));
}

const _MESSAGES: Message[] = [
  { type: MessageType.hello, agency: 3 },
  { type: MessageType.helloAck, drawId: "local", storedBets: 0, storedDigest: 0, checkpoints: [] },
  {
    type: MessageType.batch,
    first: 0,
    bets: [
      {
        firstName: "Zoé 😀",
        lastName: 'Pérez, "Tito"',
        document: "30123456",
        birthdate: "2000-02-29",
        number: 7574,
      },
      { firstName: "Ana", lastName: "Núñez", document: "1", birthdate: "1990-01-01", number: 0 },
    ],
  },
  { type: MessageType.batchAck, first: 0, count: 2 },
  {
    type: MessageType.batchNack,
    first: 2,
    count: 1,
    code: ErrorCode.invalidBet,
    betIndex: 1,
    field: "number",
    reason: "10000 is not an integer in 0..9999",
    expected: 2,
  },
  { type: MessageType.finished, total: 2 },
  { type: MessageType.winnersQuery },
  { type: MessageType.winners, documents: ["30123456"] },
  { type: MessageType.error, code: ErrorCode.shuttingDown, text: "bye" },
];

Deno.test("readFrame() reads every message type from a source that returns one byte per read", async (t) => {
  const stream = joinBytes(_MESSAGES.map(encodeMessage));
  for (const chunkBytes of [1, 2, 3, 7, 64 * 1024]) {
    await t.step(`${chunkBytes} bytes per read`, async () => {
      const source = new ChunkedSource(stream, chunkBytes);
      const reader = new BufferedReader(source);
      const decoded: Message[] = [];
      for (let frame = await reader.readFrame(1024); frame !== null;) {
        decoded.push(decodeMessage(frame));
        frame = await reader.readFrame(1024);
      }
      assert.deepEqual(decoded, _MESSAGES);
      if (chunkBytes === 1) assert.ok(source.reads > stream.length, "one byte per read");
    });
  }
});

Deno.test("readFrameView() reads the same frames as readFrame(), each decoded before the next read", async (t) => {
  const stream = joinBytes(_MESSAGES.map(encodeMessage));
  for (const chunkBytes of [1, 7, 64 * 1024]) {
    await t.step(`${chunkBytes} bytes per read`, async () => {
      const reader = new BufferedReader(new ChunkedSource(stream, chunkBytes));
      const decoded: Message[] = [];
      for (let frame = await reader.readFrameView(1024); frame !== null;) {
        decoded.push(decodeMessage(frame));
        frame = await reader.readFrameView(1024);
      }
      assert.deepEqual(decoded, _MESSAGES);
    });
  }
});

Deno.test("readFrame() reads a body larger than its internal buffer", async (t) => {
  const length = 200_000;
  const bytes = joinBytes([frameWithBody(length), frameWithBody(3)]);
  for (const chunkBytes of [7, 4096, bytes.length]) {
    await t.step(`${chunkBytes} bytes per read`, async () => {
      const reader = readerOf(bytes, chunkBytes);
      const frame = await reader.readFrame(FRAME_BYTES_MAX_DEFAULT);
      assert.equal(frame?.body.length, length);
      assert.deepEqual(frame?.body, frameWithBody(length).subarray(FRAME_HEADER_BYTES));
      assert.deepEqual([...(await reader.readFrame(FRAME_BYTES_MAX_DEFAULT))!.body], [0, 1, 2]);
      assert.equal(await reader.readFrame(FRAME_BYTES_MAX_DEFAULT), null);
    });
  }
});

Deno.test("readFrame() accepts bodies of 0 and frameBytesMax bytes", async (t) => {
  const max = 1024;
  for (const length of [0, 1, max]) {
    await t.step(`${length} bytes`, async () => {
      const frame = await readerOf(frameWithBody(length), 5).readFrame(max);
      assert.equal(frame?.type, MessageType.hello);
      assert.equal(frame?.body.length, length);
    });
  }
});

Deno.test("readFrame() rejects a length above frameBytesMax before reading or allocating the body", async (t) => {
  const cases: [string, number, number][] = [
    ["max + 1", 1025, 1024],
    ["default cap + 1", FRAME_BYTES_MAX_DEFAULT + 1, FRAME_BYTES_MAX_DEFAULT],
    ["ceiling + 1", FRAME_BYTES_MAX_CEILING + 1, FRAME_BYTES_MAX_CEILING],
    ["4 GiB - 1", 0xffff_ffff, FRAME_BYTES_MAX_DEFAULT],
    ["4 GiB - 1 under the ceiling", 0xffff_ffff, FRAME_BYTES_MAX_CEILING],
  ];
  for (const [name, length, max] of cases) {
    await t.step(name, async () => {
      // The source holds only the header and fails any further read: the
      // error must come from the header alone, without waiting for the body.
      const source = new OneReadSource(header(length));
      const reader = new BufferedReader(source);
      await assert.rejects(
        reader.readFrame(max),
        protocolError(
          ErrorCode.frameTooLarge,
          new RegExp(`frame body of ${length} bytes exceeds the maximum of ${max} bytes`),
        ),
      );
      assert.equal(source.reads, 1);
    });
  }
});

Deno.test("readFrame() returns null at a clean end of stream between frames", async (t) => {
  await t.step("empty stream", async () => {
    const reader = readerOf(new Uint8Array(0), 1);
    assert.equal(await reader.readFrame(1024), null);
    assert.equal(await reader.readFrame(1024), null, "and again");
  });
  await t.step("after two frames", async () => {
    const reader = readerOf(joinBytes([frameWithBody(2), frameWithBody(0)]), 1);
    assert.equal((await reader.readFrame(1024))?.body.length, 2);
    assert.equal((await reader.readFrame(1024))?.body.length, 0);
    assert.equal(await reader.readFrame(1024), null);
  });
});

Deno.test("readFrame() rejects a stream that ends inside a frame with truncatedFrame", async (t) => {
  const frame = frameWithBody(10);
  const cases: [string, Uint8Array][] = [
    ["after 1 header byte", frame.subarray(0, 1)],
    ["after 6 header bytes", frame.subarray(0, 6)],
    ["after the header, before the body", frame.subarray(0, FRAME_HEADER_BYTES)],
    ["after 1 body byte", frame.subarray(0, FRAME_HEADER_BYTES + 1)],
    ["1 byte before the end", frame.subarray(0, frame.length - 1)],
    ["inside a second frame", joinBytes([frame, frame.subarray(0, 9)])],
  ];
  for (const [name, bytes] of cases) {
    for (const chunkBytes of [1, 1024]) {
      await t.step(`${name}, ${chunkBytes} bytes per read`, async () => {
        const reader = readerOf(bytes, chunkBytes);
        if (bytes.length > frame.length) await reader.readFrame(1024);
        await assert.rejects(reader.readFrame(1024), protocolError(ErrorCode.truncatedFrame));
      });
    }
  }
});

Deno.test("readFrame() rejects a bad marker with malformedFrame and a wrong version with unsupportedVersion", async (t) => {
  const cases: [string, Uint8Array, ErrorCode][] = [
    ["marker 0x00", header(0, 0x00), ErrorCode.malformedFrame],
    ["marker 'h'", header(0, 0x68), ErrorCode.malformedFrame],
    ["marker 0xFB", header(0, 0xfb), ErrorCode.malformedFrame],
    ["bad marker and bad version", header(0, 0x00, 9), ErrorCode.malformedFrame],
    ["version 0", header(0, FRAME_MARKER, 0), ErrorCode.unsupportedVersion],
    ["version 2", header(0, FRAME_MARKER, PROTOCOL_VERSION + 1), ErrorCode.unsupportedVersion],
    ["version 255", header(0, FRAME_MARKER, 255), ErrorCode.unsupportedVersion],
    [
      "wrong version and a huge length",
      header(0xffff_ffff, FRAME_MARKER, PROTOCOL_VERSION + 1),
      ErrorCode.unsupportedVersion,
    ],
  ];
  for (const [name, bytes, code] of cases) {
    await t.step(name, async () => {
      await assert.rejects(readerOf(bytes, 1).readFrame(1024), protocolError(code));
    });
  }
});

Deno.test("peekByte() shows the next byte without consuming it", async () => {
  const frame = frameWithBody(3);
  const reader = readerOf(frame, 1);
  assert.equal(await reader.peekByte(), FRAME_MARKER);
  assert.equal(await reader.peekByte(), FRAME_MARKER);
  assert.equal((await reader.readFrame(1024))?.body.length, 3);
  assert.equal(await reader.peekByte(), null);
});

Deno.test("readExact() returns a copy, null at a clean end, truncatedFrame mid-way", async () => {
  const reader = readerOf("abcdefg", 2);
  const first = await reader.readExact(3, "first");
  assert.equal(_decoder.decode(first!), "abc");
  first!.fill(0);
  assert.equal(_decoder.decode((await reader.readExact(2, "second"))!), "de");
  await assert.rejects(
    reader.readExact(3, "third"),
    protocolError(ErrorCode.truncatedFrame, /stream ended inside third: 2 of 3 bytes/),
  );
  assert.equal(await readerOf("", 1).readExact(3, "nothing"), null);
});

Deno.test("readLine() reads lines with and without a trailing newline", async (t) => {
  const cases: [string, string, string[]][] = [
    ["one line", "hi\n", ["hi\n"]],
    ["two lines", "a\nb\n", ["a\n", "b\n"]],
    ["last line without newline", "a\nbc", ["a\n", "bc"]],
    ["only text without newline", "hello", ["hello"]],
    ["empty lines", "\n\n", ["\n", "\n"]],
    ["CRLF kept as sent", "a\r\n", ["a\r\n"]],
    ["UTF-8", "ñandú 😀\n", ["ñandú 😀\n"]],
    ["empty stream", "", []],
  ];
  for (const [name, text, lines] of cases) {
    for (const chunkBytes of [1, 3, 1024]) {
      await t.step(`${name}, ${chunkBytes} bytes per read`, async () => {
        const reader = readerOf(text, chunkBytes);
        const read: string[] = [];
        for (let line = await reader.readLine(64); line !== null;) {
          read.push(_decoder.decode(line));
          line = await reader.readLine(64);
        }
        assert.deepEqual(read, lines);
        assert.equal(await reader.readLine(64), null, "null again after the end");
      });
    }
  }
});

Deno.test("readLine() accepts lineBytesMax bytes before the newline and rejects one more", async (t) => {
  const max = 16;
  const cases: [string, string, boolean][] = [
    ["0 bytes", "\n", true],
    ["max bytes and newline", "a".repeat(max) + "\n", true],
    ["max bytes at the end of stream", "a".repeat(max), true],
    ["max + 1 bytes and newline", "a".repeat(max + 1) + "\n", false],
    ["max + 1 bytes at the end of stream", "a".repeat(max + 1), false],
    ["a long line after a short one", "ok\n" + "a".repeat(max + 1) + "\n", false],
    ["no newline at all", "a".repeat(10 * max), false],
  ];
  for (const [name, text, accepted] of cases) {
    for (const chunkBytes of [1, 5, 1024]) {
      await t.step(`${name}, ${chunkBytes} bytes per read`, async () => {
        const reader = readerOf(text, chunkBytes);
        const readAll = async () => {
          while ((await reader.readLine(max)) !== null);
        };
        if (accepted) await readAll();
        else await assert.rejects(readAll(), RangeError);
      });
    }
  }
});

Deno.test("writeAll() delivers every byte to a sink that takes 1 to 3 bytes per write", async (t) => {
  const frames = joinBytes(_MESSAGES.map(encodeMessage));
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["one byte", new Uint8Array([7])],
    ["every message type", frames],
  ];
  for (const [name, bytes] of cases) {
    await t.step(name, async () => {
      const sink = new PartialSink();
      await writeAll(sink, bytes);
      assert.deepEqual(sink.received(), bytes);
      assert.ok(sink.writes >= Math.ceil(bytes.length / 3));
    });
  }
  await t.step("what it delivered reads back as the same frames", async () => {
    const sink = new PartialSink();
    for (const message of _MESSAGES) await writeAll(sink, encodeMessage(message));
    const reader = readerOf(sink.received(), 1);
    for (const message of _MESSAGES) {
      assert.deepEqual(decodeMessage((await reader.readFrame(1024))!), message);
    }
  });
});

Deno.test("writeAll() rejects a sink that makes no progress instead of looping", async () => {
  let writes = 0;
  const stuck: ByteSink = {
    write: (bytes) => Promise.resolve(writes++ === 0 ? Math.min(2, bytes.length) : 0),
  };
  await assert.rejects(
    writeAll(stuck, new Uint8Array(5)),
    /write made no progress after 2 of 5 bytes/,
  );
});

Deno.test("BufferedReader reads its source no more once the source said end of stream", async () => {
  let reads = 0;
  const reader = new BufferedReader({
    read: (buffer: Uint8Array) => {
      reads += 1;
      if (reads > 1) return Promise.resolve(null);
      buffer[0] = 0x41;
      return Promise.resolve(1);
    },
  });
  assert.equal(await reader.peekByte(), 0x41);
  assert.deepEqual(await reader.readLine(16), new Uint8Array([0x41]));
  assert.equal(await reader.peekByte(), null);
  assert.equal(await reader.readFrame(1024), null);
  assert.equal(await reader.readLine(16), null);
  assert.equal(reads, 2, "one read for the byte, one for the end");
});

Deno.test("writeChunks() writes chunks in order, gathering small ones into full staging buffers", async (t) => {
  const run = async (sizes: number[], stagingBytes: number) => {
    const writes: Uint8Array[] = [];
    const sink = {
      write: (bytes: Uint8Array) => {
        writes.push(bytes.slice());
        return Promise.resolve(bytes.length);
      },
    };
    let next = 0;
    const chunks = sizes.map((size) => Uint8Array.from({ length: size }, () => next++ & 0xff));
    await writeChunks(sink, chunks, new Uint8Array(stagingBytes));
    assert.deepEqual(joinBytes(writes), joinBytes(chunks), "every byte, in order");
    return writes.map((bytes) => bytes.length);
  };
  await t.step("no chunks: no write", async () => assert.deepEqual(await run([], 8), []));
  await t.step("chunks filling the buffer exactly", async () => {
    assert.deepEqual(await run([3, 5, 8, 1], 8), [8, 8, 1]);
  });
  await t.step("a chunk one byte over the room left starts a new write", async () => {
    assert.deepEqual(await run([4, 5], 8), [4, 5]);
  });
  await t.step("a chunk larger than the buffer goes out alone", async () => {
    assert.deepEqual(await run([2, 9, 3], 8), [2, 9, 3]);
  });
});

Deno.test("BufferedReader shrinks back to its first buffer after a large frame and releases its budget", async () => {
  const budget = new ReadBudget(FRAME_BYTES_MAX_DEFAULT);
  const small = frameWithBody(100);
  const reader = new BufferedReader(
    new ChunkedSource(joinBytes([frameWithBody(200_000), small]), 64 * 1024),
    budget,
  );
  const first = await reader.readFrameView(FRAME_BYTES_MAX_DEFAULT);
  assert.equal(first?.body.length, 200_000);
  const grownBytes = reader.bufferBytes;
  assert.ok(grownBytes >= 200_000, `grown to ${grownBytes}`);
  assert.equal(budget.usage.reservedBytes, grownBytes - 16 * 1024);
  const second = await reader.readFrame(FRAME_BYTES_MAX_DEFAULT);
  assert.equal(second?.body.length, 100);
  assert.equal(reader.bufferBytes, 16 * 1024);
  assert.equal(budget.usage.reservedBytes, 0);
  // A frame that fits the first buffer reserves nothing.
  assert.equal(await reader.readFrame(FRAME_BYTES_MAX_DEFAULT), null);
  assert.equal(budget.usage.reservedBytes, 0);
});

Deno.test("BufferedReader waits for the budget before growing, reads nothing meanwhile, and close() withdraws the wait", async () => {
  const budget = new ReadBudget(64 * 1024);
  assert.equal(budget.reserve(64 * 1024), undefined, "another reader holds the whole budget");
  const source = new ChunkedSource(frameWithBody(100_000), 16 * 1024);
  const reader = new BufferedReader(source, budget);
  const frame = reader.readFrame(FRAME_BYTES_MAX_DEFAULT);
  await afterMicrotasks();
  assert.ok(await isPending(frame));
  const readsWhileWaiting = source.reads;
  assert.equal(budget.usage.waiting, 1);
  await afterMicrotasks();
  assert.equal(source.reads, readsWhileWaiting, "no read while the budget is spent");
  budget.release(64 * 1024);
  assert.equal((await frame)?.body.length, 100_000);
  assert.ok(source.reads > readsWhileWaiting, "reading went on once granted");
  reader.dispose();
  assert.deepEqual(budget.usage, { reservedBytes: 0, waiting: 0 }, "dispose() gives it back");

  const blocked = new BufferedReader(new ChunkedSource(frameWithBody(100_000), 16 * 1024), budget);
  assert.equal(budget.reserve(64 * 1024), undefined);
  const waiting = blocked.readFrame(FRAME_BYTES_MAX_DEFAULT);
  await afterMicrotasks();
  assert.equal(budget.usage.waiting, 1);
  blocked.close();
  await assert.rejects(waiting, Deno.errors.Interrupted);
  assert.deepEqual(budget.usage, { reservedBytes: 64 * 1024, waiting: 0 });
});

Deno.test("BufferedReader starts small, grows to READ_BUFFER_FREE_BYTES for batch frames without the budget, and peekByte() waits on a first-size buffer", async (t) => {
  const budget = new ReadBudget(FRAME_BYTES_MAX_DEFAULT);
  const frames = Array.from({ length: 3 }, () => frameWithBody(8 * 1024));
  const source = new ChunkedSource(joinBytes([...frames, new Uint8Array([FRAME_MARKER])]), 64_000);
  const reader = new BufferedReader(source, budget);
  await t.step("first buffer", () => assert.equal(reader.bufferBytes, READ_BUFFER_FIRST_BYTES));
  await t.step("8 KiB frames grow it to the free size, reserving nothing", async () => {
    for (const _ of frames) {
      assert.equal((await reader.readFrameView(FRAME_BYTES_MAX_DEFAULT))?.body.length, 8 * 1024);
      assert.ok(reader.bufferBytes <= READ_BUFFER_FREE_BYTES, `buffer ${reader.bufferBytes}`);
    }
    assert.equal(reader.bufferBytes, READ_BUFFER_FREE_BYTES);
    assert.equal(budget.usage.reservedBytes, 0);
  });
  await t.step("a peek shrinks it to the first size when what it holds fits", async () => {
    assert.equal(await reader.peekByte(), FRAME_MARKER);
    assert.equal(reader.bufferBytes, READ_BUFFER_FIRST_BYTES);
  });
});

Deno.test("BufferedReader.peekByte() keeps a grown buffer while it holds more than the first size", async () => {
  const bytes = frameWithBody(8 * 1024);
  const reader = new BufferedReader(new ChunkedSource(joinBytes([bytes, bytes]), 64_000));
  await reader.readFrameView(FRAME_BYTES_MAX_DEFAULT);
  assert.equal(await reader.peekByte(), FRAME_MARKER);
  assert.ok(reader.bufferBytes > READ_BUFFER_FIRST_BYTES, `buffer ${reader.bufferBytes}`);
  assert.equal((await reader.readFrame(FRAME_BYTES_MAX_DEFAULT))?.body.length, 8 * 1024);
});

Deno.test("readFrame() and readFrameView() hand out a frame already buffered as a settled promise, and leave the rest to the reading path", async (t) => {
  // All three fit the reader's first buffer, so one read brings them all.
  const frames = [frameWithBody(0), frameWithBody(3), frameWithBody(100)];
  for (const view of [false, true]) {
    const read = (reader: BufferedReader) =>
      view ? reader.readFrameView(1024) : reader.readFrame(1024);
    await t.step(`${view ? "readFrameView" : "readFrame"}: whole frames in one read`, async () => {
      const reader = new BufferedReader(new ChunkedSource(joinBytes(frames), 64 * 1024));
      // The first frame needs a read; the ones after it are in the buffer.
      assert.equal((await read(reader))?.body.length, 0);
      for (const length of [3, 100]) {
        const next = read(reader);
        assert.equal(await isPending(next), false, `the ${length}-byte body is buffered`);
        assert.equal((await next)?.body.length, length);
      }
      const end = read(reader);
      assert.equal(await isPending(end), true, "the end of stream needs a read");
      assert.equal(await end, null);
    });
  }
  await t.step("a buffered frame over the cap still fails with frameTooLarge", async () => {
    const reader = new BufferedReader(new ChunkedSource(joinBytes(frames), 64 * 1024));
    await reader.peekByte();
    await reader.readFrame(1024);
    await reader.readFrame(1024);
    await assert.rejects(reader.readFrame(99), protocolError(ErrorCode.frameTooLarge));
  });
  await t.step("a buffered bad header still fails with malformedFrame", async () => {
    const reader = new BufferedReader(new ChunkedSource(header(0, 0x00), 64));
    await reader.peekByte();
    await assert.rejects(reader.readFrame(1024), protocolError(ErrorCode.malformedFrame));
  });
});
