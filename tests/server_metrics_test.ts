import assert from "node:assert/strict";
import { ADMIN_REFUSALS_KEPT } from "../lib/limits.ts";
import { ErrorCode, FRAME_HEADER_BYTES } from "../lib/protocol/protocol.ts";
import { ServerMetrics } from "../lib/server/server_metrics.ts";

Deno.test("ServerMetrics.frameReceived() counts frames and their bytes, headers included", () => {
  const metrics = new ServerMetrics();
  metrics.frameReceived(0);
  metrics.frameReceived(100);
  assert.equal(metrics.framesReceived, 2);
  assert.equal(metrics.bytesReceived, 2 * FRAME_HEADER_BYTES + 100);
});

Deno.test("ServerMetrics counts each agency's open connections and forgets it at 0", () => {
  const metrics = new ServerMetrics();
  metrics.agencyConnected(3);
  metrics.agencyConnected(3);
  metrics.agencyConnected(4);
  metrics.agencyDisconnected(3);
  assert.deepEqual([...metrics.agencyConnections()], [[3, 1], [4, 1]]);
  metrics.agencyDisconnected(3);
  metrics.agencyDisconnected(4);
  assert.equal(metrics.agencyConnections().size, 0);
});

Deno.test("ServerMetrics counts refusals by code name and keeps the newest ADMIN_REFUSALS_KEPT", async (t) => {
  for (const refused of [0, ADMIN_REFUSALS_KEPT, ADMIN_REFUSALS_KEPT + 1]) {
    await t.step(`${refused} refused batches and one refused connection`, () => {
      const metrics = new ServerMetrics();
      for (let k = 1; k <= refused; k += 1) {
        metrics.batchRefused(1, ErrorCode.invalidBet, `bet ${k}`);
      }
      metrics.connectionRefused(0, ErrorCode.tooManyConnections, "limit");
      assert.deepEqual(
        [...metrics.batchesRefused()],
        refused === 0 ? [] : [["invalidBet", refused]],
      );
      assert.deepEqual([...metrics.connectionsRefused()], [["tooManyConnections", 1]]);
      const kept = metrics.refusals();
      assert.equal(kept.length, Math.min(refused + 1, ADMIN_REFUSALS_KEPT));
      assert.deepEqual(
        { ...kept[0]!, atMs: 0 },
        { atMs: 0, kind: "connection", agency: 0, code: "tooManyConnections", reason: "limit" },
      );
      if (refused > 0) assert.equal(kept[1]!.reason, `bet ${refused}`, "newest first");
    });
  }
});

Deno.test("ServerMetrics.winnersSent() counts answers and keeps each agency's last count", () => {
  const metrics = new ServerMetrics();
  metrics.winnersSent(1, 4);
  metrics.winnersSent(2, 0);
  metrics.winnersSent(1, 4);
  assert.equal(metrics.winnersAnswers, 3);
  assert.deepEqual([...metrics.winnersTold()], [[1, 4], [2, 0]]);
});

Deno.test("ServerMetrics.drawMade() keeps the first time only", () => {
  const metrics = new ServerMetrics();
  assert.equal(metrics.drawAtMs, undefined);
  metrics.drawMade(5);
  metrics.drawMade(9);
  assert.equal(metrics.drawAtMs, 5);
});

Deno.test("ServerMetrics.synced() sorts fdatasync times per store file", () => {
  const metrics = new ServerMetrics();
  metrics.synced("bets", 0.003);
  metrics.synced("journal", 0.0001);
  metrics.synced("journal", 7);
  assert.equal(metrics.fsyncSeconds("bets").count, 1);
  const journal = metrics.fsyncSeconds("journal");
  assert.equal(journal.count, 2);
  assert.equal(journal.cumulative.at(-1), 1, "7 s is above every bound: only in +Inf");
});
