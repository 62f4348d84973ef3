import assert from "node:assert/strict";
import { StoredPrefixCheck } from "../lib/client/stored_prefix_check.ts";

/** The digest of the first `position` rows in these tests: position * 10. */
const digestAt = (position: number) => position * 10;

/** Skips `rows` rows with the digests `digestOf(position)`; returns the first mismatch. */
function skip(check: StoredPrefixCheck, rows: number, digestOf = digestAt) {
  for (let position = 1; position <= rows; position += 1) {
    const mismatch = check.skipped(position, digestOf(position));
    if (mismatch !== undefined) return mismatch;
  }
  return undefined;
}

const checkpoints = [30, 60, 90].map((position) => ({ position, digest: digestAt(position) }));

Deno.test("StoredPrefixCheck passes rows whose digests match at every checkpoint and the end", () => {
  const check = new StoredPrefixCheck(100, digestAt(100), checkpoints);
  assert.equal(skip(check, 100), undefined);
  assert.equal(check.ended(150), undefined);
  assert.equal(check.mismatch, undefined);
});

Deno.test("StoredPrefixCheck names the range between the last matching checkpoint and the first that differs", async (t) => {
  const cases: [string, number, number, number][] = [
    ["first range", 5, 0, 29],
    ["middle range", 70, 60, 89],
    ["after the last checkpoint", 95, 90, 99],
  ];
  for (const [name, changedAt, from, to] of cases) {
    await t.step(name, () => {
      const check = new StoredPrefixCheck(100, digestAt(100), checkpoints);
      const mismatch = skip(check, 100, (p) => p >= changedAt ? digestAt(p) + 1 : digestAt(p));
      assert.deepEqual([mismatch?.from, mismatch?.to], [from, to]);
      assert.match(mismatch!.reason, new RegExp(`rows ${from + 1}\\.\\.${to + 1} `));
    });
  }
});

Deno.test("StoredPrefixCheck.ended() names a file shorter than the stored bets", () => {
  const check = new StoredPrefixCheck(100, digestAt(100), checkpoints);
  assert.equal(skip(check, 40), undefined);
  const mismatch = check.ended(40);
  assert.deepEqual([mismatch?.from, mismatch?.to], [40, 99]);
  assert.match(mismatch!.reason, /has 40 valid rows but the draw stores 100 bets/);
});

Deno.test("StoredPrefixCheck with nothing stored has nothing to check", () => {
  const check = new StoredPrefixCheck(0, 0, []);
  assert.equal(check.ended(0), undefined);
  assert.equal(check.storedBets, 0);
});
