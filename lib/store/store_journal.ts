/**
 * The store's commit journal: one text line per durable event, appended after
 * the bets file is synced, so every record points at bytes already on disk.
 *
 * - `B <agency> <sequence> <count> <bets_file_bytes>`: a batch was committed;
 *   the bets file is valid up to `bets_file_bytes`.
 * - `F <agency> <total>`: the agency finished after `total` bets.
 *
 * A crash can leave a last line without its newline: that line was never
 * acknowledged and is discarded on restore.
 */

/** A committed batch. */
export interface BatchRecord {
  kind: "B";
  agency: number;
  sequence: number;
  count: number;
  betsFileBytes: number;
}

/** An agency that finished sending. */
export interface FinishedRecord {
  kind: "F";
  agency: number;
  total: number;
}

export type JournalRecord = BatchRecord | FinishedRecord;

/** Formats a record as its journal line, newline included. */
export function formatJournalRecord(record: JournalRecord): string {
  return record.kind === "B"
    ? `B ${record.agency} ${record.sequence} ${record.count} ${record.betsFileBytes}\n`
    : `F ${record.agency} ${record.total}\n`;
}

const _BATCH = /^B (\d{1,9}) (\d{1,10}) (\d{1,5}) (\d{1,15})$/;
const _FINISHED = /^F (\d{1,9}) (\d{1,10})$/;

/**
 * Parses one journal line (without its newline).
 * @throws {SyntaxError} when the line is not a record
 */
export function parseJournalRecord(line: string): JournalRecord {
  const batch = _BATCH.exec(line);
  if (batch !== null) {
    return {
      kind: "B",
      agency: Number(batch[1]),
      sequence: Number(batch[2]),
      count: Number(batch[3]),
      betsFileBytes: Number(batch[4]),
    };
  }
  const finished = _FINISHED.exec(line);
  if (finished !== null) {
    return {
      kind: "F",
      agency: Number(finished[1]),
      total: Number(finished[2]),
    };
  }
  throw new SyntaxError(`not a journal record: "${line.slice(0, 80)}"`);
}

/** What the journal says the store holds. */
export interface JournalState {
  /** Highest committed sequence per agency. */
  lastSequence: Map<number, number>;
  /** Committed bets per agency. */
  betCount: Map<number, number>;
  /** Total declared by each agency that finished. */
  finished: Map<number, number>;
  /** Bytes of the bets file covered by committed batches. */
  betsFileBytes: number;
  /** Bytes of the journal made of complete records. */
  journalBytes: number;
}

/**
 * Replays journal text into the state it describes.
 * @param text the whole journal
 * @throws {SyntaxError} when a complete line in the journal is not a record
 */
export function replayJournal(text: string): JournalState {
  const state: JournalState = {
    lastSequence: new Map(),
    betCount: new Map(),
    finished: new Map(),
    betsFileBytes: 0,
    journalBytes: 0,
  };
  let start = 0;
  let lineNumber = 0;
  while (true) {
    const newline = text.indexOf("\n", start);
    if (newline === -1) break;
    lineNumber += 1;
    let record: JournalRecord;
    try {
      record = parseJournalRecord(text.slice(start, newline));
    } catch (error) {
      throw new SyntaxError(
        `journal line ${lineNumber}: ${(error as Error).message}`,
      );
    }
    applyJournalRecord(state, record);
    start = newline + 1;
  }
  state.journalBytes = start;
  return state;
}

/** Applies one record to a state (replay and live commits share this). */
export function applyJournalRecord(
  state: JournalState,
  record: JournalRecord,
): void {
  if (record.kind === "B") {
    state.lastSequence.set(record.agency, record.sequence);
    state.betCount.set(
      record.agency,
      (state.betCount.get(record.agency) ?? 0) + record.count,
    );
    state.betsFileBytes = record.betsFileBytes;
  } else {
    state.finished.set(record.agency, record.total);
  }
}
