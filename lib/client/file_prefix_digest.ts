/**
 * The digest of an agency file's first valid rows, as its upload sends
 * them. The upload hashes no bet it sends: only a resume after a lost
 * connection compares what the server stores with what was sent, so only a
 * resume pays for it, by reading the file's first rows again.
 */

import { AgencyRowScanner } from "../bet/agency_row_scanner.ts";
import { CLIENT_FRAME_BYTES_MAX, FILE_CHUNK_BYTES } from "../limits.ts";
import { EMPTY_DIGEST } from "../protocol/bet_digest.ts";
import { BatchBuilder } from "./batch_builder.ts";

/**
 * Digest (bet_digest.ts) of the first `bets` valid rows of `dataFile`, at
 * positions 0, 1, …; of every valid row when the file has fewer.
 * @param today today as YYYYMMDD, the day the upload judges birthdates by
 * @throws {Deno.errors.NotFound} or another I/O error when the file cannot be read
 */
export async function filePrefixDigest(
  dataFile: string,
  bets: number,
  today: number,
): Promise<number> {
  if (bets <= 0) return EMPTY_DIGEST;
  const builder = new BatchBuilder(1, CLIENT_FRAME_BYTES_MAX, false);
  const scanner = new AgencyRowScanner(
    today,
    (row) => {
      if (builder.position < bets) builder.skipRow(row);
    },
    () => {},
  );
  using file = await Deno.open(dataFile, { read: true });
  const chunk = new Uint8Array(FILE_CHUNK_BYTES);
  while (builder.position < bets) {
    const count = await file.read(chunk);
    if (count === null) {
      scanner.end();
      break;
    }
    scanner.push(chunk.subarray(0, count));
  }
  return builder.digest;
}
