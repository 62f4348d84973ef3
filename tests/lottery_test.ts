import assert from "node:assert/strict";
import { BetStore } from "../lib/store/bet_store.ts";
import { Lottery, type WinnersSender } from "../lib/server/lottery.ts";
import { ErrorCode, ProtocolError } from "../lib/protocol/protocol.ts";
import type { Bet } from "../lib/bet/bet.ts";
import { storeRowsOf } from "./helpers/store_rows.ts";
import { makeBets } from "./helpers/bets.ts";
import { afterMicrotasks, isPending } from "./helpers/promise_state.ts";
import { protocolError } from "./helpers/protocol_errors.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { documentsOf } from "./helpers/winners.ts";

/** A lottery over a fresh store, with a count of onDraw calls. */
interface _Fixture {
  store: BetStore;
  lottery: Lottery;
  draws: () => number;
  /** The `restored` flag of each onDraw call. */
  restoredDraws: boolean[];
}

/** Stores `bets` as agency's batch at position `first`. */
function storeBets(lottery: Lottery, agency: number, first: number, bets: readonly Bet[]) {
  return lottery.storeBatch(agency, first, storeRowsOf(bets, first));
}

/** Opens the store at `path`, runs `body` with a lottery over it, closes the store. */
async function runLottery(
  path: string,
  agencies: number,
  body: (fixture: _Fixture) => Promise<void>,
): Promise<void> {
  const { store } = await BetStore.open(path);
  let draws = 0;
  const restoredDraws: boolean[] = [];
  const lottery = new Lottery(store, "test-draw", agencies, (restored) => {
    draws += 1;
    restoredDraws.push(restored);
  });
  try {
    await body({ store, lottery, draws: () => draws, restoredDraws });
  } finally {
    await store.close();
  }
}

/** A winners sender that sends nothing: these tests look at the answer returned. */
const sendNowhere: WinnersSender = () => Promise.resolve();

/** Runs `body` with a lottery of `agencies` over a store in a temp dir. */
function withLottery(agencies: number, body: (fixture: _Fixture) => Promise<void>): Promise<void> {
  return withTempDir((dir) => runLottery(`${dir}/bets.csv`, agencies, body));
}

/** Runs `before` with a lottery, then `after` with a new one over the reopened store. */
function withReopenedLottery(
  agencies: number,
  before: (fixture: _Fixture) => Promise<void>,
  after: (fixture: _Fixture) => Promise<void>,
): Promise<void> {
  return withTempDir(async (dir) => {
    await runLottery(`${dir}/bets.csv`, agencies, before);
    await runLottery(`${dir}/bets.csv`, agencies, after);
  });
}

/** Stores one batch per agency (winners at the given positions) and finishes it. */
async function uploadAndFinish(
  lottery: Lottery,
  agency: number,
  count: number,
  winnersAt: number[] = [],
): Promise<void> {
  if (count > 0) await storeBets(lottery, agency, 0, makeBets(agency, count, { winnersAt }));
  await lottery.finish(agency, count);
}

Deno.test("Lottery.finish() makes the draw once, when the last agency finishes", async () => {
  await withLottery(3, async ({ lottery, draws }) => {
    assert.equal(lottery.agencies, 3);
    await uploadAndFinish(lottery, 1, 2);
    await uploadAndFinish(lottery, 2, 0);
    assert.equal(draws(), 0);
    await uploadAndFinish(lottery, 3, 1);
    assert.equal(draws(), 1);
    await lottery.finish(3, 1);
    await lottery.finish(1, 2);
    assert.equal(draws(), 1, "a repeated finish does not draw again");
  });
});

Deno.test("Lottery.finish() of the last agencies at once draws exactly once", async () => {
  await withLottery(4, async ({ lottery, draws }) => {
    await Promise.all([1, 2, 3, 4].map((agency) => uploadAndFinish(lottery, agency, agency)));
    assert.equal(draws(), 1);
  });
});

