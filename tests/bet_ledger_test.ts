/** The BetLedger contract as BetStore and the draw over it keep it: placement checked once, in the store. */

import assert from "node:assert/strict";
import { BetStore } from "../lib/store/bet_store.ts";
import { MisplacedBatchError } from "../lib/store/bet_ledger.ts";
import { Lottery } from "../lib/server/lottery.ts";
import { ErrorCode, ProtocolError } from "../lib/protocol/protocol.ts";
import { storeRowsOf } from "./helpers/store_rows.ts";
import { makeBets } from "./helpers/bets.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

/** Runs `body` with a store holding agency 1's bets 0..3, then closes it. */
function withThreeStored(body: (store: BetStore) => Promise<void>): Promise<void> {
  return withTempDir(async (dir) => {
    const { store } = await BetStore.open(`${dir}/bets.csv`);
    try {
      await store.append(1, 0, storeRowsOf(makeBets(1, 3)));
      await body(store);
    } finally {
      await store.close();
    }
  });
}

Deno.test("BetStore.append() rejects a misplaced batch with MisplacedBatchError naming the expected position", async () => {
  await withThreeStored(async (store) => {
    const error = await store.append(1, 5, storeRowsOf(makeBets(1, 2), 5)).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(error instanceof MisplacedBatchError, String(error));
    assert.ok(error instanceof RangeError);
    assert.deepEqual(
      { agency: error.agency, first: error.first, count: error.count, expected: error.expected },
      { agency: 1, first: 5, count: 2, expected: 3 },
    );
    assert.equal(error.message, "batch of agency 1 at 5 is misplaced: 3 expected");
  });
});

Deno.test("BetStore.append() asks admit only for a batch placed next, and stores nothing it refuses", async () => {
  await withThreeStored(async (store) => {
    const asked: number[] = [];
    const refuse = (agency: number) => {
      asked.push(agency);
      return new Error(`agency ${agency} refused`);
    };
    const bets = makeBets(1, 5);
    assert.deepEqual(
      await store.append(1, 0, storeRowsOf(bets.slice(0, 3)), refuse),
      { duplicate: true },
    );
    await assert.rejects(
      store.append(1, 4, storeRowsOf(bets.slice(4), 4), refuse),
      MisplacedBatchError,
    );
    assert.deepEqual(asked, [], "neither a duplicate nor a misplaced batch is asked");
    await assert.rejects(
      store.append(1, 3, storeRowsOf(bets.slice(3), 3), refuse),
      /agency 1 refused/,
    );
    assert.deepEqual(asked, [1]);
    assert.equal(store.acceptedBets(1), 3);
    assert.equal(store.storedBets(1), 3);
  });
});

Deno.test("Lottery.storeBatch() tells a misplaced batch as positionMismatch with the store's expected position", async () => {
  await withThreeStored(async (store) => {
    const lottery = new Lottery(store, "test-draw", 2, () => {});
    const error = await lottery.storeBatch(1, 7, storeRowsOf(makeBets(1, 2), 7)).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(error instanceof ProtocolError, String(error));
    assert.equal(error.code, ErrorCode.positionMismatch);
    assert.equal(
      error.message,
      "batch of 2 bets at position 7 does not start where agency 1's bets end: 3 expected",
    );
    assert.deepEqual(error.batch, { first: 7, betIndex: 0, field: "" });
  });
});
