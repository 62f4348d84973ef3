/**
 * Writes one planned group commit (group_plan.ts) durably: rows appended to
 * the bets file and synced, then the journal records appended and synced, so
 * every record points at bytes already on disk. A failure cuts both files
 * back, so the group is on disk whole or not at all.
 */

import { writeAll, writeChunks } from "../runtime/write_all.ts";
import type { GroupPlan } from "./group_plan.ts";
import type { StoreFile } from "./store_file.ts";
import { applyJournalRecord, formatJournalRecord, type JournalState } from "./store_journal.ts";
import type { StoreObserver } from "./store_observer.ts";

const _encoder = new TextEncoder();

/** Where a group commit writes, and who hears how long its syncs took. */
export interface CommitTarget {
  betsFile: StoreFile;
  journalFile: StoreFile;
  /** Gathers a group's rows into few writes. */
  staging: Uint8Array;
  /** Told how long each fdatasync took (metrics); undefined: nobody asks. */
  observer: StoreObserver | undefined;
}

/**
 * Writes a group and applies its records to `state` once both files are
 * synced. A plan with no record writes nothing.
 * @throws the write's or sync's error, after cutting both files back to
 *   their committed size (`state` is then unchanged)
 */
export async function commitGroup(
  target: CommitTarget,
  state: JournalState,
  plan: Pick<GroupPlan, "chunks" | "records">,
): Promise<void> {
  const { chunks, records } = plan;
  if (records.length === 0) return;
  const { betsFile, journalFile, observer } = target;
  const journal = _encoder.encode(records.map(formatJournalRecord).join(""));
  try {
    if (chunks.length > 0) {
      await writeChunks(betsFile, chunks, target.staging);
      const betsSyncStarted = performance.now();
      await betsFile.syncData();
      observer?.synced("bets", (performance.now() - betsSyncStarted) / 1000);
    }
    await writeAll(journalFile, journal);
    const journalSyncStarted = performance.now();
    await journalFile.syncData();
    observer?.synced("journal", (performance.now() - journalSyncStarted) / 1000);
  } catch (error) {
    await betsFile.truncate(state.betsFileBytes).catch(() => {});
    await journalFile.truncate(state.journalBytes).catch(() => {});
    throw error;
  }
  for (const record of records) applyJournalRecord(state, record);
  state.journalBytes += journal.length;
}