Deno.test("Lottery.finish() calls onRecorded before the draw", async () => {
  await withLottery(1, async ({ lottery, draws }) => {
    let drawsWhenRecorded = -1;
    await lottery.finish(1, 0, () => {
      drawsWhenRecorded = draws();
    });
    assert.equal(drawsWhenRecorded, 0);
    assert.equal(draws(), 1);
  });
});

Deno.test("Lottery.finish() of agencies recorded in one group commit draws after every onRecorded", async () => {
  await withLottery(2, async ({ lottery, draws }) => {
    const events: string[] = [];
    // A batch of another agency keeps the store writing, so both finishes
    // queue behind it and are made durable by one group commit.
    const busy = storeBets(lottery, 3, 0, makeBets(3, 50));
    await Promise.all([1, 2].map((agency) =>
      lottery.finish(agency, 0, () => {
        events.push(`recorded ${agency} with ${draws()} draws`);
      })
    ));
    await busy;
    assert.deepEqual(events, ["recorded 1 with 0 draws", "recorded 2 with 0 draws"]);
    assert.equal(draws(), 1);
  });
});

Deno.test("Lottery.finish() rejects a total that differs from the bets stored with countMismatch", async (t) => {
  await withLottery(2, async ({ lottery, store, draws }) => {
    await storeBets(lottery, 1, 0, makeBets(1, 5));
    for (const total of [0, 4, 6]) {
      await t.step(`declares ${total} of 5`, async () => {
        await assert.rejects(lottery.finish(1, total), protocolError(ErrorCode.countMismatch));
        assert.equal(store.finishedAgencies().has(1), false);
      });
    }
    await t.step("a finished agency that declares another total", async () => {
      await lottery.finish(1, 5);
      await assert.rejects(lottery.finish(1, 4), protocolError(ErrorCode.countMismatch));
      await assert.rejects(lottery.finish(1, 4), /finished with 5 bets, now declares 4/);
    });
    await t.step("an agency with nothing stored that declares bets", async () => {
      await assert.rejects(lottery.finish(2, 1), /agency 2 declares 1 bets but 0 are stored/);
    });
    assert.equal(draws(), 0);
  });
});

Deno.test("Lottery.answerWinners() waits for the draw and answers only the asking agency's winners", async () => {
  await withLottery(2, async ({ lottery }) => {
    const signal = new AbortController().signal;
    await storeBets(lottery, 1, 0, makeBets(1, 5, { winnersAt: [1, 3] }));
    await storeBets(lottery, 2, 0, makeBets(2, 2, { winnersAt: [0] }));
    const first = lottery.answerWinners(1, signal, sendNowhere);
    const second = lottery.answerWinners(2, signal, sendNowhere);
    await lottery.finish(1, 5);
    assert.equal(await isPending(first), true, "no answer before the draw");
    assert.equal(await isPending(second), true, "no answer before the draw");
    await lottery.finish(2, 2);
    // Were it never answered, the event loop would run dry and fail the test.
    const agency1 = makeBets(1, 5);
    assert.deepEqual(documentsOf(await first), [agency1[1]!.document, agency1[3]!.document]);
    assert.deepEqual(documentsOf(await second), [makeBets(2, 1)[0]!.document]);
    assert.deepEqual(
      documentsOf(await lottery.answerWinners(3, signal, sendNowhere)),
      [],
      "an agency without winners",
    );
  });
});

Deno.test("Lottery.answerWinners() holds the queries the draw released until every one of their answers was sent", async () => {
  await withLottery(3, async ({ lottery }) => {
    const signal = new AbortController().signal;
    const sent: number[] = [];
    const slowSend = Promise.withResolvers<void>();
    const quick = lottery.answerWinners(1, signal, (answer) => {
      sent.push(answer.count);
      return Promise.resolve();
    });
    const slow = lottery.answerWinners(2, signal, () => slowSend.promise);
    await uploadAndFinish(lottery, 1, 2, [0, 1]);
    await uploadAndFinish(lottery, 2, 1);
    await uploadAndFinish(lottery, 3, 1);
    await afterMicrotasks();
    assert.deepEqual(sent, [2], "the answer went to its sender at the draw");
    assert.equal(await isPending(quick), true, "held while another answer is being sent");
    assert.equal(
      (await lottery.answerWinners(3, signal, sendNowhere)).count,
      0,
      "a query after the draw is not held",
    );
    slowSend.resolve();
    assert.equal((await quick).count, 2);
    assert.equal((await slow).count, 0);
  });
});

