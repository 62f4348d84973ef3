import assert from "node:assert/strict";
import { type BatchNack, judgeBatchReply } from "../lib/client/batch_reply.ts";
import { ErrorCode, MessageType } from "../lib/protocol/protocol.ts";

/** A batchNack of 10 bets at 100 with `code`, expecting `expected`. */
function nack(code: ErrorCode, expected = 100): BatchNack {
  return {
    type: MessageType.batchNack,
    first: 100,
    count: 10,
    code,
    betIndex: 3,
    field: "documento",
    reason: "why",
    expected,
  };
}

Deno.test("judgeBatchReply() takes a batchAck as the acknowledgement of its batch", () => {
  assert.deepEqual(judgeBatchReply({ type: MessageType.batchAck, first: 40, count: 20 }), {
    kind: "acknowledged",
    first: 40,
    count: 20,
  });
});

Deno.test("judgeBatchReply() retries later a nack with a transient code", async (t) => {
  for (
    const code of ["shuttingDown", "storeFailed", "idleTimeout", "tooManyConnections"] as const
  ) {
    await t.step(code, () => {
      assert.deepEqual(judgeBatchReply(nack(ErrorCode[code])), {
        kind: "retryLater",
        reason: `batch at 100 refused for now: ${code}: why`,
      });
    });
  }
});

Deno.test("judgeBatchReply() retries positionMismatch only when the server expects an earlier position", async (t) => {
  const cases: [string, number, string][] = [
    ["expected first - 1 (the server lost bets): later", 99, "retryLater"],
    ["expected first (not behind): refused", 100, "refused"],
    ["expected first + 1 (a gap): refused", 101, "refused"],
    ["expected 0: later", 0, "retryLater"],
  ];
  for (const [name, expected, kind] of cases) {
    await t.step(name, () => {
      assert.equal(judgeBatchReply(nack(ErrorCode.positionMismatch, expected)).kind, kind);
    });
  }
});

Deno.test("judgeBatchReply() refuses for good a nack with any other code, keeping the nack", () => {
  const refused = nack(ErrorCode.invalidBet);
  assert.deepEqual(judgeBatchReply(refused), {
    kind: "refused",
    reason: "batch of 10 bets at 100 refused: invalidBet: why",
    nack: refused,
  });
  assert.equal(judgeBatchReply(nack(ErrorCode.drawClosed)).kind, "refused");
});

Deno.test("judgeBatchReply() refuses an answer that is not about a batch", () => {
  assert.deepEqual(
    judgeBatchReply({ type: MessageType.error, code: ErrorCode.drawClosed, text: "closed" }),
    {
      kind: "refused",
      reason: "unexpected answer to a batch: drawClosed: closed",
      nack: undefined,
    },
  );
  assert.deepEqual(judgeBatchReply({ type: MessageType.winners, documents: [] }), {
    kind: "refused",
    reason: `unexpected answer to a batch: message type ${MessageType.winners}`,
    nack: undefined,
  });
});
