import assert from "node:assert/strict";
import { READ_BUFFER_FIRST_BYTES, READ_BUFFER_FREE_BYTES } from "../lib/limits.ts";
import { BudgetedBuffer } from "../lib/protocol/budgeted_buffer.ts";
import { ReadBudget } from "../lib/protocol/read_budget.ts";
import { isPending } from "./helpers/promise_state.ts";

/** Fills the buffer's room with `count` bytes counting 0, 1, 2, … */
function receive(memory: BudgetedBuffer, count: number): void {
  memory.buffer.room().set(new Uint8Array(count).map((_, index) => index % 251));
  memory.buffer.added(count);
}

/** Grows `memory` so `bytes` more fit, waiting when it must. */
async function makeRoom(memory: BudgetedBuffer, bytes: number): Promise<void> {
  await memory.makeRoom(bytes);
}

Deno.test("BudgetedBuffer.makeRoom() answers at once while there is room, and grows for free up to the free size", async () => {
  const budget = new ReadBudget(1024 * 1024);
  const memory = new BudgetedBuffer(budget);
  assert.equal(memory.buffer.bytes.length, READ_BUFFER_FIRST_BYTES);
  assert.equal(memory.makeRoom(READ_BUFFER_FIRST_BYTES), undefined, "exactly the room");
  receive(memory, 100);
  await makeRoom(memory, READ_BUFFER_FIRST_BYTES);
  assert.equal(memory.buffer.bytes.length, READ_BUFFER_FREE_BYTES);
  assert.equal(memory.buffer.buffered, 100, "the unread bytes stay");
  assert.equal(memory.buffer.bytes[99], 99);
  assert.equal(budget.usage.reservedBytes, 0, "no reservation up to the free size");
});

Deno.test("BudgetedBuffer grows past the free size by reserving, and shrink() gives it back", async () => {
  const budget = new ReadBudget(1024 * 1024);
  const memory = new BudgetedBuffer(budget);
  await makeRoom(memory, READ_BUFFER_FREE_BYTES);
  receive(memory, READ_BUFFER_FREE_BYTES);
  await makeRoom(memory, 1);
  receive(memory, 1);
  const grown = memory.buffer.bytes.length;
  assert.equal(grown, 2 * READ_BUFFER_FREE_BYTES);
  assert.equal(budget.usage.reservedBytes, grown - READ_BUFFER_FREE_BYTES);
  memory.shrink();
  assert.equal(memory.buffer.bytes.length, grown, "the unread bytes do not fit the free size yet");
  memory.buffer.skip(1);
  memory.shrink();
  assert.equal(memory.buffer.bytes.length, READ_BUFFER_FREE_BYTES);
  assert.equal(budget.usage.reservedBytes, 0);
  memory.buffer.skip(memory.buffer.buffered);
  memory.shrink(READ_BUFFER_FIRST_BYTES);
  assert.equal(memory.buffer.bytes.length, READ_BUFFER_FIRST_BYTES);
});

Deno.test("BudgetedBuffer.makeRoom() waits while the budget is spent, and cancel() ends the wait with Interrupted", async () => {
  const budget = new ReadBudget(READ_BUFFER_FREE_BYTES);
  assert.equal(budget.reserve(READ_BUFFER_FREE_BYTES), undefined);
  const memory = new BudgetedBuffer(budget);
  const growing = makeRoom(memory, 4 * READ_BUFFER_FREE_BYTES);
  assert.ok(await isPending(growing));
  assert.equal(budget.usage.waiting, 1);
  memory.cancel();
  await assert.rejects(growing, Deno.errors.Interrupted);
  assert.equal(budget.usage.waiting, 0);
  memory.cancel();
});

Deno.test("BudgetedBuffer.dispose() gives the reservation back and drops the buffer", async () => {
  const budget = new ReadBudget(1024 * 1024);
  const memory = new BudgetedBuffer(budget);
  await makeRoom(memory, 4 * READ_BUFFER_FREE_BYTES);
  receive(memory, 10);
  assert.ok(budget.usage.reservedBytes > 0);
  memory.dispose();
  assert.equal(budget.usage.reservedBytes, 0);
  assert.equal(memory.buffer.bytes.length, 0);
  assert.equal(memory.buffer.buffered, 0);
});

Deno.test("BudgetedBuffer without a budget grows as asked", async () => {
  const memory = new BudgetedBuffer();
  await makeRoom(memory, 3 * READ_BUFFER_FREE_BYTES);
  assert.equal(memory.buffer.bytes.length, 3 * READ_BUFFER_FREE_BYTES);
});
