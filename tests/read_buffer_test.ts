import assert from "node:assert/strict";
import { READ_BUFFER_FREE_BYTES } from "../lib/limits.ts";
import { grownBufferBytes, ReadBuffer } from "../lib/protocol/read_buffer.ts";

/** A buffer of `size` bytes holding `unread` after `taken` bytes already taken. */
function holding(size: number, taken: number[], unread: number[]): ReadBuffer {
  const buffer = new ReadBuffer(new Uint8Array(size));
  buffer.room().set([...taken, ...unread]);
  buffer.added(taken.length + unread.length);
  buffer.skip(taken.length);
  return buffer;
}

/** The unread bytes, without taking them. */
function unreadOf(buffer: ReadBuffer): number[] {
  return [...buffer.bytes.subarray(buffer.start, buffer.start + buffer.buffered)];
}

Deno.test("ReadBuffer.added() and take() keep the unread bytes between start and end", () => {
  const buffer = holding(8, [], [1, 2, 3, 4, 5]);
  assert.equal(buffer.roomBytes, 3);
  const view = buffer.take(2, false);
  assert.deepEqual([...view], [1, 2]);
  assert.equal(view.buffer, buffer.bytes.buffer, "a view into the buffer");
  const copy = buffer.take(2, true);
  assert.deepEqual([...copy], [3, 4]);
  assert.notEqual(copy.buffer, buffer.bytes.buffer, "a copy of its own");
  assert.equal(buffer.start, 4);
  assert.deepEqual(unreadOf(buffer), [5]);
  assert.deepEqual([...buffer.take(0, true)], []);
});

Deno.test("ReadBuffer.indexOf() counts from the first unread byte and skips `from` bytes", () => {
  const buffer = holding(8, [10, 10], [1, 10, 2, 10]);
  assert.equal(buffer.indexOf(10, 0), 1);
  assert.equal(buffer.indexOf(10, 2), 3);
  assert.equal(buffer.indexOf(10, 4), -1);
  assert.equal(buffer.indexOf(7, 0), -1);
});

Deno.test("ReadBuffer.compactFor() moves the unread bytes to the front only when the room is short", async (t) => {
  await t.step("room enough: nothing moves", () => {
    const buffer = holding(8, [9, 9], [1, 2]);
    buffer.compactFor(4);
    assert.equal(buffer.start, 2);
  });
  await t.step("room one byte short: moved", () => {
    const buffer = holding(8, [9, 9], [1, 2]);
    buffer.compactFor(5);
    assert.equal(buffer.start, 0);
    assert.equal(buffer.roomBytes, 6);
    assert.deepEqual(unreadOf(buffer), [1, 2]);
  });
});

Deno.test("ReadBuffer.moveTo() carries the unread bytes into the next buffer and returns the old one", async (t) => {
  await t.step("into a larger buffer", () => {
    const buffer = holding(4, [9], [1, 2, 3]);
    const before = buffer.bytes;
    assert.equal(buffer.moveTo(new Uint8Array(16)), before);
    assert.equal(buffer.bytes.length, 16);
    assert.deepEqual(unreadOf(buffer), [1, 2, 3]);
    assert.equal(buffer.roomBytes, 13);
  });
  await t.step("into one exactly their size", () => {
    const buffer = holding(8, [9], [1, 2, 3]);
    buffer.moveTo(new Uint8Array(3));
    assert.deepEqual(unreadOf(buffer), [1, 2, 3]);
    assert.equal(buffer.roomBytes, 0);
  });
  await t.step("into one a byte too small: RangeError, nothing moved", () => {
    const buffer = holding(8, [9], [1, 2, 3]);
    assert.throws(
      () => buffer.moveTo(new Uint8Array(2)),
      (error) => error instanceof RangeError && /Cannot move 3 unread bytes/.test(error.message),
    );
    assert.deepEqual(unreadOf(buffer), [1, 2, 3]);
  });
});

Deno.test("grownBufferBytes() grows to the free size in one step, then at least doubles", async (t) => {
  const cases: [string, number, number, number][] = [
    ["0 bytes needed", 0, 1024, READ_BUFFER_FREE_BYTES],
    [
      "the free size needed, from a buffer over half of it",
      READ_BUFFER_FREE_BYTES,
      READ_BUFFER_FREE_BYTES - 1,
      READ_BUFFER_FREE_BYTES,
    ],
    [
      "one byte more: double",
      READ_BUFFER_FREE_BYTES + 1,
      READ_BUFFER_FREE_BYTES,
      2 * READ_BUFFER_FREE_BYTES,
    ],
    ["more than double: what is needed", 100_000, READ_BUFFER_FREE_BYTES, 100_000],
  ];
  for (const [name, needed, current, expected] of cases) {
    await t.step(name, () => assert.equal(grownBufferBytes(needed, current), expected));
  }
});
