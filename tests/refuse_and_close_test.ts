import assert from "node:assert/strict";
import { closeAfter, refuseAndClose } from "../lib/server/refuse_and_close.ts";
import { closeQuietly } from "../lib/runtime/close_quietly.ts";
import { decodeMessage } from "../lib/protocol/message_codec.ts";
import { ErrorCode, FRAME_HEADER_BYTES, MessageType } from "../lib/protocol/protocol.ts";
import { afterMicrotasks, isPending } from "./helpers/promise_state.ts";

Deno.test("closeAfter() closes once the last write settles, fulfilled or rejected", async (t) => {
  for (const [name, write] of [["written", Promise.resolve()], ["failed", Promise.reject()]]) {
    await t.step(name as string, async () => {
      let closes = 0;
      await closeAfter(write as Promise<void>, () => closes += 1, 60_000);
      assert.equal(closes, 1);
    });
  }
});

Deno.test("closeAfter() does not close while the write is under way and the wait lasts", async () => {
  const write = Promise.withResolvers<void>();
  let closes = 0;
  const closed = closeAfter(write.promise, () => closes += 1, 60_000);
  await afterMicrotasks();
  assert.equal(await isPending(closed), true);
  assert.equal(closes, 0);
  write.resolve();
  await closed;
  assert.equal(closes, 1);
});

Deno.test("closeAfter() closes after waitMs when the write never ends, and only once", async () => {
  const write = Promise.withResolvers<void>();
  let closes = 0;
  const started = performance.now();
  await closeAfter(write.promise, () => closes += 1, 20);
  assert.ok(performance.now() - started >= 15, "closed before the wait was over");
  write.resolve();
  await afterMicrotasks();
  assert.equal(closes, 1);
});

Deno.test("refuseAndClose() writes one error frame with the code and text, then closes", async () => {
  const written: Uint8Array[] = [];
  const events: string[] = [];
  const conn = {
    write(bytes: Uint8Array) {
      events.push("write");
      written.push(bytes.slice());
      return Promise.resolve(bytes.length);
    },
    close() {
      events.push("close");
    },
  };
  await refuseAndClose(conn, ErrorCode.tooManyConnections, "connection limit of 2 reached");
  assert.deepEqual(events, ["write", "close"]);
  const frame = written[0]!;
  const message = decodeMessage({ type: frame[2]!, body: frame.subarray(FRAME_HEADER_BYTES) });
  assert.deepEqual(message, {
    type: MessageType.error,
    code: ErrorCode.tooManyConnections,
    text: "connection limit of 2 reached",
  });
});

Deno.test("refuseAndClose() closes a connection whose write fails, and a closed one quietly", async () => {
  let closes = 0;
  const conn = {
    write: () => Promise.reject(new Deno.errors.BrokenPipe("gone")),
    close() {
      closes += 1;
      throw new Deno.errors.BadResource("closed already");
    },
  };
  await refuseAndClose(conn, ErrorCode.idleTimeout, "no data for 10 ms");
  assert.equal(closes, 1);
});

Deno.test("closeQuietly() ignores an absent resource and one closed already", () => {
  closeQuietly(undefined);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  closeQuietly(listener);
});
