/**
 * The benchmark's agency files: made by the project's seeded generator into
 * a folder named by their parameters, and reused by later runs with the same
 * parameters. A file appears under its final name only once it is whole.
 */

import { writeAgencyFile } from "../lib/dev/agency_file.ts";

/** What one data set holds: `agencies` files of `bets` rows each. */
export interface DataSpec {
  agencies: number;
  bets: number;
  /** Winning rows per file, exactly. */
  winners: number;
  seed: number;
}

/** A data set on disk. */
export interface DataSet {
  spec: DataSpec;
  dir: string;
  /** `files[k - 1]` is agency k's file. */
  files: string[];
  /** Sum of the files' sizes. */
  bytes: number;
}

/** Winning rows per agency file when not told: the generator's default. */
export function defaultWinners(bets: number): number {
  return Math.ceil(bets / 500);
}

/** Folder of a data set, named by every parameter that shapes its files. */
export function dataDirFor(outDir: string, spec: DataSpec): string {
  return `${outDir}/data/bets-${spec.bets}_winners-${spec.winners}_seed-${spec.seed}`;
}

/** Path of agency k's file in a data set folder (the name gen_data.ts writes). */
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
  return { spec, dir, files, bytes };
}
