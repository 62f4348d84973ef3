import assert from "node:assert/strict";
import { planGroup, type PlannedOperation } from "../lib/store/group_plan.ts";
import type { StoreRows } from "../lib/store/store_rows.ts";

function rows(text: string, count: number, digest: number): StoreRows {
  return {
    bytes: new TextEncoder().encode(text),
    count,
    digest,
    winners: { bytes: new Uint8Array(0), count: 0 },
  };
}

Deno.test("planGroup() appends every batch in order with the bets file's size after each", () => {
  const group: PlannedOperation[] = [
    { kind: "batch", agency: 1, first: 0, rows: rows("aa\n", 1, 7) },
    { kind: "batch", agency: 2, first: 5, rows: rows("bbbb\n", 1, 8) },
    { kind: "finished", agency: 1, total: 1 },
  ];
  const plan = planGroup(group, 100, new Map());
  assert.deepEqual(plan.chunks.map((chunk) => new TextDecoder().decode(chunk)), ["aa\n", "bbbb\n"]);
  assert.deepEqual(plan.records, [
    { kind: "B", agency: 1, first: 0, count: 1, betsFileBytes: 103, digest: 7 },
    { kind: "B", agency: 2, first: 5, count: 1, betsFileBytes: 108, digest: 8 },
    { kind: "F", agency: 1, total: 1 },
  ]);
  assert.deepEqual(plan.duplicate, [false, false, false]);
});

Deno.test("planGroup() writes a finish once: not again in the group, not when committed before", () => {
  const group: PlannedOperation[] = [
    { kind: "finished", agency: 3, total: 0 },
    { kind: "finished", agency: 3, total: 0 },
    { kind: "finished", agency: 4, total: 9 },
  ];
  const plan = planGroup(group, 0, new Map([[4, 9]]));
  assert.deepEqual(plan.records, [{ kind: "F", agency: 3, total: 0 }]);
  assert.deepEqual(plan.duplicate, [false, true, true]);
  assert.deepEqual(plan.chunks, []);
});

Deno.test("planGroup() of an empty group writes nothing", () => {
  assert.deepEqual(planGroup([], 42, new Map()), { chunks: [], records: [], duplicate: [] });
});
