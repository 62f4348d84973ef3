import assert from "node:assert/strict";
import type { Bet } from "../lib/bet/bet.ts";
import { formatStoreRow } from "../lib/bet/bet_csv.ts";
import { openAppendFile } from "../lib/store/store_file.ts";
import { formatJournalRecord, type JournalRecord } from "../lib/store/store_journal.ts";
import { type RestoredStore, restoreStore } from "../lib/store/store_restore.ts";
import { makeBets } from "./helpers/bets.ts";
import { digestOf } from "./helpers/store_rows.ts";
import { countingOpener } from "./helpers/storage.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { documentsOf } from "./helpers/winners.ts";

const _encoder = new TextEncoder();

/**
 * Writes a bets file and its journal as a store commits them: each batch's
 * rows, and a B record naming the bets file's size after it.
 * @returns the committed sizes of both files
 */
async function writeCommitted(
  path: string,
  batches: { agency: number; first: number; bets: Bet[] }[],
  extraRecords: JournalRecord[] = [],
): Promise<{ betsBytes: number; journalBytes: number }> {
  let rows = "";
  let journal = "";
  for (const { agency, first, bets } of batches) {
    rows += bets.map(formatStoreRow).join("");
    journal += formatJournalRecord({
      kind: "B",
      agency,
      first,
      count: bets.length,
      betsFileBytes: _encoder.encode(rows).length,
      digest: digestOf(bets, first),
    });
  }
  journal += extraRecords.map(formatJournalRecord).join("");
  await Deno.writeTextFile(path, rows);
  await Deno.writeTextFile(`${path}.journal`, journal);
  return { betsBytes: _encoder.encode(rows).length, journalBytes: journal.length };
}

/** Restores, runs `body` and closes the files restored. */
async function withRestored(
  path: string,
  body: (restored: RestoredStore) => void | Promise<void>,
  progress: number[][] = [],
): Promise<void> {
  const onProgress = (read: number, total: number) => progress.push([read, total]);
  const restored = await restoreStore(path, openAppendFile, onProgress);
  try {
    await body(restored);
  } finally {
    restored.betsFile.close();
    restored.journalFile.close();
  }
}

Deno.test("restoreStore() of a new path creates its folder and two empty files", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/draw/bets.csv`;
    await withRestored(path, ({ state, report }) => {
      assert.equal(state.ledgers.size, 0);
      assert.deepEqual(report, {
        bets: 0,
        batches: 0,
        agenciesFinished: 0,
        discardedBetsBytes: 0,
        discardedJournalBytes: 0,
      });
    });
    assert.equal((await Deno.stat(path)).size, 0);
    assert.equal((await Deno.stat(`${path}.journal`)).size, 0);
  });
});

Deno.test("restoreStore() rebuilds ledgers, finishes and winners from both files, reporting progress", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    const agency1 = makeBets(1, 4, { winnersAt: [1, 3] });
    const agency2 = makeBets(2, 2, { winnersAt: [0] });
    const { betsBytes } = await writeCommitted(path, [
      { agency: 1, first: 0, bets: agency1.slice(0, 2) },
      { agency: 2, first: 0, bets: agency2 },
      { agency: 1, first: 2, bets: agency1.slice(2) },
    ], [{ kind: "F", agency: 2, total: 2 }]);
    const progress: number[][] = [];
    await withRestored(path, ({ state, winners, report }) => {
      assert.deepEqual(report, {
        bets: 6,
        batches: 3,
        agenciesFinished: 1,
        discardedBetsBytes: 0,
        discardedJournalBytes: 0,
      });
      assert.equal(state.ledgers.get(1)!.storedBets, 4);
      assert.equal(state.ledgers.get(1)!.storedDigest, digestOf(agency1));
      assert.deepEqual([...state.finished], [[2, 2]]);
      assert.deepEqual(documentsOf(winners.answer(1)), [
        agency1[1]!.document,
        agency1[3]!.document,
      ]);
      assert.deepEqual(documentsOf(winners.answer(2)), [agency2[0]!.document]);
    }, progress);
    assert.deepEqual(progress.at(-1), [betsBytes, betsBytes]);
  });
});

Deno.test("restoreStore() cuts a crash's torn tail off both files and reports the bytes cut", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    const bets = makeBets(1, 3);
    const { betsBytes, journalBytes } = await writeCommitted(path, [{ agency: 1, first: 0, bets }]);
    await Deno.writeTextFile(path, "1,Torn,Ro", { append: true });
    await Deno.writeTextFile(`${path}.journal`, "B 1 3 2", { append: true });
    await withRestored(path, ({ state, report }) => {
      assert.equal(report.discardedBetsBytes, 9);
      assert.equal(report.discardedJournalBytes, 7);
      assert.equal(report.bets, 3);
      assert.equal(state.betsFileBytes, betsBytes);
      assert.equal(state.journalBytes, journalBytes);
    });
    assert.equal((await Deno.stat(path)).size, betsBytes);
    assert.equal((await Deno.stat(`${path}.journal`)).size, journalBytes);
  });
});

Deno.test("restoreStore() refuses files a crash cannot explain, and closes what it opened", async (t) => {
  const cases: [string, (path: string) => Promise<void>, RegExp][] = [
    ["a bets file shorter than the journal commits", async (path) => {
      await writeCommitted(path, [{ agency: 1, first: 0, bets: makeBets(1, 2) }]);
      await Deno.truncate(path, 5);
    }, /has 5 bytes but its journal commits/],
    ["an agency's rows that differ from its journal's count", async (path) => {
      await writeCommitted(path, [{ agency: 1, first: 0, bets: makeBets(2, 2) }]);
    }, /holds 0 bets of agency 1 but its journal commits 2/],
  ];
  for (const [name, prepare, message] of cases) {
    await t.step(name, async () => {
      await withTempDir(async (dir) => {
        const path = `${dir}/bets.csv`;
        await prepare(path);
        const { opener, openFiles } = countingOpener();
        await assert.rejects(restoreStore(path, opener, () => {}), message);
        assert.equal(openFiles(), 0, "every file opened is closed");
      });
    });
  }
});
