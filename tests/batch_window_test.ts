import assert from "node:assert/strict";
import { BatchWindow, WindowError } from "../lib/client/batch_window.ts";
import { fakeBatch } from "./helpers/encoded_batches.ts";

/** A window resumed at 100 with batches at 100, 110, 120 (10 bets each) in flight. */
function windowOfThree(): BatchWindow {
  const window = new BatchWindow(100);
  for (const first of [100, 110, 120]) window.add(fakeBatch(first, 10));
  return window;
}

Deno.test("BatchWindow counts confirmed bets up to the first unacknowledged batch", () => {
  const window = windowOfThree();
  assert.equal(window.confirmedBets, 100);
  assert.equal(window.sentBets, 130);
  assert.equal(window.acknowledge(110, 10)?.first, 110);
  assert.equal(window.confirmedBets, 100, "an ack out of order confirms nothing before it");
  assert.equal(window.acknowledge(100, 10)?.first, 100);
  assert.equal(window.confirmedBets, 120);
  assert.equal(window.acknowledge(120, 10)?.first, 120);
  assert.equal(window.confirmedBets, 130);
  assert.equal(window.size, 0);
});

Deno.test("BatchWindow.acknowledge() ignores an ack of no batch in flight and refuses a wrong count", () => {
  const window = windowOfThree();
  assert.equal(window.acknowledge(105, 10), undefined);
  assert.throws(() => window.acknowledge(100, 9), WindowError);
  assert.equal(window.size, 3);
});

Deno.test("BatchWindow.add() takes only the batch that starts where the last one ended", () => {
  const window = windowOfThree();
  assert.throws(() => window.add(fakeBatch(131, 10)), RangeError);
  assert.throws(() => window.add(fakeBatch(120, 10)), RangeError);
});

Deno.test("BatchWindow.resumeAt() drops what the server stored and keeps the rest to resend", async (t) => {
  await t.step("nothing more stored", () => {
    const window = windowOfThree();
    assert.deepEqual(window.resumeAt(100, 1100, 1100), []);
    assert.deepEqual(window.unacknowledged().map((b) => b.first), [100, 110, 120]);
  });
  await t.step("two batches stored though their acks were lost", () => {
    const window = windowOfThree();
    assert.deepEqual(window.resumeAt(120, 1120, 1120).map((b) => b.first), [100, 110]);
    assert.deepEqual(window.unacknowledged().map((b) => b.first), [120]);
    assert.equal(window.confirmedBets, 120);
  });
  await t.step("everything stored", () => {
    const window = windowOfThree();
    assert.equal(window.resumeAt(130, 1130, 1130).length, 3);
    assert.equal(window.size, 0);
  });
});

Deno.test("BatchWindow.resumeAt() refuses what cannot be true of this upload", async (t) => {
  const cases: [string, number, number, RegExp][] = [
    ["fewer bets than confirmed", 90, 1090, /reports 90 bets stored but had confirmed 100/],
    ["more bets than sent", 140, 1140, /reports 140 bets stored but this upload sent 130/],
    ["inside a batch", 115, 1115, /inside the batch at 110/],
    ["other bets", 120, 7, /not the ones this upload sent/],
  ];
  for (const [name, stored, digest, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => windowOfThree().resumeAt(stored, digest, 1000 + stored), {
        name: "WindowError",
        message,
      });
    });
  }
});

Deno.test("BatchWindow.resumeCount() checks the count alone and changes nothing", () => {
  const window = windowOfThree();
  assert.deepEqual(window.resumeCount(120).map((b) => b.first), [100, 110]);
  assert.equal(window.size, 3);
  assert.equal(window.storedBatches, 0);
  assert.throws(() => window.resumeCount(115), /inside the batch at 110/);
});

Deno.test("BatchWindow.storedBatches counts batches acknowledged or dropped by a resume, not a refused resume", () => {
  const window = windowOfThree();
  assert.equal(window.storedBatches, 0);
  assert.equal(window.acknowledge(105, 10), undefined);
  assert.equal(window.storedBatches, 0, "an ack of no batch in flight");
  window.acknowledge(100, 10);
  assert.equal(window.storedBatches, 1);
  assert.throws(() => window.resumeAt(120, 7, 1120), WindowError);
  assert.equal(window.storedBatches, 1, "a resume refused counts nothing");
  const resumed = windowOfThree();
  resumed.acknowledge(100, 10);
  assert.equal(resumed.resumeAt(130, 1130, 1130).length, 2);
  assert.equal(resumed.storedBatches, 3);
});
