/**
 * The benchmark's agency files: made by the project's seeded generator into
 * a folder named by their parameters, and reused by later runs with the same
 * parameters (a file appears under its final name only once it is whole), or
 * given as a folder (`--dataset`, e.g. the course's dataset: CRLF line ends,
 * accented names, agencies of different sizes), counted by the client's own
 * file scanner.
 */

import { writeAgencyFile } from "../lib/dev/agency_file.ts";
import { AgencyRowScanner } from "../lib/bet/agency_row_scanner.ts";
import { dateNumber } from "../lib/bet/bet_bytes.ts";
import { WINNER_NUMBER } from "../lib/bet/bet.ts";
import { FILE_CHUNK_BYTES } from "../lib/limits.ts";

/** What one data set holds: `agencies` files of `bets` rows each. */
export interface DataSpec {
  agencies: number;
  bets: number;
  /** Winning rows per file, exactly. */
  winners: number;
  seed: number;
}

/** What one agency file holds. */
export interface FileCounts {
  bets: number;
  /** Rows that play the winning number. */
  winners: number;
}

/** A data set on disk. */
export interface DataSet {
  dir: string;
  /** `files[k - 1]` is agency k's file. */
  files: string[];
  /** `counts[k - 1]`: what agency k's file holds. */
  counts: FileCounts[];
  /** Sum of the files' sizes. */
  bytes: number;
}

/** Bets of agencies `first..last` (1-based) of a data set. */
export function betsOf(data: DataSet, first = 1, last = data.counts.length): number {
  let bets = 0;
  for (let agency = first; agency <= last; agency += 1) bets += data.counts[agency - 1]!.bets;
  return bets;
}

/** Winning rows per agency file when not told: the generator's default. */
export function defaultWinners(bets: number): number {
  return Math.ceil(bets / 500);
}

/** Folder of a data set, named by every parameter that shapes its files. */
export function dataDirFor(outDir: string, spec: DataSpec): string {
  return `${outDir}/data/bets-${spec.bets}_winners-${spec.winners}_seed-${spec.seed}`;
}

/** Path of agency k's file in a data set folder (the name tools/gen_data.ts writes). */
export function agencyFilePath(dir: string, agency: number): string {
  return `${dir}/agency-${agency}.csv`;
}

async function _size(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Makes sure agency files 1..spec.agencies exist, generating (streaming) only
 * the missing ones.
 * @param onGenerate told before each file is generated (progress output)
 */
export async function ensureDataSet(
  outDir: string,
  spec: DataSpec,
  onGenerate: (agency: number, path: string) => void = () => {},
): Promise<DataSet> {
  const dir = dataDirFor(outDir, spec);
  const partialDir = `${dir}/.partial-${Deno.pid}`;
  const files: string[] = [];
  let bytes = 0;
  try {
    for (let agency = 1; agency <= spec.agencies; agency += 1) {
      const path = agencyFilePath(dir, agency);
      let size = await _size(path);
      if (size === undefined) {
        onGenerate(agency, path);
        const partial = await writeAgencyFile({ ...spec, out: partialDir }, agency);
        await Deno.rename(partial, path);
        size = (await Deno.stat(path)).size;
      }
      files.push(path);
      bytes += size;
    }
  } finally {
    await Deno.remove(partialDir, { recursive: true }).catch(() => {});
  }
  const counts = files.map(() => ({ bets: spec.bets, winners: spec.winners }));
  return { dir, files, counts, bytes };
}

/** Counts an agency file's bets and winners as the client reads it.
 * @throws {Error} naming the file and line of the first row the client would skip */
async function _countFile(path: string): Promise<FileCounts> {
  const counts = { bets: 0, winners: 0 };
  let bad: { lineNumber: number; reason: string } | undefined;
  const scanner = new AgencyRowScanner(dateNumber(new Date()), (row) => {
    counts.bets += 1;
    if (row.number === WINNER_NUMBER) counts.winners += 1;
  }, (row) => bad ??= row);
  using file = await Deno.open(path, { read: true });
  const chunk = new Uint8Array(FILE_CHUNK_BYTES);
  while (true) {
    const count = await file.read(chunk);
    if (count === null) break;
    scanner.push(chunk.subarray(0, count));
  }
  scanner.end();
  if (bad !== undefined) {
    throw new Error(`${path} line ${bad.lineNumber} is not a valid bet: ${bad.reason}`);
  }
  return counts;
}

/**
 * Takes agency-1.csv, agency-2.csv, … of a folder, up to the first missing
 * number, and counts each file's bets and winners.
 * @throws {Error} when the folder has no agency-1.csv or a file has a row the
 *   client would skip (every run's checks expect every row stored)
 */
export async function readDataFolder(dir: string): Promise<DataSet> {
  const files: string[] = [];
  const counts: FileCounts[] = [];
  let bytes = 0;
  for (let agency = 1;; agency += 1) {
    const path = agencyFilePath(dir, agency);
    const size = await _size(path);
    if (size === undefined) break;
    files.push(path);
    counts.push(await _countFile(path));
    bytes += size;
  }
  if (files.length === 0) throw new Error(`--dataset ${dir} has no ${agencyFilePath(dir, 1)}`);
  return { dir, files, counts, bytes };
}
