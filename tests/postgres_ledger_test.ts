/**
 * The PostgreSQL store against a real PostgreSQL (tests/helpers/postgres.ts):
 * the same batches give the same placements, refusals and winners as the
 * file store; several ledgers on one database (replicas) fence each other
 * through it and make the draw once.
 */

import assert from "node:assert/strict";
import { BetStore } from "../lib/store/bet_store.ts";
import { MisplacedBatchError, type OpenedLedger } from "../lib/store/bet_ledger.ts";
import { openPostgresLedger } from "../lib/store/pg_open.ts";
import { PG_SCHEMA_VERSION } from "../lib/store/pg_schema.ts";
import { ErrorCode, ProtocolError } from "../lib/protocol/protocol.ts";
import type { Bet } from "../lib/bet/bet.ts";
import { makeBets } from "./helpers/bets.ts";
import { storeRowsOf } from "./helpers/store_rows.ts";
import { postgresTest, startPostgres, type TestPostgres } from "./helpers/postgres.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { connectPostgres } from "../lib/store/pg_client.ts";
import { PostgresLedger } from "../lib/store/postgres_ledger.ts";
import { Lottery } from "../lib/server/lottery.ts";

let _draws = 0;
/** A draw id no other case of this file uses. */
function freshDraw(): string {
  _draws += 1;
  return `draw-${_draws}`;
}

/** What an operation came to, comparable across stores. */
function outcomeOf(promise: Promise<{ duplicate: boolean }>): Promise<string> {
  return promise.then(
    (result) => result.duplicate ? "duplicate" : "stored",
    (error: unknown) => {
      if (error instanceof MisplacedBatchError) return `misplaced, ${error.expected} expected`;
      return `refused: ${(error as Error).message}`;
    },
  );
}

/** A small deterministic generator, so a failing sequence can be replayed by its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

interface _Step {
  agency: number;
  first: number;
  count: number;
}

/** Random batches of 3 agencies: mostly next, some repeats, gaps and overlaps. */
function randomSteps(seed: number, steps: number, bets: Map<number, Bet[]>): _Step[] {
  const next = random(seed);
  const ends = new Map<number, number>();
  const result: _Step[] = [];
  for (let index = 0; index < steps; index += 1) {
    const agency = 1 + Math.floor(next() * 3);
    const end = ends.get(agency) ?? 0;
    const roll = next();
    const count = Math.floor(next() * 4);
    let first = end;
    if (roll < 0.15) first = Math.max(0, end - count); // a repeat or an overlap
    else if (roll < 0.25) first = end + 1 + Math.floor(next() * 3); // a gap
    const all = bets.get(agency)!;
    if (first + count > all.length) continue;
    result.push({ agency, first, count });
    if (first === end) ends.set(agency, end + count);
  }
  return result;
}

/** Runs the steps, then every agency's finish, on one store; returns every outcome and what it holds. */
async function runSteps(
  store: OpenedLedger,
  steps: readonly _Step[],
  bets: Map<number, Bet[]>,
): Promise<unknown> {
  const outcomes: string[] = [];
  for (const agency of bets.keys()) await store.claim(agency);
  for (const { agency, first, count } of steps) {
    const rows = storeRowsOf(bets.get(agency)!.slice(first, first + count), first);
    outcomes.push(await outcomeOf(store.append(agency, first, rows)));
  }
  for (const agency of bets.keys()) {
    outcomes.push(await outcomeOf(store.markFinished(agency, store.storedBets(agency))));
  }
  const held = [...bets.keys()].map((agency) => ({
    agency,
    stored: store.storedBets(agency),
    digest: store.storedDigest(agency),
    checkpoints: store.checkpoints(agency, 4),
    winners: [...store.winners(agency).frame],
  }));
  return { outcomes, held, finished: [...store.finishedAgencies()].sort() };
}

function agencyBets(): Map<number, Bet[]> {
  return new Map(
    [1, 2, 3].map((agency) => [agency, makeBets(agency, 40, { winnersAt: [3, 17, 30] })]),
  );
}

postgresTest(
  "the PostgreSQL store places, refuses and answers winners as the file store does",
  async () => {
    await using pg = await startPostgres();
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const bets = agencyBets();
      const steps = randomSteps(seed, 60, bets);
      const fromFiles = await withTempDir(async (dir) => {
        const { store } = await BetStore.open(`${dir}/bets.csv`);
        try {
          return await runSteps(store, steps, bets);
        } finally {
          await store.close();
        }
      });
      const { store } = await openPostgresLedger(pg.url, freshDraw(), bets.size);
      try {
        assert.deepEqual(await runSteps(store, steps, bets), fromFiles, `seed ${seed}`);
      } finally {
        await store.close();
      }
    }
  },
);

