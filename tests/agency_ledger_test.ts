import assert from "node:assert/strict";
import { AgencyLedger } from "../lib/store/agency_ledger.ts";

/** A ledger with committed batches of the given counts, digest = first + 1. */
function ledgerWith(...counts: number[]): AgencyLedger {
  const ledger = new AgencyLedger();
  let first = 0;
  for (const count of counts) {
    ledger.accept(first, count);
    ledger.commit(first, count, first + 1);
    first += count;
  }
  return ledger;
}

Deno.test("AgencyLedger.place() takes only the batch that starts where the accepted bets end", async (t) => {
  const ledger = ledgerWith(100, 50);
  await t.step("next", () => assert.deepEqual(ledger.place(150, 10, 9), { kind: "next" }));
  await t.step("the same committed batch is a duplicate", () => {
    assert.deepEqual(ledger.place(0, 100, 1), { kind: "duplicate" });
    assert.deepEqual(ledger.place(100, 50, 101), { kind: "duplicate" });
  });
  const misplaced: [string, number, number, number][] = [
    ["same position, other bets", 0, 100, 2],
    ["same position, other count", 0, 99, 1],
    ["inside a committed batch", 10, 90, 1],
    ["an overlap past the end", 120, 50, 121],
    ["a gap", 151, 10, 9],
    ["position 0 of a 1-bet batch", 0, 1, 1],
  ];
  for (const [name, first, count, digest] of misplaced) {
    await t.step(`${name} is misplaced, 150 expected`, () => {
      assert.deepEqual(ledger.place(first, count, digest), { kind: "misplaced", expected: 150 });
    });
  }
  await t.step("no bets: a duplicate up to the stored end, misplaced past it", () => {
    assert.deepEqual(ledger.place(0, 0, 0), { kind: "duplicate" });
    assert.deepEqual(ledger.place(150, 0, 0), { kind: "duplicate" });
    assert.deepEqual(ledger.place(151, 0, 0), { kind: "misplaced", expected: 150 });
  });
});

Deno.test("AgencyLedger.accept() moves the expected position; rollback() goes back to what is committed", () => {
  const ledger = ledgerWith(10);
  ledger.accept(10, 5);
  ledger.accept(15, 5);
  assert.equal(ledger.acceptedBets, 20);
  assert.equal(ledger.storedBets, 10);
  assert.deepEqual(ledger.place(20, 1, 0), { kind: "next" });
  assert.deepEqual(
    ledger.place(10, 5, 11),
    { kind: "misplaced", expected: 20 },
    "queued is not stored",
  );
  ledger.commit(10, 5, 7);
  ledger.rollback();
  assert.equal(ledger.acceptedBets, 15);
  assert.deepEqual(ledger.place(15, 5, 0), { kind: "next" });
  assert.throws(() => ledger.accept(16, 1), RangeError);
  assert.throws(() => ledger.commit(14, 1, 0), RangeError);
});

Deno.test("AgencyLedger sums digests mod 2^32 and keeps a checkpoint per committed batch", () => {
  const ledger = new AgencyLedger();
  ledger.commit(0, 2, 0xffff_fff0);
  ledger.commit(2, 0, 5);
  ledger.commit(2, 3, 0x20);
  assert.equal(ledger.storedBets, 5);
  assert.equal(ledger.storedDigest, 0x10 + 5);
  assert.equal(ledger.batches, 2, "a batch of no bets is no checkpoint");
  assert.deepEqual(ledger.checkpoints(10), [
    { position: 2, digest: 0xffff_fff0 },
    { position: 5, digest: 0x15 },
  ]);
});

Deno.test("AgencyLedger.checkpoints() takes at most max, spread evenly, always ending at the stored end", async (t) => {
  const ledger = ledgerWith(...Array<number>(10).fill(10));
  const cases: [number, number[]][] = [
    [0, []],
    [1, [100]],
    [2, [50, 100]],
    [3, [40, 70, 100]],
    [10, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]],
    [11, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]],
  ];
  for (const [max, positions] of cases) {
    await t.step(`max ${max}`, () => {
      assert.deepEqual(ledger.checkpoints(max).map((checkpoint) => checkpoint.position), positions);
    });
  }
  assert.deepEqual(new AgencyLedger().checkpoints(5), []);
});

Deno.test("AgencyLedger finds each of 1,000 committed batches of varied sizes as a duplicate, past every growth of its arrays", () => {
  const ledger = new AgencyLedger();
  const batches: [number, number, number][] = [];
  let first = 0;
  for (let index = 0; index < 1_000; index += 1) {
    const count = 1 + (index * 7) % 13;
    const digest = (index * 2_654_435_761) >>> 0;
    ledger.accept(first, count);
    ledger.commit(first, count, digest);
    batches.push([first, count, digest]);
    first += count;
  }
  for (const [start, count, digest] of batches) {
    assert.deepEqual(ledger.place(start, count, digest), { kind: "duplicate" });
    assert.equal(ledger.place(start, count, (digest + 1) >>> 0).kind, "misplaced");
    assert.equal(ledger.place(start + 1, count, digest).kind, "misplaced");
  }
  assert.equal(ledger.batches, 1_000);
  assert.equal(ledger.checkpoints(1_000).at(-1)!.position, first);
});
