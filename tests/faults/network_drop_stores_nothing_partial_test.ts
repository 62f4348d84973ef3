/**
 * The network drops a connection in the middle of a frame: the partial frame
 * is discarded, nothing of it is stored, the server keeps serving. First at
 * every byte of a batch frame (closed cleanly or reset), then with a proxy
 * that cuts agencies' connections at random bytes in either direction while
 * they upload: they reconnect and resend, and the store ends exact.
 *
 * FAULT_SEED / FAULT_TRIALS / FAULT_SCALE: see helpers/trials.ts.
 */

import assert from "node:assert/strict";
import { localBetsPath } from "../helpers/storage.ts";
import type { Bet } from "../../lib/bet/bet.ts";
import { encodeMessage } from "../../lib/protocol/message_codec.ts";
import { MessageType } from "../../lib/protocol/protocol.ts";
import { makeBets } from "../helpers/bets.ts";
import { RawPeer } from "../helpers/raw_agency.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { assertStoreHoldsExactly, storedBets, writeAgencyData } from "./helpers/agency_data.ts";
import { startChaosProxy } from "./helpers/chaos_proxy.ts";
import { startTestServer } from "../helpers/test_server.ts";
import { Rng, runTrials, trialPlan } from "./helpers/trials.ts";
import { assertUploadsExact, startUploads } from "./helpers/uploads.ts";

function wire(bets: readonly Bet[]) {
  return bets.map(({ agency: _, ...bet }) => bet);
}

Deno.test("a connection dropped at any byte of a batch frame stores nothing of that batch, and the server keeps serving", async () => {
  await withTempDir(async (dir) => {
    const storage = localBetsPath(dir);
    const server = await startTestServer({ storageDir: dir, agencies: 2 });
    const acked: Bet[] = [];
    const unacked: Bet[][] = [];
    const otherBets = makeBets(2, 4);
    const probe = encodeMessage({ type: MessageType.batch, first: 0, bets: wire(makeBets(1, 3)) });
    try {
      for (let cut = 1; cut < probe.length; cut += 1) {
        const [peer, helloAck] = await RawPeer.hello(server.port, 1);
        assert.ok(helloAck.type === MessageType.helloAck);
        // The batch goes where the stored bets end, whether the last reset one was stored or not.
        const first = helloAck.storedBets;
        const whole = makeBets(1, 2, { firstDocument: 30_000_000 + cut * 10 });
        const cutOff = makeBets(1, 3, { firstDocument: 40_000_000 + cut * 10 });
        await peer.send({ type: MessageType.batch, first, bets: wire(whole) });
        if (cut % 2 === 1) {
          // Leave the ack unread: closing with unread data resets the
          // connection, and the whole batch may then be lost on the way.
          await new Promise((resolve) => setTimeout(resolve, 5));
          unacked.push(whole);
        } else {
          const ack = await peer.receive();
          assert.deepEqual(ack, { type: MessageType.batchAck, first, count: 2 });
          acked.push(...whole);
        }
        const frame = encodeMessage({
          type: MessageType.batch,
          first: first + 2,
          bets: wire(cutOff),
        });
        await peer.sendBytes(frame.subarray(0, cut));
        peer.close();
      }
      const drops = () =>
        server.lines.filter((line) =>
          line.includes("code: truncatedFrame") || line.includes("reason: connection_reset")
        ).length;
      for (let waitedMs = 0; drops() < probe.length - 1 && waitedMs < 5_000; waitedMs += 10) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(drops(), probe.length - 1, "each dropped frame logs truncatedFrame or a reset");
      // Still serving: another agency stores a batch.
      const [other] = await RawPeer.hello(server.port, 2);
      await other.send({ type: MessageType.batch, first: 0, bets: wire(otherBets) });
      assert.deepEqual(await other.receive(), { type: MessageType.batchAck, first: 0, count: 4 });
      other.close();
    } finally {
      await server.close();
    }
    // Every acked batch once, a reset one whole or not at all, nothing of a cut one.
    const stored = new Set((await storedBets(storage)).map((bet) => bet.document));
    const resetStored = unacked.filter((whole) => {
      const present = whole.filter((bet) => stored.has(bet.document)).length;
      assert.ok(present === 0 || present === whole.length, "a batch is stored whole or not at all");
      return present === whole.length;
    });
    const compared = await assertStoreHoldsExactly(storage, [
      ...acked,
      ...resetStored.flat(),
      ...otherBets,
    ]);
    console.log(
      `mid_frame_cut: ${
        probe.length - 1
      } cut points, ${resetStored.length} of ${unacked.length} reset connections had their whole batch stored, ${compared} bets compared`,
    );
  });
});

const totals = { trials: 0, cuts: 0, betsCompared: 0 };

async function proxyTrial(seed: number): Promise<void> {
  const rng = new Rng(seed);
  const agencies = rng.int(2, 3);
  const specs = Array.from({ length: agencies }, () => ({
    bets: rng.int(150, 400),
    winners: rng.int(0, 3),
  }));
  await withTempDir(async (dir) => {
    const data = await writeAgencyData(dir, specs, seed);
    const storage = localBetsPath(dir);
    const server = await startTestServer({ storageDir: dir, agencies });
    const proxy = startChaosProxy(server.port, rng, rng.int(3, 12), rng.int(20, 4000));
    try {
      const uploads = startUploads(data.files, {
        port: proxy.port,
        batchMaxAmount: rng.int(1, 15),
        batchWindow: rng.int(1, 16),
      });
      await assertUploadsExact(uploads, data.bets);
      totals.cuts += proxy.cuts;
    } finally {
      await proxy.close();
      await server.close();
    }
    totals.betsCompared += await assertStoreHoldsExactly(storage, data.bets);
    totals.trials += 1;
  });
}

Deno.test("agencies whose connections are cut at random bytes (either direction) reconnect and resend; the store ends exact", async () => {
  const plan = trialPlan("network_cut", 12);
  await runTrials(plan, 2, proxyTrial);
  console.log(
    `network_cut: ${totals.trials} trials, ${totals.cuts} connections cut, ${totals.betsCompared} bets compared`,
  );
});
