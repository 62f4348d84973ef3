/** Seeded synthetic agency files (data/agency-<k>.csv), written streaming. */

import { formatAgencyRow } from "../bet/bet_csv.ts";
import { generateAgencyBets } from "./bet_generator.ts";
import { writeAll } from "../runtime/write_all.ts";

/** Bets formatted per write, to bound memory on large files. */
const _ROWS_PER_WRITE = 10_000;

/** Options of one data generation run. */
export interface DataOptions {
  agencies: number;
  bets: number;
  seed: number;
  winners: number;
  out: string;
  /** End lines with CRLF, as the course's dataset files do (default: LF). */
  crlf?: boolean;
}

/**
 * Writes one agency's file, streaming.
 * @returns the file's path
 */
export async function writeAgencyFile(
  options: DataOptions,
  agency: number,
): Promise<string> {
  await Deno.mkdir(options.out, { recursive: true });
  const path = `${options.out}/agency-${agency}.csv`;
  using file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  const encoder = new TextEncoder();
  let text = "";
  let rows = 0;
  for (
    const bet of generateAgencyBets({
      agency,
      bets: options.bets,
      winners: options.winners,
      seed: options.seed,
    })
  ) {
    text += options.crlf ? formatAgencyRow(bet).replace(/\n$/, "\r\n") : formatAgencyRow(bet);
    rows += 1;
    if (rows % _ROWS_PER_WRITE === 0) {
      await writeAll(file, encoder.encode(text));
      text = "";
    }
  }
  await writeAll(file, encoder.encode(text));
  return path;
}
