/**
 * Bets already encoded as store rows (the bets CSV's bytes), with what the
 * store must index about them: how many, and the winners' documents.
 */

import { type Bet, hasWon } from "../bet/bet.ts";
import { formatStoreRow } from "../bet/bet_csv.ts";
import { encodeWinnerDocuments, type WinnerDocuments } from "../protocol/message_codec.ts";

/** Rows ready to append to the bets file. */
export interface StoreRows {
  /** UTF-8 CSV rows, each ending in `\n`. */
  bytes: Uint8Array;
  /** Bets in `bytes`. */
  count: number;
  /** Documents of the winning bets, in row order, in wire form. */
  winners: WinnerDocuments;
}

const _encoder = new TextEncoder();

/** Encodes bets as store rows (the slow, simple path: tests, bet mode). */
export function encodeStoreRows(bets: readonly Bet[]): StoreRows {
  let text = "";
  const winners: string[] = [];
  for (const bet of bets) {
    text += formatStoreRow(bet);
    if (hasWon(bet)) winners.push(bet.document);
  }
  return {
    bytes: _encoder.encode(text),
    count: bets.length,
    winners: encodeWinnerDocuments(winners),
  };
}
