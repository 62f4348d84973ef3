import assert from "node:assert/strict";
import { ReadBudget } from "../lib/protocol/read_budget.ts";
import { isPending } from "./helpers/promise_state.ts";

Deno.test("ReadBudget.reserve() grants at once up to the budget, then waits for a release", async () => {
  const budget = new ReadBudget(100);
  assert.equal(budget.reserve(0), undefined);
  assert.equal(budget.reserve(60), undefined);
  assert.equal(budget.reserve(40), undefined, "exactly the budget");
  const over = budget.reserve(1);
  assert.ok(over !== undefined, "one byte more waits");
  assert.ok(await isPending(over));
  assert.deepEqual(budget.usage, { reservedBytes: 100, waiting: 1 });
  budget.release(40);
  assert.equal(await isPending(over), false);
  assert.deepEqual(budget.usage, { reservedBytes: 61, waiting: 0 });
});

Deno.test("ReadBudget.reserve() grants waiters in order: a later small one does not overtake", async () => {
  const budget = new ReadBudget(100);
  assert.equal(budget.reserve(90), undefined);
  const big = budget.reserve(50)!;
  const small = budget.reserve(5);
  assert.ok(small !== undefined, "queued behind the waiting one");
  budget.release(90);
  assert.equal(await isPending(big), false);
  assert.equal(await isPending(small), false);
  assert.deepEqual(budget.usage, { reservedBytes: 55, waiting: 0 });
});

Deno.test("ReadBudget.reserve() grants one reservation above the budget when nothing else is reserved", async () => {
  const budget = new ReadBudget(100);
  assert.equal(budget.reserve(101), undefined);
  const next = budget.reserve(1)!;
  assert.ok(await isPending(next));
  budget.release(101);
  assert.equal(await isPending(next), false);
});

Deno.test("ReadBudget.cancel() rejects a waiting reservation and lets the next one in", async () => {
  const budget = new ReadBudget(100);
  assert.equal(budget.reserve(80), undefined);
  const first = budget.reserve(30)!;
  const second = budget.reserve(20)!;
  budget.cancel(first, new Deno.errors.Interrupted("reader closed"));
  await assert.rejects(first, Deno.errors.Interrupted);
  assert.equal(await isPending(second), false);
  assert.deepEqual(budget.usage, { reservedBytes: 100, waiting: 0 });
});

Deno.test("ReadBudget rejects a budget of 0 and a release of more than was reserved", () => {
  assert.throws(() => new ReadBudget(0), RangeError);
  const budget = new ReadBudget(10);
  assert.equal(budget.reserve(5), undefined);
  assert.throws(() => budget.release(6), RangeError);
});

Deno.test("ReadBudget calls onSpent when a first reservation waits and when none waits any more", async () => {
  const calls: [boolean, number][] = [];
  const budget = new ReadBudget(10, (spent, usage) => calls.push([spent, usage.waiting]));
  assert.equal(budget.reserve(10), undefined);
  const first = budget.reserve(5)!;
  const second = budget.reserve(5)!;
  assert.deepEqual(calls, [[true, 1]]);
  budget.release(10);
  await Promise.all([first, second]);
  assert.deepEqual(calls, [[true, 1], [false, 0]]);
  const third = budget.reserve(1)!;
  budget.cancel(third, new Deno.errors.Interrupted("reader closed"));
  await assert.rejects(third, Deno.errors.Interrupted);
  assert.deepEqual(calls, [[true, 1], [false, 0], [true, 1], [false, 0]]);
});

Deno.test("ReadBudget.allocate() reuses a recycled first buffer of the same size, up to 1 MiB of them", async (t) => {
  await t.step("by size", () => {
    const budget = new ReadBudget(1024 * 1024);
    const first = budget.allocate(1024);
    const free = budget.allocate(16 * 1024);
    budget.recycle(first);
    budget.recycle(free);
    assert.equal(budget.allocate(16 * 1024), free);
    assert.equal(budget.allocate(1024), first);
    assert.notEqual(budget.allocate(1024), first, "each spare is handed out once");
  });
  await t.step("1 MiB kept, the next one not", () => {
    const budget = new ReadBudget(1024 * 1024);
    const buffers = Array.from({ length: 1025 }, () => budget.allocate(1024));
    for (const buffer of buffers) budget.recycle(buffer);
    const reused = new Set(Array.from({ length: 1025 }, () => budget.allocate(1024)));
    assert.equal(buffers.filter((buffer) => reused.has(buffer)).length, 1024);
    assert.ok(!reused.has(buffers[1024]!), "the buffer past 1 MiB was not kept");
  });
});