Deno.test("Lottery.answerWinners() rejects with the send's error and holds no other query on it", async () => {
  await withLottery(2, async ({ lottery }) => {
    const signal = new AbortController().signal;
    const broken = new Error("connection reset");
    const failed = lottery.answerWinners(1, signal, () => Promise.reject(broken));
    const kept = lottery.answerWinners(2, signal, sendNowhere);
    await uploadAndFinish(lottery, 1, 1);
    await uploadAndFinish(lottery, 2, 1, [0]);
    await assert.rejects(failed, (error) => error === broken);
    // Were it held for ever, the event loop would run dry and fail the test.
    assert.equal((await kept).count, 1);
  });
});

Deno.test("Lottery.answerWinners() rejects with its signal's reason when the signal aborts before the draw", async (t) => {
  await withLottery(2, async ({ lottery }) => {
    const left = new Error("peer left");
    await t.step("aborted while waiting", async () => {
      const controller = new AbortController();
      const waiting = lottery.answerWinners(1, controller.signal, sendNowhere);
      assert.equal(await isPending(waiting), true);
      controller.abort(left);
      await assert.rejects(waiting, (error) => error === left);
    });
    await t.step("already aborted", async () => {
      await assert.rejects(
        lottery.answerWinners(1, AbortSignal.abort(left), sendNowhere),
        (error) => error === left,
      );
    });
    await t.step("one query aborted, another still answered at the draw", async () => {
      const controller = new AbortController();
      const aborted = lottery.answerWinners(1, controller.signal, sendNowhere);
      const kept = lottery.answerWinners(2, new AbortController().signal, sendNowhere);
      controller.abort(left);
      await assert.rejects(aborted, (error) => error === left);
      await uploadAndFinish(lottery, 1, 0);
      await uploadAndFinish(lottery, 2, 1, [0]);
      assert.equal((await kept).count, 1);
    });
    await t.step("after the draw an aborted signal does not matter", async () => {
      assert.equal((await lottery.answerWinners(2, AbortSignal.abort(), sendNowhere)).count, 1);
    });
  });
});

Deno.test("Lottery.stopWaiting() fails waiting and later winners queries with shuttingDown until the draw", async () => {
  await withLottery(2, async ({ lottery }) => {
    const signal = new AbortController().signal;
    const waiting = [
      lottery.answerWinners(1, signal, sendNowhere),
      lottery.answerWinners(2, signal, sendNowhere),
    ];
    assert.equal(await isPending(waiting[0]!), true);
    lottery.stopWaiting();
    lottery.stopWaiting();
    for (const query of waiting) {
      await assert.rejects(query, protocolError(ErrorCode.shuttingDown));
    }
    await assert.rejects(
      lottery.answerWinners(1, signal, sendNowhere),
      protocolError(ErrorCode.shuttingDown),
    );
    await uploadAndFinish(lottery, 1, 2, [1]);
    await uploadAndFinish(lottery, 2, 0);
    assert.equal(
      (await lottery.answerWinners(1, signal, sendNowhere)).count,
      1,
      "answered once drawn",
    );
  });
});

Deno.test("Lottery.storeBatch() refuses batches after the draw with drawClosed, a finished agency's too (not alreadyFinished)", async () => {
  await withLottery(2, async ({ lottery, store }) => {
    await uploadAndFinish(lottery, 1, 1);
    await uploadAndFinish(lottery, 2, 1);
    for (const agency of [1, 2, 3]) {
      await assert.rejects(
        storeBets(lottery, agency, agency === 3 ? 0 : 1, makeBets(agency, 1)),
        protocolError(ErrorCode.drawClosed),
      );
    }
    assert.equal(store.storedBets(3), 0);
  });
});

