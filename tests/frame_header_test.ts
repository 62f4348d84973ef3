import assert from "node:assert/strict";
import { frameBodyLength, frameHeaderError } from "../lib/protocol/frame_header.ts";
import {
  ErrorCode,
  FRAME_HEADER_BYTES,
  FRAME_MARKER,
  MessageType,
  PROTOCOL_VERSION,
} from "../lib/protocol/protocol.ts";

/** A frame header declaring `length` body bytes, `at` bytes into a buffer. */
function header(length: number, at = 0, marker = FRAME_MARKER, version = PROTOCOL_VERSION) {
  const bytes = new Uint8Array(at + FRAME_HEADER_BYTES);
  bytes.set([marker, version, MessageType.batch], at);
  new DataView(bytes.buffer).setUint32(at + 3, length);
  return bytes;
}

Deno.test("frameBodyLength() reads the u32 length at any offset, up to 2^32 - 1", async (t) => {
  for (const length of [0, 1, 0x01020304, 0x7fffffff, 0x80000000, 0xffffffff]) {
    await t.step(`${length}`, () => {
      assert.equal(frameBodyLength(header(length), 0), length);
      assert.equal(frameBodyLength(header(length, 5), 5), length);
    });
  }
});

Deno.test("frameHeaderError() accepts 0 and the maximum, and names marker, version and length faults", async (t) => {
  const max = 1024;
  await t.step("length 0 and the maximum are sound", () => {
    assert.equal(frameHeaderError(header(0), 0, max), undefined);
    assert.equal(frameHeaderError(header(max, 3), 3, max), undefined);
  });
  const cases: [string, Uint8Array, number, RegExp][] = [
    ["maximum + 1", header(max + 1), ErrorCode.frameTooLarge, /1025 bytes exceeds .* 1024/],
    ["a wrong marker", header(0, 0, 0x41), ErrorCode.malformedFrame, /byte 65/],
    ["a wrong version", header(0, 0, FRAME_MARKER, 9), ErrorCode.unsupportedVersion, /9/],
    [
      "a wrong marker before an oversized length",
      header(max + 1, 0, 0x41),
      ErrorCode.malformedFrame,
      /marker/,
    ],
  ];
  for (const [name, bytes, code, message] of cases) {
    await t.step(name, () => {
      const error = frameHeaderError(bytes, 0, max);
      assert.equal(error?.code, code);
      assert.match(error!.message, message);
    });
  }
});
