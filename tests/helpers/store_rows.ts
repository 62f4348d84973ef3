/**
 * Bets encoded as store rows the slow, simple way (a string per row), with
 * their digest at the positions they are given: what tests hand the store.
 */

import { type Bet, hasWon } from "../../lib/bet/bet.ts";
import { formatStoreRow } from "../../lib/bet/bet_csv.ts";
import { addBet, EMPTY_DIGEST, viewOf } from "../../lib/protocol/bet_digest.ts";
import { ByteWriter } from "../../lib/protocol/byte_cursor.ts";
import { encodeBet, encodeWinnerDocuments } from "../../lib/protocol/message_codec.ts";
import type { StoreRows } from "../../lib/store/store_rows.ts";

/** The digest of `bets` at positions `first`.. of their agency's upload. */
export function digestOf(bets: readonly Bet[], first = 0): number {
  let digest = EMPTY_DIGEST;
  bets.forEach((bet, index) => {
    const writer = new ByteWriter();
    encodeBet(writer, bet);
    const bytes = writer.view();
    digest = addBet(digest, viewOf(bytes), 0, bytes.length, first + index);
  });
  return digest;
}

/** Encodes bets as store rows, their first one at position `first`. */
export function storeRowsOf(bets: readonly Bet[], first = 0): StoreRows {
  return {
    bytes: new TextEncoder().encode(bets.map(formatStoreRow).join("")),
    count: bets.length,
    digest: digestOf(bets, first),
    winners: encodeWinnerDocuments(bets.filter(hasWon).map((bet) => bet.document)),
  };
}
