import assert from "node:assert/strict";
import { BatchIntake, type IntakeOptions } from "../lib/server/batch_intake.ts";
import { OrderedReplies } from "../lib/server/ordered_replies.ts";
import { decodeMessage, encodeMessage, type Message } from "../lib/protocol/message_codec.ts";
import { ErrorCode, FRAME_HEADER_BYTES, MessageType } from "../lib/protocol/protocol.ts";
import { Logger } from "../lib/runtime/log.ts";
import { CONNECTION_BATCHES_PENDING_MAX } from "../lib/limits.ts";
import type { AppendResult } from "../lib/store/bet_ledger.ts";
import { makeBets } from "./helpers/bets.ts";
import { afterMicrotasks, isPending } from "./helpers/promise_state.ts";

/** The messages written, in write order. */
class MessageSink {
  readonly messages: Message[] = [];

  write(bytes: Uint8Array): Promise<number> {
    for (let at = 0; at < bytes.length;) {
      const length = new DataView(bytes.buffer, bytes.byteOffset + at).getUint32(3);
      const body = bytes.slice(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
      this.messages.push(decodeMessage({ type: bytes[at + 2]!, body }));
      at += FRAME_HEADER_BYTES + length;
    }
    return Promise.resolve(bytes.length);
  }
}

/** A batch frame's body of agency 1's bets at `first`. */
function _body(first: number, count = 1): Uint8Array {
  const bets = makeBets(1, first + count).slice(first).map(({ agency: _, ...bet }) => bet);
  return encodeMessage({ type: MessageType.batch, first, bets }).subarray(FRAME_HEADER_BYTES);
}

/** An intake for agency 1 whose store answers each batch with `storeBatch`. */
function _intake(
  storeBatch: (agency: number, first: number) => Promise<AppendResult>,
  shutdown = new AbortController().signal,
) {
  const sink = new MessageSink();
  const replies = new OrderedReplies(sink);
  const options: IntakeOptions = {
    ledger: { room: () => undefined, acceptedBets: () => 7 },
    lottery: { storeBatch },
    logger: new Logger("CRITICAL", () => {}),
    metrics: undefined,
    shutdown,
  };
  return { intake: new BatchIntake(1, options, replies), replies, sink };
}

Deno.test("BatchIntake.take() stores at once and answers in the order read", async () => {
  const slow = Promise.withResolvers<AppendResult>();
  const { intake, replies, sink } = _intake((_agency, first) =>
    first === 0 ? slow.promise : Promise.resolve({ duplicate: false })
  );
  assert.equal(intake.take(_body(0)), undefined);
  assert.equal(intake.take(_body(1)), undefined);
  assert.equal(intake.storeBusy, true);
  await afterMicrotasks();
  slow.resolve({ duplicate: false });
  await intake.storeSettled();
  await replies.written();
  assert.deepEqual(sink.messages, [
    { type: MessageType.batchAck, first: 0, count: 1 },
    { type: MessageType.batchAck, first: 1, count: 1 },
  ]);
});

Deno.test("BatchIntake.take() holds the reader at CONNECTION_BATCHES_PENDING_MAX batches at the store, not one before", async () => {
  const store = Promise.withResolvers<AppendResult>();
  let asked = 0;
  const { intake } = _intake(() => {
    asked += 1;
    return asked === 1 ? store.promise : new Promise<AppendResult>(() => {});
  });
  for (let index = 0; index < CONNECTION_BATCHES_PENDING_MAX; index += 1) {
    assert.equal(intake.take(_body(index)), undefined, `batch ${index} waited`);
  }
  const held = intake.take(_body(CONNECTION_BATCHES_PENDING_MAX));
  assert.ok(held !== undefined);
  assert.equal(await isPending(held), true);
  assert.equal(asked, CONNECTION_BATCHES_PENDING_MAX);
  store.resolve({ duplicate: false });
  await held;
  assert.equal(asked, CONNECTION_BATCHES_PENDING_MAX + 1);
});

Deno.test("BatchIntake nacks a store failure as storeFailed and names where the agency resumes", async () => {
  const { intake, replies, sink } = _intake(() => Promise.reject(new Error("disk full")));
  intake.take(_body(0));
  await intake.storeSettled();
  await replies.written();
  const nack = sink.messages[0]!;
  assert.equal(nack.type, MessageType.batchNack);
  assert.ok(nack.type === MessageType.batchNack);
  assert.equal(nack.code, ErrorCode.storeFailed);
  assert.equal(nack.reason, "disk full");
  assert.equal(nack.expected, 7);
});

Deno.test("BatchIntake.fence() refuses later batches with superseded and stores none of them", async () => {
  let asked = 0;
  const { intake, replies, sink } = _intake(() => {
    asked += 1;
    return Promise.resolve({ duplicate: false });
  });
  intake.take(_body(0));
  intake.fence();
  intake.take(_body(1));
  await intake.storeSettled();
  await replies.written();
  assert.equal(asked, 1);
  assert.deepEqual(sink.messages.map((message) => message.type), [
    MessageType.batchAck,
    MessageType.batchNack,
  ]);
  const nack = sink.messages[1]!;
  assert.ok(nack.type === MessageType.batchNack && nack.code === ErrorCode.superseded);
});

Deno.test("BatchIntake at shutdown answers the batches at the store first, then refuses with shuttingDown", async () => {
  const shutdown = new AbortController();
  const store = Promise.withResolvers<AppendResult>();
  const { intake, replies, sink } = _intake(() => store.promise, shutdown.signal);
  intake.take(_body(0));
  shutdown.abort();
  const refused = intake.take(_body(1));
  assert.ok(refused !== undefined);
  assert.equal(await isPending(refused), true, "refused only after the batch at the store");
  store.resolve({ duplicate: false });
  await refused;
  await replies.written();
  assert.deepEqual(sink.messages.map((message) => message.type), [
    MessageType.batchAck,
    MessageType.batchNack,
  ]);
  const nack = sink.messages[1]!;
  assert.ok(nack.type === MessageType.batchNack && nack.code === ErrorCode.shuttingDown);
});
