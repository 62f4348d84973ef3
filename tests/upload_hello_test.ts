import assert from "node:assert/strict";
import { BatchWindow } from "../lib/client/batch_window.ts";
import { StoredPrefixCheck } from "../lib/client/stored_prefix_check.ts";
import { UploadRefusal } from "../lib/client/upload_errors.ts";
import { firstHello, resumeHello, type UploadStart } from "../lib/client/upload_hello.ts";
import { UploadLink } from "../lib/client/upload_link.ts";
import type { Message } from "../lib/protocol/message_codec.ts";
import { ErrorCode, MessageType } from "../lib/protocol/protocol.ts";
import { Logger } from "../lib/runtime/log.ts";
import { ScriptedConn } from "./helpers/scripted_conn.ts";
import { fakeBatch, fakeSentDigest } from "./helpers/encoded_batches.ts";

/** A helloAck of draw `drawId` with `storedBets` whose digest is 1000 + storedBets. */
function helloAck(storedBets: number, drawId = "d1"): Message {
  return {
    type: MessageType.helloAck,
    drawId,
    storedBets,
    storedDigest: 1000 + storedBets,
    checkpoints: [],
  };
}

/** An upload of draw d1 that started at 0 and has batches at 0, 10 and 20 in flight. */
function startWithThreeInFlight(): UploadStart {
  const window = new BatchWindow(0);
  for (const first of [0, 10, 20]) window.add(fakeBatch(first, 10));
  return { drawId: "d1", check: new StoredPrefixCheck(0, 1000, []), window };
}

function options(lines: string[]) {
  return {
    agency: 3,
    secret: "s3",
    logger: new Logger("DEBUG", (line) => lines.push(line)),
    sentDigest: fakeSentDigest,
  };
}

Deno.test("firstHello() says hello with the secret and starts the upload where the server's bets end", async () => {
  const lines: string[] = [];
  const conn = new ScriptedConn([helloAck(25)]);
  const start = await firstHello(new UploadLink(conn.asConn()), options(lines));
  assert.deepEqual(await conn.writtenMessages(), [
    { type: MessageType.hello, agency: 3, secret: "s3" },
  ]);
  assert.equal(start.drawId, "d1");
  assert.equal(start.check.storedBets, 25);
  assert.equal(start.window.confirmedBets, 25);
  assert.ok(lines.some((line) => line.includes("action: hello | result: success")));
  assert.ok(
    lines.some((line) =>
      line.includes(
        "action: reanudacion | result: in_progress | client_id: 3 | draw_id: d1 | stored_bets: 25",
      )
    ),
  );
});

Deno.test("firstHello() logs no reanudacion with 0 bets stored, and one with 1", async (t) => {
  for (const [stored, resumed] of [[0, 0], [1, 1]]) {
    await t.step(`${stored} stored`, async () => {
      const lines: string[] = [];
      await firstHello(
        new UploadLink(new ScriptedConn([helloAck(stored!)]).asConn()),
        options(lines),
      );
      assert.equal(lines.filter((line) => line.includes("action: reanudacion")).length, resumed);
    });
  }
});

Deno.test("firstHello() turns a refused hello into an UploadRefusal", async () => {
  const conn = new ScriptedConn([
    { type: MessageType.error, code: ErrorCode.authenticationFailed, text: "wrong secret" },
  ]);
  await assert.rejects(
    firstHello(new UploadLink(conn.asConn()), options([])),
    UploadRefusal,
    "server refused hello: authenticationFailed: wrong secret",
  );
});

Deno.test("resumeHello() drops the batches stored meanwhile and resends the rest in one write", async (t) => {
  const cases: [number, number[], number][] = [
    [0, [0, 10, 20], 0],
    [10, [10, 20], 1],
    [20, [20], 2],
    [30, [], 3],
  ];
  for (const [stored, resent, storedBatches] of cases) {
    await t.step(`${stored} stored`, async () => {
      const start = startWithThreeInFlight();
      const conn = new ScriptedConn([helloAck(stored)]);
      await resumeHello(new UploadLink(conn.asConn()), options([]), start);
      assert.deepEqual(start.window.unacknowledged().map((b) => b.first), resent);
      assert.equal(start.window.storedBatches, storedBatches);
      assert.equal(
        conn.writes,
        resent.length === 0 ? 1 : 2,
        "hello, then the batches in one write",
      );
      const written = conn.writtenBytes();
      const frames = written.subarray(written.length - resent.length * 2);
      assert.deepEqual([...frames], resent.flatMap((first) => [0xb0, first]));
    });
  }
});

Deno.test("resumeHello() refuses a server that moved to another draw or lost acknowledged bets", async () => {
  await assert.rejects(
    resumeHello(
      new UploadLink(new ScriptedConn([helloAck(10, "d2")]).asConn()),
      options([]),
      startWithThreeInFlight(),
    ),
    UploadRefusal,
    "the server moved from draw d1 to draw d2 during the upload",
  );
  const start = startWithThreeInFlight();
  start.window.acknowledge(0, 10);
  await assert.rejects(
    resumeHello(new UploadLink(new ScriptedConn([helloAck(5)]).asConn()), options([]), start),
    UploadRefusal,
    "draw d1: the server reports 5 bets stored but had confirmed 10",
  );
});

Deno.test("resumeHello() takes the digest of the stored count from the file, and refuses other bets", async (t) => {
  await t.step("the file's first 10 bets digest as the server's: resumed", async () => {
    const asked: number[] = [];
    const start = startWithThreeInFlight();
    await resumeHello(
      new UploadLink(new ScriptedConn([helloAck(10)]).asConn()),
      { ...options([]), sentDigest: (bets) => (asked.push(bets), fakeSentDigest(bets)) },
      start,
    );
    assert.deepEqual(asked, [10]);
    assert.deepEqual(start.window.unacknowledged().map((b) => b.first), [10, 20]);
  });
  await t.step("another digest: refused, the window kept", async () => {
    const start = startWithThreeInFlight();
    await assert.rejects(
      resumeHello(
        new UploadLink(new ScriptedConn([helloAck(10)]).asConn()),
        { ...options([]), sentDigest: () => Promise.resolve(7) },
        start,
      ),
      UploadRefusal,
      "draw d1: the server's 10 stored bets are not the ones this upload sent (digest differs)",
    );
    assert.equal(start.window.size, 3);
    assert.equal(start.window.storedBatches, 0);
  });
  await t.step(
    "a count that cannot be this upload's: refused before the file is read",
    async () => {
      const asked: number[] = [];
      await assert.rejects(
        resumeHello(
          new UploadLink(new ScriptedConn([helloAck(15)]).asConn()),
          { ...options([]), sentDigest: (bets) => (asked.push(bets), fakeSentDigest(bets)) },
          startWithThreeInFlight(),
        ),
        UploadRefusal,
        "draw d1: the server reports 15 bets stored, inside the batch at 10",
      );
      assert.deepEqual(asked, []);
    },
  );
});
