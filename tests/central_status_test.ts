import assert from "node:assert/strict";
import {
  AdminState,
  type CentralReader,
  parseRowsView,
  selectRows,
  statusSnapshot,
} from "../lib/admin/central_status.ts";
import { ADMIN_PAGE_ROWS_MAX } from "../lib/limits.ts";
import { ServerMetrics } from "../lib/server/server_metrics.ts";

/** A central of `bets.length - 1` agencies with these bets stored, `finished` of them done. */
function fakeReader(bets: number[], finished: number[] = []): CentralReader {
  return {
    agencies: bets.length - 1,
    betCount: (agency) => bets[agency] ?? 0,
    finishedAgencies: () => new Map(finished.map((agency) => [agency, bets[agency]!])),
    connectionsOpen: () => 2,
    queuedBytes: () => 512,
    syncStats: () => ({ syncs: 3, batches: 9 }),
    drawId: "test-draw",
    storage: "storage/draws/test-draw/bets.csv",
    storeHealth: () => Promise.resolve(),
  };
}

const _MEMORY = { rss: 1000, heapUsed: 500 };

Deno.test("AdminState.phase goes restoring -> starting -> ready -> shutting_down", () => {
  const state = new AdminState(new ServerMetrics(), 0);
  assert.equal(state.phase, "restoring");
  state.attach(fakeReader([0, 1]));
  assert.equal(state.phase, "starting");
  state.lotteryListening(12345);
  assert.equal(state.phase, "ready");
  state.shuttingDown();
  assert.equal(state.phase, "shutting_down");
});

Deno.test("parseRowsView() reads order, offset and limit, and falls back on bad values", async (t) => {
  const cases: [string, number, object][] = [
    ["", 50, { order: "number", offset: 0, limit: 50 }],
    ["order=slowest", 50, { order: "slowest", offset: 0, limit: 50 }],
    ["order=fastest&offset=-3&limit=x", 50, { order: "number", offset: 0, limit: 50 }],
    ["offset=100&limit=0", 50, { order: "number", offset: 100, limit: 0 }],
    ["limit=51", 50, { order: "number", offset: 0, limit: 50 }],
    ["limit=5000", 100_000, { order: "number", offset: 0, limit: 5000 }],
    ["", 10, { order: "number", offset: 0, limit: 10 }],
  ];
  for (const [query, limitMax, expected] of cases) {
    await t.step(`"${query}" (limitMax ${limitMax})`, () => {
      assert.deepEqual(parseRowsView(new URLSearchParams(query), limitMax), expected);
    });
  }
});

Deno.test("selectRows() by number gives one page from the offset; slowest puts unfinished and fewest bets first", () => {
  const metrics = new ServerMetrics();
  metrics.agencyConnected(2);
  metrics.winnersSent(4, 3);
  const state = new AdminState(metrics, 0);
  const reader = fakeReader([0, 50, 10, 30, 5, 10], [4]);
  state.attach(reader);
  const numbers = (rows: { agency: number }[]) => rows.map((row) => row.agency);
  assert.deepEqual(numbers(selectRows(state, reader, { order: "number", offset: 1, limit: 2 })), [
    2,
    3,
  ]);
  assert.deepEqual(numbers(selectRows(state, reader, { order: "number", offset: 4, limit: 9 })), [
    5,
  ]);
  const slowest = selectRows(state, reader, { order: "slowest", offset: 0, limit: 4 });
  assert.deepEqual(numbers(slowest), [2, 5, 3, 1], "agency 4 finished: last");
  assert.deepEqual(slowest[0], {
    agency: 2,
    connections: 1,
    bets: 10,
    ratePerS: 0,
    finished: false,
    winners: null,
  });
  const four = selectRows(state, reader, { order: "number", offset: 3, limit: 1 })[0]!;
  assert.equal(four.finished, true);
  assert.equal(four.winners, 3);
});

Deno.test("statusSnapshot() before the restore says restoring with no rows", () => {
  const snapshot = statusSnapshot(
    new AdminState(new ServerMetrics(), 0),
    { order: "number", offset: 0, limit: ADMIN_PAGE_ROWS_MAX },
    1000,
    5_000,
    _MEMORY,
  );
  assert.equal(snapshot.phase, "restoring");
  assert.equal(snapshot.draw.state, "unknown");
  assert.deepEqual(snapshot.rows, { order: "number", offset: 0, total: 0, items: [] });
  assert.equal(snapshot.totals.bets, 0);
  assert.equal(snapshot.lotteryPort, null);
});

Deno.test("statusSnapshot() totals the store, the server and the counters, and says drawn once all finished", () => {
  const metrics = new ServerMetrics();
  metrics.batchRefused(1, 6, "bet 2: document is not 1 to 12 digits");
  metrics.winnersSent(1, 2);
  metrics.winnersSent(2, 0);
  metrics.drawMade(Date.UTC(2026, 0, 2, 3, 4, 5));
  const state = new AdminState(metrics, Date.UTC(2026, 0, 2));
  state.attach(fakeReader([0, 40, 60], [1, 2]));
  state.lotteryListening(4000);
  const snapshot = statusSnapshot(
    state,
    { order: "number", offset: 0, limit: 50 },
    1000,
    Date.UTC(2026, 0, 2, 3, 5),
    _MEMORY,
  );
  assert.equal(snapshot.phase, "ready");
  assert.equal(snapshot.lotteryPort, 4000);
  assert.deepEqual(snapshot.draw, {
    id: "test-draw",
    storage: "storage/draws/test-draw/bets.csv",
    state: "drawn",
    at: "2026-01-02T03:04:05.000Z",
    agencies: 2,
    finished: 2,
  });
  assert.equal(snapshot.totals.bets, 100);
  assert.equal(snapshot.totals.winners, 2);
  assert.equal(snapshot.totals.batchesStored, 9);
  assert.equal(snapshot.totals.groupCommits, 3);
  assert.equal(snapshot.totals.batchesRefused, 1);
  assert.equal(snapshot.totals.queuedBytes, 512);
  assert.equal(snapshot.refusals[0]!.code, "invalidBet");
  assert.deepEqual(snapshot.memory, { rssBytes: 1000, heapUsedBytes: 500 });
  assert.deepEqual(snapshot.rows.items.map((row) => row.winners), [2, 0]);
});
