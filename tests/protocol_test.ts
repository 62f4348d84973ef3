import assert from "node:assert/strict";
import {
  ErrorCode,
  errorCodeName,
  FRAME_HEADER_BYTES,
  FRAME_MARKER,
  MessageType,
  ProtocolError,
} from "../lib/protocol/protocol.ts";

Deno.test("FRAME_MARKER never starts UTF-8 text, so echo sessions are told apart", () => {
  assert.equal(FRAME_HEADER_BYTES, 7);
  assert.throws(() =>
    new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([FRAME_MARKER]))
  );
  for (const text of ["hi\n", "ñ", "😀", "\u00fa"]) {
    assert.notEqual(new TextEncoder().encode(text)[0], FRAME_MARKER);
  }
});

Deno.test("MessageType and ErrorCode values are distinct and fit a byte", async (t) => {
  for (const [name, table] of [["MessageType", MessageType], ["ErrorCode", ErrorCode]] as const) {
    await t.step(name, () => {
      const values = Object.values(table);
      assert.equal(new Set(values).size, values.length);
      assert.ok(values.every((value) => Number.isInteger(value) && value >= 1 && value <= 255));
    });
  }
});

Deno.test("errorCodeName() names every error code and marks unknown ones", async (t) => {
  for (const [name, code] of Object.entries(ErrorCode)) {
    await t.step(`error ${code}`, () => assert.equal(errorCodeName(code), name));
  }
  await t.step("unknown", () => {
    assert.equal(errorCodeName(0), "unknown(0)");
    assert.equal(errorCodeName(200), "unknown(200)");
  });
});

Deno.test("ProtocolError carries its code, batch context and name", () => {
  const plain = new ProtocolError(ErrorCode.frameTooLarge, "too large");
  assert.ok(plain instanceof Error);
  assert.equal(plain.name, "ProtocolError");
  assert.equal(plain.code, ErrorCode.frameTooLarge);
  assert.equal(plain.batch, undefined);
  const batch = { first: 3, betIndex: 2, field: "document" };
  assert.deepEqual(new ProtocolError(ErrorCode.invalidBet, "bad", batch).batch, batch);
});