Deno.test("Lottery.storeBatch() refuses batches of a finished agency with alreadyFinished", async () => {
  await withLottery(2, async ({ lottery, store }) => {
    await uploadAndFinish(lottery, 1, 2);
    await assert.rejects(
      storeBets(lottery, 1, 2, makeBets(1, 1)),
      protocolError(ErrorCode.alreadyFinished),
    );
    assert.equal(store.storedBets(1), 2);
    assert.deepEqual(await storeBets(lottery, 2, 0, makeBets(2, 1)), { duplicate: false });
  });
});

Deno.test("Lottery.storeBatch() acknowledges a duplicate even after finish and after the draw", async () => {
  await withLottery(2, async ({ lottery, store, draws }) => {
    const first = makeBets(1, 2);
    const second = makeBets(1, 2, { firstDocument: 5 });
    await storeBets(lottery, 1, 0, first);
    await storeBets(lottery, 1, 2, second);
    await lottery.finish(1, 4);
    assert.deepEqual(await storeBets(lottery, 1, 2, second), { duplicate: true });
    await uploadAndFinish(lottery, 2, 0);
    assert.equal(draws(), 1);
    assert.deepEqual(await storeBets(lottery, 1, 0, first), { duplicate: true });
    assert.deepEqual(await storeBets(lottery, 1, 0, []), { duplicate: true });
    assert.equal(store.storedBets(1), 4);
  });
});

Deno.test("Lottery.storeBatch() refuses a gap, an overlap and other bets at a stored position with positionMismatch", async (t) => {
  await withLottery(2, async ({ lottery, store }) => {
    const bets = makeBets(1, 6);
    await storeBets(lottery, 1, 0, bets.slice(0, 3));
    const cases: [string, number, Bet[]][] = [
      ["a gap", 4, bets.slice(4)],
      ["an overlap", 2, bets.slice(2)],
      ["other bets at position 0", 0, makeBets(1, 3, { firstDocument: 50 })],
    ];
    for (const [name, first, batch] of cases) {
      await t.step(name, async () => {
        await assert.rejects(
          storeBets(lottery, 1, first, batch),
          (error: unknown) =>
            error instanceof ProtocolError && error.code === ErrorCode.positionMismatch &&
            /3 expected/.test(error.message),
        );
      });
    }
    assert.equal(store.storedBets(1), 3);
    assert.equal(store.acceptedBets(1), 3);
  });
});

Deno.test("Lottery over a restored store where every agency finished is drawn, and says so once with restored: true", async () => {
  await withReopenedLottery(2, async ({ lottery, restoredDraws }) => {
    await uploadAndFinish(lottery, 1, 3, [2]);
    await uploadAndFinish(lottery, 2, 1);
    assert.deepEqual(restoredDraws, [false]);
  }, async ({ lottery, draws, restoredDraws }) => {
    assert.deepEqual(restoredDraws, [true]);
    assert.deepEqual(
      documentsOf(await lottery.answerWinners(1, new AbortController().signal, sendNowhere)),
      [
        makeBets(1, 3)[2]!.document,
      ],
    );
    await assert.rejects(
      storeBets(lottery, 1, 3, makeBets(1, 1)),
      protocolError(ErrorCode.drawClosed),
    );
    await lottery.finish(1, 3);
    assert.equal(draws(), 1, "a finish after the restore draws nothing again");
  });
});

Deno.test("Lottery over a restored store where some agencies finished waits for the rest", async () => {
  await withReopenedLottery(2, async ({ lottery }) => {
    await uploadAndFinish(lottery, 1, 2);
  }, async ({ lottery, draws }) => {
    assert.equal(draws(), 0);
    await assert.rejects(
      storeBets(lottery, 1, 2, makeBets(1, 1)),
      protocolError(ErrorCode.alreadyFinished),
    );
    await uploadAndFinish(lottery, 2, 1);
    assert.equal(draws(), 1);
  });
});
