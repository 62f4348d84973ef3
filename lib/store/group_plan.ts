/**
 * Plans one group commit: which bytes go to the bets file and which records
 * to the journal, for a group of queued operations. Pure, so the rules are
 * tested without files. Batches reach the queue only once placed as the
 * next of their agency (agency_ledger.ts), so every batch is written; a
 * finished record is written once per agency.
 */

import type { JournalRecord } from "./store_journal.ts";
import type { StoreRows } from "./store_rows.ts";

/** A queued batch or finished mark, as the planner sees it. */
export type PlannedOperation =
  | { kind: "batch"; agency: number; first: number; rows: StoreRows }
  | { kind: "finished"; agency: number; total: number };

/** What one group commit writes. */
export interface GroupPlan {
  /** Rows to append to the bets file, in order. */
  chunks: Uint8Array[];
  /** Records to append to the journal after the bets file is synced. */
  records: JournalRecord[];
  /** Per operation, in order: true when it writes nothing (a repeated finish). */
  duplicate: boolean[];
}

/**
 * Plans a group.
 * @param betsFileBytes committed size of the bets file before the group
 * @param finished agencies whose finish is already committed
 */
export function planGroup(
  group: readonly PlannedOperation[],
  betsFileBytes: number,
  finished: ReadonlyMap<number, number>,
): GroupPlan {
  const plan: GroupPlan = { chunks: [], records: [], duplicate: [] };
  const finishedInGroup = new Set<number>();
  let bytes = betsFileBytes;
  for (const operation of group) {
    if (operation.kind === "batch") {
      const { agency, first, rows } = operation;
      plan.chunks.push(rows.bytes);
      bytes += rows.bytes.length;
      plan.records.push({
        kind: "B",
        agency,
        first,
        count: rows.count,
        betsFileBytes: bytes,
        digest: rows.digest,
      });
      plan.duplicate.push(false);
      continue;
    }
    const repeated = finished.has(operation.agency) || finishedInGroup.has(operation.agency);
    plan.duplicate.push(repeated);
    if (repeated) continue;
    finishedInGroup.add(operation.agency);
    plan.records.push({ kind: "F", agency: operation.agency, total: operation.total });
  }
  return plan;
}
