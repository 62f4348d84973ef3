/**
 * The store's commit journal: one text line per durable event, appended after
 * the bets file is synced, so every record points at bytes already on disk.
 *
 * - `B <agency> <first> <count> <bets_file_bytes> <digest>`: a batch of
 *   `count` bets at positions `first`.. of the agency's upload was committed;
 *   `digest` is its bet digest (8 hex digits, bet_digest.ts); the bets file
 *   is valid up to `bets_file_bytes`.
 * - `F <agency> <total>`: the agency finished after `total` bets.
 *
 * A crash can leave a last line without its newline: that line was never
 * acknowledged and is discarded on restore.
 */

import { formatDigest } from "../protocol/bet_digest.ts";
import { AgencyLedger } from "./agency_ledger.ts";

/** A committed batch. */
export interface BatchRecord {
  kind: "B";
  agency: number;
  first: number;
  count: number;
  betsFileBytes: number;
  digest: number;
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
    ? `B ${record.agency} ${record.first} ${record.count} ${record.betsFileBytes} ${
      formatDigest(record.digest)
    }\n`
    : `F ${record.agency} ${record.total}\n`;
}

const _BATCH = /^B (\d{1,9}) (\d{1,10}) (\d{1,5}) (\d{1,15}) ([0-9a-f]{8})$/;
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
      first: Number(batch[2]),
      count: Number(batch[3]),
      betsFileBytes: Number(batch[4]),
      digest: parseInt(batch[5]!, 16),
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
  /** Each agency's committed bets, by position. */
  ledgers: Map<number, AgencyLedger>;
  /** Total declared by each agency that finished. */
  finished: Map<number, number>;
  /** Batch records committed. */
  batches: number;
  /** Bytes of the bets file covered by committed batches. */
  betsFileBytes: number;
  /** Bytes of the journal made of complete records. */
  journalBytes: number;
}

/** An empty state: a new draw. */
function emptyJournalState(): JournalState {
  return { ledgers: new Map(), finished: new Map(), batches: 0, betsFileBytes: 0, journalBytes: 0 };
}

/**
 * Replays journal text into the state it describes.
 * @param text the whole journal
 * @throws {SyntaxError} when a complete line is not a record, or a batch does
 *   not start where its agency's committed bets end
 */
export function replayJournal(text: string): JournalState {
  const state = emptyJournalState();
  let start = 0;
  let lineNumber = 0;
  while (true) {
    const newline = text.indexOf("\n", start);
    if (newline === -1) break;
    lineNumber += 1;
    try {
      applyJournalRecord(state, parseJournalRecord(text.slice(start, newline)));
    } catch (error) {
      throw new SyntaxError(`journal line ${lineNumber}: ${(error as Error).message}`);
    }
    start = newline + 1;
  }
  state.journalBytes = start;
  return state;
}

/** The ledger of an agency, created empty on first use. */
export function ledgerOf(state: JournalState, agency: number): AgencyLedger {
  let ledger = state.ledgers.get(agency);
  if (ledger === undefined) {
    ledger = new AgencyLedger();
    state.ledgers.set(agency, ledger);
  }
  return ledger;
}

/**
 * Applies one record to a state (replay and live commits share this).
 * @throws {RangeError} when a batch does not start where its agency's bets end
 */
export function applyJournalRecord(state: JournalState, record: JournalRecord): void {
  if (record.kind === "B") {
    ledgerOf(state, record.agency).commit(record.first, record.count, record.digest);
    state.batches += 1;
    state.betsFileBytes = record.betsFileBytes;
  } else {
    state.finished.set(record.agency, record.total);
  }
}
