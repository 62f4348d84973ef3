import assert from "node:assert/strict";
import { commitGroup, type CommitTarget } from "../lib/store/group_commit.ts";
import type { StoreFile } from "../lib/store/store_file.ts";
import {
  formatJournalRecord,
  type JournalRecord,
  replayJournal,
} from "../lib/store/store_journal.ts";

const _encoder = new TextEncoder();

/** A store file in memory that logs each call and fails the one named in `failing`. */
class MemoryFile implements StoreFile {
  bytes: number[] = [];
  constructor(readonly name: string, readonly calls: string[], readonly failing: Set<string>) {}

  write(bytes: Uint8Array): Promise<number> {
    this.calls.push(`${this.name}.write`);
    if (this.failing.has(`${this.name}.write`)) return Promise.reject(new Error("disk full"));
    this.bytes.push(...bytes);
    return Promise.resolve(bytes.length);
  }

  syncData(): Promise<void> {
    this.calls.push(`${this.name}.syncData`);
    if (this.failing.has(`${this.name}.syncData`)) return Promise.reject(new Error("EIO"));
    return Promise.resolve();
  }

  truncate(length: number): Promise<void> {
    this.calls.push(`${this.name}.truncate(${length})`);
    this.bytes.length = length;
    return Promise.resolve();
  }

  close(): void {}
}

/** Two memory files with a committed state of `betsBytes` in the bets file and one record. */
function target(failing: string[] = []) {
  const calls: string[] = [];
  const synced: string[] = [];
  const betsFile = new MemoryFile("bets", calls, new Set(failing));
  const journalFile = new MemoryFile("journal", calls, new Set(failing));
  const committed = formatJournalRecord({
    kind: "B",
    agency: 1,
    first: 0,
    count: 1,
    betsFileBytes: 3,
    digest: 1,
  });
  betsFile.bytes.push(..._encoder.encode("aa\n"));
  journalFile.bytes.push(..._encoder.encode(committed));
  const state = replayJournal(committed);
  const files: CommitTarget = {
    betsFile,
    journalFile,
    staging: new Uint8Array(4),
    observer: { synced: (file) => synced.push(file), transaction: () => {} },
  };
  return { calls, synced, betsFile, journalFile, state, files };
}

const _BATCH: JournalRecord = {
  kind: "B",
  agency: 1,
  first: 1,
  count: 1,
  betsFileBytes: 6,
  digest: 2,
};

Deno.test("commitGroup() syncs the rows before the journal names them, then applies the records", async () => {
  const { calls, synced, betsFile, journalFile, state, files } = target();
  const finishedRecord: JournalRecord = { kind: "F", agency: 1, total: 2 };
  await commitGroup(files, state, {
    chunks: [_encoder.encode("bb\n")],
    records: [_BATCH, finishedRecord],
  });
  assert.deepEqual(calls, ["bets.write", "bets.syncData", "journal.write", "journal.syncData"]);
  assert.deepEqual(synced, ["bets", "journal"]);
  assert.equal(new TextDecoder().decode(new Uint8Array(betsFile.bytes)), "aa\nbb\n");
  assert.equal(state.betsFileBytes, 6);
  assert.equal(state.batches, 2);
  assert.equal(state.ledgers.get(1)!.storedBets, 2);
  assert.deepEqual([...state.finished], [[1, 2]]);
  assert.equal(state.journalBytes, journalFile.bytes.length);
});

Deno.test("commitGroup() of finishes only writes the journal; of no record writes nothing", async (t) => {
  await t.step("finishes only", async () => {
    const { calls, state, files } = target();
    await commitGroup(files, state, { chunks: [], records: [{ kind: "F", agency: 1, total: 1 }] });
    assert.deepEqual(calls, ["journal.write", "journal.syncData"]);
  });
  await t.step("no record", async () => {
    const { calls, state, files } = target();
    await commitGroup(files, state, { chunks: [], records: [] });
    assert.deepEqual(calls, []);
  });
});

Deno.test("commitGroup() cuts both files back to their committed size when a call fails", async (t) => {
  for (const failing of ["bets.write", "bets.syncData", "journal.write", "journal.syncData"]) {
    await t.step(failing, async () => {
      const { calls, betsFile, journalFile, state, files } = target([failing]);
      const journalBytes = state.journalBytes;
      await assert.rejects(
        commitGroup(files, state, { chunks: [_encoder.encode("bb\n")], records: [_BATCH] }),
      );
      assert.deepEqual(calls.slice(-2), ["bets.truncate(3)", `journal.truncate(${journalBytes})`]);
      assert.equal(betsFile.bytes.length, 3);
      assert.equal(journalFile.bytes.length, journalBytes);
      assert.equal(state.betsFileBytes, 3, "the state is unchanged");
      assert.equal(state.batches, 1);
      assert.equal(state.journalBytes, journalBytes);
    });
  }
});
