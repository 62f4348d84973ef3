import assert from "node:assert/strict";
import { ByteReader, ByteWriter } from "../lib/protocol/byte_cursor.ts";
import { ErrorCode } from "../lib/protocol/protocol.ts";
import { protocolError } from "./helpers/protocol_errors.ts";

Deno.test("ByteWriter writes integers big-endian", () => {
  const writer = new ByteWriter();
  writer.u8(0xab).u16(0x1234).u32(0xdeadbeef);
  assert.deepEqual([...writer.view()], [0xab, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef]);
  assert.equal(writer.length, 7);
});

Deno.test("ByteWriter accepts 0 and the maximum of each integer width", async (t) => {
  const cases: [string, (writer: ByteWriter, value: number) => unknown, number, number[]][] = [
    ["u8 0", (w, v) => w.u8(v), 0, [0]],
    ["u8 255", (w, v) => w.u8(v), 0xff, [0xff]],
    ["u16 0", (w, v) => w.u16(v), 0, [0, 0]],
    ["u16 65535", (w, v) => w.u16(v), 0xffff, [0xff, 0xff]],
    ["u32 0", (w, v) => w.u32(v), 0, [0, 0, 0, 0]],
    ["u32 4294967295", (w, v) => w.u32(v), 0xffff_ffff, [0xff, 0xff, 0xff, 0xff]],
  ];
  for (const [name, write, value, bytes] of cases) {
    await t.step(name, () => {
      const writer = new ByteWriter();
      write(writer, value);
      assert.deepEqual([...writer.view()], bytes);
    });
  }
});

Deno.test("ByteWriter rejects an integer that does not fit its width with RangeError", async (t) => {
  const cases: [string, (writer: ByteWriter) => unknown][] = [
    ["u8 256", (w) => w.u8(0x100)],
    ["u8 -1", (w) => w.u8(-1)],
    ["u16 65536", (w) => w.u16(0x1_0000)],
    ["u16 -1", (w) => w.u16(-1)],
    ["u16 1.5", (w) => w.u16(1.5)],
    ["u32 4294967296", (w) => w.u32(0x1_0000_0000)],
    ["u32 -1", (w) => w.u32(-1)],
    ["u32 NaN", (w) => w.u32(Number.NaN)],
  ];
  for (const [name, write] of cases) {
    await t.step(name, () => {
      const writer = new ByteWriter();
      assert.throws(() => write(writer), RangeError);
      assert.equal(writer.length, 0, "nothing is written");
    });
  }
});

Deno.test("ByteWriter grows past its initial capacity and keeps every byte", async (t) => {
  for (const capacity of [0, 1, 256]) {
    await t.step(`capacity ${capacity}`, () => {
      const writer = new ByteWriter(capacity);
      for (let index = 0; index < 1000; index += 1) writer.u8(index % 256);
      writer.raw(new Uint8Array([1, 2, 3]));
      const bytes = writer.view();
      assert.equal(bytes.length, 1003);
      for (let index = 0; index < 1000; index += 1) assert.equal(bytes[index], index % 256);
      assert.deepEqual([...bytes.subarray(1000)], [1, 2, 3]);
    });
  }
});

Deno.test("ByteWriter.text() writes the UTF-8 length prefix and accepts the prefix's maximum", async (t) => {
  await t.step("empty text with a u8 prefix", () => {
    assert.deepEqual([...new ByteWriter().text("", 1, "name").view()], [0]);
  });
  await t.step("accents and emoji count in bytes", () => {
    assert.deepEqual(
      [...new ByteWriter().text("é😀", 1, "name").view()],
      [6, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80],
    );
  });
  await t.step("u16 prefix", () => {
    assert.deepEqual([...new ByteWriter().text("ab", 2, "reason").view()], [0, 2, 0x61, 0x62]);
  });
  await t.step("255 bytes with a u8 prefix", () => {
    assert.equal(new ByteWriter().text("é".repeat(127) + "a", 1, "name").length, 256);
  });
  await t.step("65535 bytes with a u16 prefix", () => {
    assert.equal(new ByteWriter().text("a".repeat(0xffff), 2, "reason").length, 0x1_0001);
  });
});

Deno.test("ByteWriter.text() rejects text longer than its prefix allows with RangeError", async (t) => {
  const cases: [string, string, 1 | 2, RegExp][] = [
    ["256 bytes with a u8 prefix", "é".repeat(128), 1, /first_name is 256 bytes, more than 255/],
    ["65536 bytes with a u16 prefix", "a".repeat(0x1_0000), 2, /reason is 65536 bytes/],
  ];
  for (const [name, text, prefix, message] of cases) {
    await t.step(name, () => {
      const what = prefix === 1 ? "first_name" : "reason";
      const writer = new ByteWriter();
      assert.throws(() => writer.text(text, prefix, what), {
        name: "RangeError",
        message: message,
      });
      assert.equal(writer.length, 0, "nothing is written");
    });
  }
});

