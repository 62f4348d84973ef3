import assert from "node:assert/strict";
import { InFlight } from "../lib/server/in_flight.ts";
import { isPending } from "./helpers/promise_state.ts";

Deno.test("InFlight counts started and settled items", () => {
  const inFlight = new InFlight();
  assert.equal(inFlight.count, 0);
  inFlight.start();
  inFlight.start();
  inFlight.settle();
  assert.equal(inFlight.count, 1);
});

Deno.test("InFlight.settle() with nothing in flight throws RangeError", () => {
  assert.throws(() => new InFlight().settle(), RangeError);
});

Deno.test("InFlight.below() resolves at once under the window and waits at it", async (t) => {
  const inFlight = new InFlight();
  await t.step(
    "0 of 2: at once",
    async () => assert.equal(await isPending(inFlight.below(2)), false),
  );
  inFlight.start();
  await t.step(
    "1 of 2: at once",
    async () => assert.equal(await isPending(inFlight.below(2)), false),
  );
  inFlight.start();
  const waiting = inFlight.below(2);
  await t.step("2 of 2: waits", async () => assert.equal(await isPending(waiting), true));
  inFlight.settle();
  await t.step("back to 1: resolves", async () => {
    await waiting;
  });
});

Deno.test("InFlight.none() waits for every item, however many waiters", async () => {
  const inFlight = new InFlight();
  assert.equal(await isPending(inFlight.none()), false, "nothing in flight");
  inFlight.start();
  inFlight.start();
  const waiters = [inFlight.none(), inFlight.none()];
  inFlight.settle();
  assert.equal(await isPending(waiters[0]!), true, "one item still in flight");
  inFlight.settle();
  await Promise.all(waiters);
});
