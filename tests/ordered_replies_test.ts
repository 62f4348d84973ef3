import assert from "node:assert/strict";
import { OrderedReplies } from "../lib/server/ordered_replies.ts";
import { afterMicrotasks } from "./helpers/promise_state.ts";

/** A sink that records each write; a write can be held until released. */
class RecordingSink {
  readonly writes: number[][] = [];
  hold: Promise<void> | undefined;
  fail = false;
  /** Resolved when a write begins. */
  began = Promise.withResolvers<void>();

  async write(bytes: Uint8Array): Promise<number> {
    this.began.resolve();
    if (this.hold !== undefined) await this.hold;
    if (this.fail) throw new Deno.errors.BrokenPipe("peer gone");
    this.writes.push([...bytes]);
    return bytes.length;
  }
}

const frame = (value: number) => Uint8Array.of(value);

Deno.test("OrderedReplies.reply() writes replies in the order queued, even when a later one settles first", async () => {
  const sink = new RecordingSink();
  const replies = new OrderedReplies(sink);
  const first = Promise.withResolvers<Uint8Array>();
  replies.reply(first.promise);
  replies.reply(frame(2));
  replies.reply(Promise.resolve(frame(3)));
  await afterMicrotasks();
  assert.deepEqual(sink.writes, [], "nothing passes the unsettled first reply");
  first.resolve(frame(1));
  await replies.written();
  assert.deepEqual(sink.writes.flat(), [1, 2, 3]);
});

Deno.test("OrderedReplies sends the replies settled in one turn in one write", async () => {
  const sink = new RecordingSink();
  const replies = new OrderedReplies(sink);
  const groupCommit = Promise.withResolvers<void>();
  for (const value of [1, 2, 3]) replies.reply(groupCommit.promise.then(() => frame(value)));
  await afterMicrotasks();
  groupCommit.resolve();
  await replies.written();
  assert.deepEqual(sink.writes, [[1, 2, 3]]);
});

Deno.test("OrderedReplies.send() gathers frames queued while a write is under way into the next write", async () => {
  const sink = new RecordingSink();
  const replies = new OrderedReplies(sink);
  const held = Promise.withResolvers<void>();
  sink.hold = held.promise;
  const firstWrite = replies.send(frame(1));
  await sink.began.promise;
  replies.send(frame(2));
  replies.send(frame(3));
  sink.hold = undefined;
  held.resolve();
  await firstWrite;
  await replies.written();
  assert.deepEqual(sink.writes, [[1], [2, 3]]);
});

Deno.test("OrderedReplies.send() does not wait for unsettled replies; replied() does", async () => {
  const sink = new RecordingSink();
  const replies = new OrderedReplies(sink);
  const pending = Promise.withResolvers<Uint8Array>();
  replies.reply(pending.promise);
  await replies.send(frame(9));
  assert.deepEqual(sink.writes, [[9]]);
  let replied = false;
  replies.replied().then(() => replied = true);
  await afterMicrotasks();
  assert.equal(replied, false);
  pending.resolve(frame(1));
  await replies.written();
  assert.equal(replied, true);
  assert.deepEqual(sink.writes, [[9], [1]]);
});

Deno.test("OrderedReplies drops a rejected reply and keeps the order of the rest", async () => {
  const sink = new RecordingSink();
  const replies = new OrderedReplies(sink);
  replies.reply(Promise.reject(new Error("no answer")));
  replies.reply(frame(2));
  await replies.written();
  assert.deepEqual(sink.writes.flat(), [2]);
});

Deno.test("OrderedReplies.send() and written() reject with the failed write's error; reply() ignores it", async () => {
  const sink = new RecordingSink();
  sink.fail = true;
  const replies = new OrderedReplies(sink);
  replies.reply(frame(1));
  await assert.rejects(replies.written(), Deno.errors.BrokenPipe);
  await assert.rejects(replies.send(frame(2)), Deno.errors.BrokenPipe);
});
