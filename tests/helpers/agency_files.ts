/** Seeded agency files for tests: agency-1.csv, agency-2.csv, … with given sizes. */

import { writeAgencyFile } from "../../lib/dev/agency_file.ts";

/**
 * Writes agency k's file with `agencies[k - 1]`'s bets and winners into `dir`.
 * @param crlf end lines with CRLF, as the course's dataset does
 * @returns the files' paths, in agency order
 */
export async function writeAgencies(
  dir: string,
  agencies: readonly { bets: number; winners: number }[],
  crlf = false,
): Promise<string[]> {
  const paths: string[] = [];
  for (const [index, { bets, winners }] of agencies.entries()) {
    paths.push(
      await writeAgencyFile(
        { agencies: agencies.length, bets, winners, seed: 7, out: dir, ...(crlf ? { crlf } : {}) },
        index + 1,
      ),
    );
  }
  return paths;
}
