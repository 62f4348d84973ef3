import assert from "node:assert/strict";
import { AgencyClaims, type AgencyHolder } from "../lib/server/agency_claims.ts";
import { isPending } from "./helpers/promise_state.ts";

/** A holder whose store work settles when the test says so. */
class FakeHolder implements AgencyHolder {
  fenced = false;
  readonly #settled = Promise.withResolvers<void>();

  fence(): void {
    this.fenced = true;
  }

  storeSettled(): Promise<void> {
    return this.#settled.promise;
  }

  settle(): void {
    this.#settled.resolve();
  }
}

Deno.test("AgencyClaims.claim() of a free agency is ready at once and fences no one", async () => {
  const claims = new AgencyClaims();
  const holder = new FakeHolder();
  assert.equal(await isPending(claims.claim(1, holder)), false);
  assert.equal(holder.fenced, false);
  assert.ok(claims.holds(1, holder));
});

Deno.test("AgencyClaims.claim() fences the holder before and waits for its store work", async () => {
  const claims = new AgencyClaims();
  const older = new FakeHolder();
  const newer = new FakeHolder();
  await claims.claim(1, older);
  const ready = claims.claim(1, newer);
  assert.equal(older.fenced, true);
  assert.equal(await isPending(ready), true);
  assert.ok(claims.holds(1, newer) && !claims.holds(1, older));
  older.settle();
  await ready;
});

Deno.test("AgencyClaims.claim() after several takeovers waits for every holder before it", async () => {
  const claims = new AgencyClaims();
  const [first, second, third] = [new FakeHolder(), new FakeHolder(), new FakeHolder()];
  await claims.claim(1, first);
  const secondReady = claims.claim(1, second);
  second.settle();
  const thirdReady = claims.claim(1, third);
  assert.equal(await isPending(thirdReady), true, "the first holder's work is still out");
  first.settle();
  await Promise.all([secondReady, thirdReady]);
});

Deno.test("AgencyClaims.release() ends only the current holder's claim", async () => {
  const claims = new AgencyClaims();
  const older = new FakeHolder();
  const newer = new FakeHolder();
  older.settle();
  await claims.claim(1, older);
  await claims.claim(1, newer);
  claims.release(1, older);
  assert.ok(claims.holds(1, newer), "a superseded holder leaving does not free the agency");
  claims.release(1, newer);
  const next = new FakeHolder();
  assert.equal(await isPending(claims.claim(1, next)), false);
  assert.equal(newer.fenced, false, "a released holder is not fenced again");
});
