/**
 * Restoring a store from disk when it opens: the journal says what was
 * committed, the bets file is cut back to it (a crash's torn tail was never
 * acknowledged), and reading the bets back rebuilds the winners and checks
 * each agency's count against the journal. Files that disagree in a way a
 * crash cannot explain are refused, not repaired.
 */

import type { AgencyRow } from "../bet/agency_row_scanner.ts";
import { WINNER_NUMBER } from "../bet/bet.ts";
import { type ReadProgress, scanBetsFile } from "./bets_file_reader.ts";
import { journalPathFor, type StoreFile, type StoreFileOpener } from "./store_file.ts";
import { type JournalState, replayJournal } from "./store_journal.ts";
import { WinnersIndex } from "./winners_index.ts";

/** What opening a store found on disk. */
export interface RestoreReport {
  bets: number;
  batches: number;
  agenciesFinished: number;
  /** Bytes cut from the end of the bets file (a crash's partial batch). */
  discardedBetsBytes: number;
  /** Bytes cut from the end of the journal (a crash's partial record). */
  discardedJournalBytes: number;
}

/** A store's files opened and cut back, and what they hold. */
export interface RestoredStore {
  betsFile: StoreFile;
  journalFile: StoreFile;
  state: JournalState;
  winners: WinnersIndex;
  report: RestoreReport;
}

/**
 * Opens (or creates) a store's two files, cuts both back to what the
 * journal commits and reads the bets back.
 * @param betsPath path of the bets CSV; the journal sits beside it
 * @param openFile opens a file for appending
 * @param onProgress told how far reading the bets file back has come
 * @returns the open files (the caller closes them) and what they hold
 * @throws {Error} when the files disagree in a way a crash cannot explain
 *   (the files opened are closed first)
 */
export async function restoreStore(
  betsPath: string,
  openFile: StoreFileOpener,
  onProgress: ReadProgress,
): Promise<RestoredStore> {
  const journalPath = journalPathFor(betsPath);
  const slash = betsPath.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(betsPath.slice(0, slash), { recursive: true });

  const journalText = await Deno.readTextFile(journalPath).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  });
  const state = replayJournal(journalText);
  const betsBytes = await _fileSize(betsPath);
  if (betsBytes < state.betsFileBytes) {
    throw new Error(
      `${betsPath} has ${betsBytes} bytes but its journal commits ${state.betsFileBytes}: the bets file was cut or replaced`,
    );
  }
  // Closes the files if anything below throws; moved out on success.
  using cleanup = new DisposableStack();
  const betsFile = await openFile(betsPath);
  cleanup.defer(() => betsFile.close());
  const journalFile = await openFile(journalPath);
  cleanup.defer(() => journalFile.close());
  await betsFile.truncate(state.betsFileBytes);
  await journalFile.truncate(state.journalBytes);

  const { bets, winners } = await _readBack(betsPath, state, onProgress);
  cleanup.move();
  return {
    betsFile,
    journalFile,
    state,
    winners,
    report: {
      bets,
      batches: state.batches,
      agenciesFinished: state.finished.size,
      discardedBetsBytes: betsBytes - state.betsFileBytes,
      discardedJournalBytes: journalText.length - state.journalBytes,
    },
  };
}

/**
 * Reads the committed bets back: counts them per agency against the
 * journal and indexes the winners.
 * @throws {Error} when an agency's bets differ from what its journal commits
 */
async function _readBack(
  betsPath: string,
  state: JournalState,
  onProgress: ReadProgress,
): Promise<{ bets: number; winners: WinnersIndex }> {
  const winners = new WinnersIndex();
  const counted = new Map<number, number>();
  let bets = 0;
  if (state.betsFileBytes > 0) {
    const onRow = (row: AgencyRow) => {
      bets += 1;
      counted.set(row.agency, (counted.get(row.agency) ?? 0) + 1);
      if (row.number === WINNER_NUMBER) {
        winners.addDocument(row.agency, row.bytes, row.starts[2]!, row.ends[2]!);
      }
    };
    for await (const _ of scanBetsFile(betsPath, onRow, onProgress)) { /* consume */ }
  }
  for (const [agency, ledger] of state.ledgers) {
    const found = counted.get(agency) ?? 0;
    if (found !== ledger.storedBets) {
      throw new Error(
        `${betsPath} holds ${found} bets of agency ${agency} but its journal commits ${ledger.storedBets}`,
      );
    }
  }
  return { bets, winners };
}

async function _fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
}
