/**
 * Bets already encoded as store rows (the bets CSV's bytes), with what the
 * store must index about them: how many, and the winners' documents.
 */

import type { WinnerDocuments } from "../protocol/message_codec.ts";

/** Rows ready to append to the bets file. */
export interface StoreRows {
  /** UTF-8 CSV rows, each ending in `\n`. */
  bytes: Uint8Array;
  /** Bets in `bytes`. */
  count: number;
  /** Digest of the bets (bet_digest.ts), at their positions in the upload. */
  digest: number;
  /** Documents of the winning bets, in row order, in wire form. */
  winners: WinnerDocuments;
}
