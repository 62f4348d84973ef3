import assert from "node:assert/strict";
import { closeQuietly } from "../lib/runtime/close_quietly.ts";

Deno.test("closeQuietly() closes an open connection, and a second call on it does not throw", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  const peer = await accepting;
  closeQuietly(conn);
  assert.throws(() => conn.close(), Deno.errors.BadResource, "the first call closed it");
  closeQuietly(conn);
  assert.equal(await peer.read(new Uint8Array(1)), null, "the peer sees the end of stream");
  peer.close();
});

Deno.test("closeQuietly() swallows whatever close() throws and accepts undefined", () => {
  let calls = 0;
  closeQuietly({
    close() {
      calls += 1;
      throw new Error("closed already");
    },
  });
  assert.equal(calls, 1);
  closeQuietly(undefined);
});
