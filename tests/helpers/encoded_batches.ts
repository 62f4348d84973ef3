/** Batches as the client's window holds them, for tests of the window and the resume. */

import type { EncodedBatch } from "../../lib/client/batch_builder.ts";

/** A batch of `count` bets at `first`; its frame is two bytes that name its first position. */
export function fakeBatch(first: number, count: number): EncodedBatch {
  return { first, count, frame: new Uint8Array([0xb0, first]), bets: undefined };
}

/** The digest of an upload's first p bets in these tests: 1000 + p. */
export function fakeSentDigest(bets: number): Promise<number> {
  return Promise.resolve(1000 + bets);
}
