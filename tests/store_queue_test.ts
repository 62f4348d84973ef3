import assert from "node:assert/strict";
import { type StoreOperation, StoreQueue } from "../lib/store/store_queue.ts";
import { isPending } from "./helpers/promise_state.ts";

/** A queued batch of `bytes` row bytes whose promise nobody awaits. */
function batch(bytes: number): StoreOperation {
  return {
    kind: "batch",
    agency: 1,
    first: 0,
    rows: {
      bytes: new Uint8Array(bytes),
      count: 1,
      digest: 0,
      winners: { bytes: new Uint8Array(0), count: 0 },
    },
    resolve: () => {},
    reject: () => {},
  };
}

/** A queued finished mark of `agency`. */
function finished(agency: number): StoreOperation {
  return { kind: "finished", agency, total: 0, resolve: () => {}, reject: () => {} };
}

Deno.test("StoreQueue.room() is free under queueBytesMax, waits at it, and frees on release()", async (t) => {
  await t.step("0 bytes held: free", () => {
    assert.equal(new StoreQueue(10).room(), undefined);
  });
  await t.step(
    "queueBytesMax - 1 held: free; queueBytesMax: waits; back under: resolved",
    async () => {
      const queue = new StoreQueue(10);
      const first = queue.hold(new Uint8Array(9));
      assert.equal(queue.room(), undefined);
      const second = queue.hold(new Uint8Array(1));
      assert.equal(queue.queuedBytes, 10);
      const room = queue.room();
      assert.ok(room !== undefined);
      assert.equal(queue.room(), room, "waiters share one promise");
      queue.release(second);
      assert.equal(await isPending(room), false);
      assert.equal(queue.queuedBytes, 9);
      assert.equal(queue.room(), undefined);
      queue.release(first);
      assert.equal(queue.queuedBytes, 0);
    },
  );
  await t.step("queueBytesMax + 1 held: waits until enough is released", async () => {
    const queue = new StoreQueue(10);
    const big = queue.hold(new Uint8Array(10));
    const small = queue.hold(new Uint8Array(1));
    const room = queue.room()!;
    queue.release(small);
    assert.equal(await isPending(room), true, "10 bytes still held");
    queue.release(big);
    assert.equal(await isPending(room), false);
  });
});

Deno.test("StoreQueue.hold() copies the rows: the caller may reuse its bytes at once", () => {
  const queue = new StoreQueue(64);
  const rows = new Uint8Array([1, 2, 3]);
  const held = queue.hold(rows);
  rows.fill(9);
  assert.deepEqual([...held], [1, 2, 3]);
});

Deno.test("StoreQueue.takeGroup() takes at most groupBatchesMax, oldest first", () => {
  const queue = new StoreQueue(64, 3, 1024);
  const operations = [1, 2, 3, 4, 5].map(finished);
  for (const operation of operations) queue.push(operation);
  assert.deepEqual(queue.takeGroup(), operations.slice(0, 3));
  assert.equal(queue.length, 2);
  assert.deepEqual(queue.takeGroup(), operations.slice(3));
  assert.deepEqual(queue.takeGroup(), []);
});

Deno.test("StoreQueue.takeGroup() adds no batch once groupBytesMax of rows are taken", async (t) => {
  const cases: [string, number[], number][] = [
    ["under the cap: all", [4, 5], 2],
    ["reaching the cap: stops after it", [4, 6, 1], 2],
    ["one batch over the cap: taken alone", [20, 1], 1],
  ];
  for (const [name, sizes, taken] of cases) {
    await t.step(name, () => {
      const queue = new StoreQueue(64, 100, 10);
      for (const size of sizes) queue.push(batch(size));
      assert.equal(queue.takeGroup().length, taken);
      assert.equal(queue.length, sizes.length - taken);
    });
  }
});

Deno.test("StoreQueue.takeAll() takes every queued operation", () => {
  const queue = new StoreQueue(64, 1, 1);
  queue.push(finished(1));
  queue.push(batch(5));
  assert.equal(queue.takeAll().length, 2);
  assert.equal(queue.length, 0);
});
