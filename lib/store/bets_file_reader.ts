/**
 * Reads a bets file back, checking every row with the same rules as the hot
 * paths (AgencyRowScanner in store mode): the store's restore and every
 * reader of a draw's bets (tests, tools, bench) go through here.
 */

import { type AgencyRow, AgencyRowScanner, betOfRow } from "../bet/agency_row_scanner.ts";
import type { Bet } from "../bet/bet.ts";
import { dateNumber } from "../bet/bet_bytes.ts";

/** Bytes read from a bets file at a time when it is read back. */
const _READ_CHUNK_BYTES = 256 * 1024;

/** Reports how far reading a bets file back has come. */
export type ReadProgress = (bytesRead: number, bytesTotal: number) => void;

/**
 * Reads a bets file back on bytes, checking every row. Yields once per chunk
 * read, after `onRow` saw that chunk's rows, so callers consume as it goes.
 * @param path a bets file written by the store
 * @param onRow told each row, in file order
 * @param onProgress told the bytes read so far after each chunk
 * @throws {SyntaxError} naming the file and line of the first invalid row
 */
export async function* scanBetsFile(
  path: string,
  onRow: (row: AgencyRow) => void,
  onProgress: ReadProgress,
): AsyncGenerator<void> {
  using file = await Deno.open(path, { read: true });
  const bytesTotal = (await file.stat()).size;
  const scanner = new AgencyRowScanner(dateNumber(new Date()), onRow, (skipped) => {
    throw new SyntaxError(`${path} line ${skipped.lineNumber}: ${skipped.reason}`);
  }, true);
  const chunk = new Uint8Array(_READ_CHUNK_BYTES);
  let bytesRead = 0;
  while (true) {
    const count = await file.read(chunk);
    if (count === null) break;
    bytesRead += count;
    scanner.push(chunk.subarray(0, count));
    onProgress(bytesRead, bytesTotal);
    yield;
  }
  scanner.end();
  yield;
}

/**
 * Streams the bets of a bets file, validating each row as it is read back.
 * @param path a bets file written by the store
 * @throws {SyntaxError} naming the line when a row is not a valid bet
 */
export async function* loadBets(path: string): AsyncGenerator<Bet> {
  const bets: Bet[] = [];
  const onRow = (row: AgencyRow) => bets.push(betOfRow(row));
  for await (const _ of scanBetsFile(path, onRow, () => {})) yield* bets.splice(0);
}