postgresTest(
  "a reopened PostgreSQL store resumes each agency where it stood, with its finish and the draw",
  async () => {
    await using pg = await startPostgres();
    const draw = freshDraw();
    const bets = makeBets(1, 10, { winnersAt: [2, 9] });
    {
      const { store } = await openPostgresLedger(pg.url, draw, 2);
      await store.claim(1);
      await store.append(1, 0, storeRowsOf(bets.slice(0, 6)));
      await store.append(1, 6, storeRowsOf(bets.slice(6), 6));
      await store.markFinished(1, 10);
      await store.append(2, 0, storeRowsOf(makeBets(2, 2)));
      await store.close();
    }
    const { store, report } = await openPostgresLedger(pg.url, draw, 2);
    try {
      assert.deepEqual(report, { bets: 12, batches: 3, agenciesFinished: 1 });
      await store.claim(1);
      await store.claim(2);
      assert.deepEqual([store.storedBets(1), store.storedBets(2)], [10, 2]);
      assert.deepEqual([...store.finishedAgencies()], [[1, 10]]);
      assert.deepEqual(await store.append(1, 6, storeRowsOf(bets.slice(6), 6)), {
        duplicate: true,
      });
      await store.markFinished(2, 2);
      assert.equal(store.finishedAgencies().size, 2, "the draw's finishes are complete");
      assert.equal(store.winners(1).count, 2);
    } finally {
      await store.close();
    }
    const reopened = await openPostgresLedger(pg.url, draw, 2);
    assert.equal(reopened.store.finishedAgencies().size, 2, "a made draw is restored");
    assert.equal(reopened.store.winners(1).count, 2, "with its winners");
    await reopened.store.close();
  },
);

/** Two ledgers (replicas) on one database. */
async function twoReplicas(pg: TestPostgres, agencies: number) {
  const draw = freshDraw();
  const a = (await openPostgresLedger(pg.url, draw, agencies)).store;
  const b = (await openPostgresLedger(pg.url, draw, agencies)).store;
  return {
    a,
    b,
    [Symbol.asyncDispose]: async () => {
      await a.close();
      await b.close();
    },
  };
}

postgresTest(
  "a claim on another replica fences the older holder: its next batch is refused superseded",
  async () => {
    await using pg = await startPostgres();
    await using replicas = await twoReplicas(pg, 1);
    const { a, b } = replicas;
    const lost = Promise.withResolvers<number>();
    a.watch({ claimedElsewhere: (agency) => lost.resolve(agency) });
    const bets = makeBets(1, 10);
    await a.claim(1);
    await a.append(1, 0, storeRowsOf(bets.slice(0, 5)));
    await b.claim(1);
    assert.equal(b.storedBets(1), 5, "the newer holder reads what the older one stored");
    assert.equal(b.storedDigest(1), a.storedDigest(1));
    assert.equal(await lost.promise, 1, "the older replica hears of the claim");
    await assert.rejects(
      a.append(1, 5, storeRowsOf(bets.slice(5), 5)),
      (error: unknown) => error instanceof ProtocolError && error.code === ErrorCode.superseded,
    );
    await assert.rejects(
      a.markFinished(1, 5),
      (error: unknown) => error instanceof ProtocolError && error.code === ErrorCode.superseded,
    );
    assert.deepEqual(await b.append(1, 5, storeRowsOf(bets.slice(5), 5)), { duplicate: false });
    assert.equal(b.storedBets(1), 10);
  },
);

postgresTest(
  "a claim waits for the older holder's transaction in flight, and counts its batch",
  async () => {
    await using pg = await startPostgres();
    await using replicas = await twoReplicas(pg, 1);
    const { a, b } = replicas;
    const bets = makeBets(1, 400);
    await a.claim(1);
    // Many batches queued on A, then B claims while A's transactions run.
    const appends = [];
    for (let first = 0; first < 400; first += 4) {
      appends.push(outcomeOf(a.append(1, first, storeRowsOf(bets.slice(first, first + 4), first))));
    }
    await b.claim(1);
    const outcomes = await Promise.all(appends);
    const stored = outcomes.filter((outcome) => outcome === "stored").length;
    assert.equal(b.storedBets(1), 4 * stored, `B reads every batch A acknowledged: ${outcomes}`);
    const firstRefused = outcomes.findIndex((outcome) => outcome !== "stored");
    if (firstRefused !== -1) {
      assert.ok(
        outcomes.slice(firstRefused).every((outcome) => outcome !== "stored"),
        "nothing is stored behind a refusal",
      );
    }
  },
);

