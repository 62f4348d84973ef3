import assert from "node:assert/strict";
import { RowRing } from "../lib/store/row_ring.ts";

function _bytes(length: number, value: number): Uint8Array {
  return new Uint8Array(length).fill(value);
}

/** True when `rows` is a view into the ring of `reference` (same buffer). */
function _sameBuffer(rows: Uint8Array, reference: Uint8Array): boolean {
  return rows.buffer === reference.buffer;
}

Deno.test("RowRing copies rows in, so the caller may reuse its buffer at once", () => {
  const ring = new RowRing(64);
  const scratch = _bytes(10, 1);
  const held = ring.copyIn(scratch);
  scratch.fill(9);
  assert.deepEqual(held, _bytes(10, 1));
});

Deno.test("RowRing places rows one after another until full, then gives copies of their own", () => {
  const ring = new RowRing(32);
  const first = ring.copyIn(_bytes(16, 1));
  const second = ring.copyIn(_bytes(16, 2));
  const third = ring.copyIn(_bytes(1, 3));
  assert.ok(_sameBuffer(first, second));
  assert.equal(second.byteOffset, 16);
  assert.ok(!_sameBuffer(third, first), "a full ring gives a buffer of its own");
  assert.deepEqual(third, _bytes(1, 3));
  ring.release(third); // ignored: not the ring's
  assert.deepEqual(second, _bytes(16, 2));
});

Deno.test("RowRing reuses the space of rows given back, wrapping to its start", () => {
  const ring = new RowRing(32);
  const first = ring.copyIn(_bytes(12, 1));
  const second = ring.copyIn(_bytes(12, 2));
  ring.release(first);
  // 8 bytes left at the end: 10 do not fit there, but do before `second`.
  const wrapped = ring.copyIn(_bytes(10, 3));
  assert.ok(_sameBuffer(wrapped, second));
  assert.equal(wrapped.byteOffset, 0);
  assert.deepEqual(second, _bytes(12, 2), "the rows still held are untouched");
  // Wrapped: the only room is between the new tail (10) and `second` (12).
  assert.ok(!_sameBuffer(ring.copyIn(_bytes(2, 4)), second), "no room may touch rows held");
  ring.release(second);
  ring.release(wrapped);
  assert.equal(ring.copyIn(_bytes(32, 5)).byteOffset, 0, "an empty ring starts over");
});

Deno.test("RowRing holds its head while an older batch is still held", () => {
  const ring = new RowRing(30);
  const first = ring.copyIn(_bytes(10, 1));
  const second = ring.copyIn(_bytes(10, 2));
  ring.copyIn(_bytes(10, 3));
  // Given back out of order: the second's space stays unusable behind the first.
  ring.release(second);
  assert.ok(!_sameBuffer(ring.copyIn(_bytes(5, 4)), first));
  ring.release(first);
  const reused = ring.copyIn(_bytes(19, 5));
  assert.ok(_sameBuffer(reused, first));
  assert.equal(reused.byteOffset, 0);
});

Deno.test("RowRing gives rows larger than the ring a buffer of their own", () => {
  const ring = new RowRing(8);
  const large = ring.copyIn(_bytes(9, 1));
  const small = ring.copyIn(_bytes(8, 2));
  assert.ok(!_sameBuffer(large, small));
  assert.equal(small.byteOffset, 0);
});