Deno.test("ByteWriter.patchU32() overwrites 4 written bytes up to the last ones and refuses past them", () => {
  const writer = new ByteWriter(2);
  writer.u8(0xab).u32(0).u32(0);
  writer.patchU32(5, 0xdeadbeef).patchU32(1, 7);
  assert.deepEqual([...writer.view()], [0xab, 0, 0, 0, 7, 0xde, 0xad, 0xbe, 0xef]);
  assert.throws(() => writer.patchU32(6, 1), {
    name: "RangeError",
    message: "Cannot patch a u32 at 6: 9 bytes written",
  });
  assert.throws(() => writer.patchU32(-1, 1), RangeError);
  assert.throws(() => writer.patchU32(0, 2 ** 32), RangeError);
  assert.equal(writer.length, 9, "a refused patch writes nothing");
});

Deno.test("ByteReader reads back what ByteWriter wrote", () => {
  const writer = new ByteWriter();
  writer.u8(7).u16(65535).u32(4294967295).text("Ñandú", 1, "a").text("😀", 2, "b").raw(
    new Uint8Array([1, 2]),
  );
  const reader = new ByteReader(writer.view());
  assert.equal(reader.u8("u8"), 7);
  assert.equal(reader.u16("u16"), 65535);
  assert.equal(reader.u32("u32"), 4294967295);
  assert.equal(reader.shortText("a"), "Ñandú");
  assert.equal(reader.longText("b"), "😀");
  assert.equal(reader.remaining, 2);
  assert.deepEqual([...reader.bytes(2, "raw")], [1, 2]);
  assert.equal(reader.remaining, 0);
  reader.end("message");
});

Deno.test("ByteReader reads a view that starts inside a larger buffer", () => {
  const backing = new Uint8Array([0xff, 0xff, 0xff, 0x00, 0x01, 0x02, 0x03, 0xff]);
  const reader = new ByteReader(backing.subarray(3, 7));
  assert.equal(reader.u32("value"), 0x00010203);
  reader.end("value");
});

Deno.test("ByteReader.text() reads 0 bytes as empty text", () => {
  const reader = new ByteReader(new Uint8Array([0]));
  assert.equal(reader.shortText("name"), "");
  reader.end("name");
});

Deno.test("ByteReader rejects a read past the end with malformedFrame naming the field", async (t) => {
  const cases: [string, Uint8Array, (reader: ByteReader) => unknown, RegExp][] = [
    [
      "u8 of nothing",
      new Uint8Array(0),
      (r) => r.u8("code"),
      /code: needs 1 bytes at offset 0, 0 left/,
    ],
    ["u16 of 1 byte", new Uint8Array(1), (r) => r.u16("count"), /count: needs 2 bytes/],
    ["u32 of 3 bytes", new Uint8Array(3), (r) => r.u32("agency"), /agency: needs 4 bytes/],
    ["text longer than the body", new Uint8Array([5, 0x61]), (r) => r.shortText("name"), /name/],
    ["bytes past the end", new Uint8Array(2), (r) => r.bytes(3, "raw"), /raw: needs 3 bytes/],
  ];
  for (const [name, bytes, read, message] of cases) {
    await t.step(name, () => {
      const reader = new ByteReader(bytes);
      assert.throws(() => read(reader), protocolError(ErrorCode.malformedFrame));
      assert.throws(() => read(new ByteReader(bytes)), message);
    });
  }
});

Deno.test("ByteReader.text() rejects bytes that are not UTF-8 with invalidUtf8", async (t) => {
  const cases: [string, number[]][] = [
    ["lone continuation byte", [0x80]],
    ["truncated 2-byte sequence", [0xc3]],
    ["overlong encoding", [0xc0, 0xaf]],
    ["0xFF", [0xff]],
    ["UTF-16 surrogate", [0xed, 0xa0, 0x80]],
  ];
  for (const [name, bytes] of cases) {
    await t.step(name, () => {
      const reader = new ByteReader(new Uint8Array([bytes.length, ...bytes]));
      assert.throws(
        () => reader.shortText("first_name"),
        protocolError(ErrorCode.invalidUtf8, /first_name is not valid UTF-8/),
      );
    });
  }
});

Deno.test("ByteReader.end() rejects bytes left after the last field with malformedFrame", () => {
  const reader = new ByteReader(new Uint8Array([0, 0, 0, 1, 0xff]));
  reader.u32("agency");
  assert.throws(() => reader.end("hello"), protocolError(ErrorCode.malformedFrame));
  assert.throws(() => reader.end("hello"), /hello has 1 bytes after its last field/);
});
