/** Batches as the client's window holds them, for tests of the window and the resume. */

import type { EncodedBatch } from "../../lib/client/batch_builder.ts";

/**
 * A batch of `count` bets at `first`, where the digest of the first p bets
 * is 1000 + p; its frame is two bytes that name its first position.
 */
export function fakeBatch(first: number, count: number): EncodedBatch {
  return {
    first,
    count,
    digest: count,
    digestAfter: 1000 + first + count,
    frame: new Uint8Array([0xb0, first]),
    bets: undefined,
  };
}