postgresTest(
  "the draw is made once, by the replica that records the last finish, and every replica answers it",
  async () => {
    await using pg = await startPostgres();
    await using replicas = await twoReplicas(pg, 2);
    const { a, b } = replicas;
    const heard = Promise.withResolvers<void>();
    b.watch({ finishesChanged: () => heard.resolve() });
    const one = makeBets(1, 6, { winnersAt: [1, 4] });
    const two = makeBets(2, 3, { winnersAt: [0] });
    await b.claim(1);
    await b.append(1, 0, storeRowsOf(one));
    await b.markFinished(1, 6);
    await a.claim(2);
    await a.append(2, 0, storeRowsOf(two));
    await a.markFinished(2, 3);
    assert.equal(
      a.finishedAgencies().size,
      2,
      "the replica recording the last finish knows at once",
    );
    await heard.promise;
    assert.equal(b.finishedAgencies().size, 2, "the other hears of the draw");
    for (const store of [a, b]) {
      assert.deepEqual([store.winners(1).count, store.winners(2).count], [2, 1]);
    }
    const sql = await connectPostgres(pg.url);
    const draws =
      await sql`SELECT count(*)::int AS made FROM lottery.draws WHERE drawn_at IS NOT NULL`;
    await sql.end();
    assert.equal(draws[0]!.made, 1);
  },
);

postgresTest(
  "a server refuses a database whose schema is newer than it knows, in one line",
  async () => {
    await using pg = await startPostgres();
    (await openPostgresLedger(pg.url, freshDraw(), 1)).store.close();
    const sql = await connectPostgres(pg.url);
    await sql`UPDATE lottery.schema_version SET version = ${PG_SCHEMA_VERSION + 1}`;
    await sql.end();
    await assert.rejects(
      openPostgresLedger(pg.url, freshDraw(), 1),
      new RegExp(
        `^Error: the database's lottery schema is version ${
          PG_SCHEMA_VERSION + 1
        }, newer than this server's ${PG_SCHEMA_VERSION}: run a newer server$`,
      ),
    );
  },
);

postgresTest("a server refuses a draw registered with another number of agencies", async () => {
  await using pg = await startPostgres();
  const draw = freshDraw();
  await (await openPostgresLedger(pg.url, draw, 3)).store.close();
  await assert.rejects(
    openPostgresLedger(pg.url, draw, 5),
    new RegExp(`draw ${draw} waits for 3 agencies in the database, but AGENCIES is 5`),
  );
});

postgresTest(
  "a database restarted mid-upload fails the batches in flight; a new claim resumes exactly",
  async () => {
    await using pg = await startPostgres();
    const { store } = await openPostgresLedger(pg.url, freshDraw(), 1);
    try {
      const bets = makeBets(1, 200);
      await store.claim(1);
      await store.append(1, 0, storeRowsOf(bets.slice(0, 10)));
      await pg.stop();
      const during = await outcomeOf(store.append(1, 10, storeRowsOf(bets.slice(10, 20), 10)));
      assert.match(during, /^refused: store write failed/);
      await pg.start();
      assert.match(
        await outcomeOf(store.append(1, 10, storeRowsOf(bets.slice(10, 20), 10))),
        /^refused: the database's answer for agency 1 was lost: reconnect/,
        "until a claim reads the agency again, nothing is accepted for it",
      );
      await store.claim(1);
      assert.equal(store.storedBets(1), 10, "the failed batch was not stored");
      assert.equal(
        await outcomeOf(store.append(1, 10, storeRowsOf(bets.slice(10, 20), 10))),
        "stored",
      );
    } finally {
      await store.close();
    }
  },
);

postgresTest(
  "a server gives up reaching the database after its retry time, naming it without the password",
  async () => {
    await using pg = await startPostgres();
    await pg.stop();
    const url = `postgres://postgres:s3cret@127.0.0.1:${pg.port}/postgres`;
    const attempts: number[] = [];
    const error = await openPostgresLedger(
      url,
      freshDraw(),
      1,
      (attempt) => attempts.push(attempt),
      300,
    )
      .then(() => undefined, (error: Error) => error);
    assert.ok(error !== undefined);
    assert.match(
      error.message,
      /^PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres did not answer within 300 ms/,
    );
    assert.ok(attempts.length >= 1, "each failed attempt is told");
  },
);

postgresTest(
  "a replica that learns the last finish from a claim tells its draw it was made by another replica",
  async () => {
    await using pg = await startPostgres();
    const draw = freshDraw();
    const a = (await openPostgresLedger(pg.url, draw, 2)).store;
    // b neither listens nor polls: it learns the draw only from its own reads,
    // as a replica does whose notification was lost.
    const b = new PostgresLedger(
      await connectPostgres(pg.url),
      draw,
      2,
      new Map(),
      undefined,
      undefined,
    );
    const draws: string[] = [];
    new Lottery(b, draw, 2, (restored, elsewhere) => draws.push(`${restored}, ${elsewhere}`));
    try {
      await b.claim(1);
      await b.append(1, 0, storeRowsOf(makeBets(1, 3)));
      await b.markFinished(1, 3);
      await a.claim(2);
      await a.append(2, 0, storeRowsOf(makeBets(2, 2)));
      await a.markFinished(2, 2);
      await b.claim(2);
      assert.deepEqual(draws, ["false, true"], "draws seen by b: restored, made elsewhere");
    } finally {
      await a.close();
      await b.close();
    }
  },
);
