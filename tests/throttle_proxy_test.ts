import assert from "node:assert/strict";
import { startThrottleProxy } from "../lib/dev/throttle_proxy.ts";
import { writeAll } from "../lib/runtime/write_all.ts";

async function readToEnd(conn: Deno.TcpConn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(4096);
  while (true) {
    const count = await conn.read(buffer);
    if (count === null) break;
    chunks.push(buffer.slice(0, count));
  }
  const all = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all;
}

Deno.test("startThrottleProxy() passes every byte both ways and the agency's half-close", async () => {
  // A server that answers, once the agency has sent everything, the bytes reversed.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    const received = await readToEnd(conn);
    await writeAll(conn, received.slice().reverse());
    conn.close();
  })();
  const proxy = startThrottleProxy({ targetPort: listener.addr.port, bytesPerS: 200_000 });
  try {
    const sent = crypto.getRandomValues(new Uint8Array(20_000));
    const agency = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await writeAll(agency, sent);
    await agency.closeWrite();
    const answer = await readToEnd(agency);
    agency.close();
    assert.deepEqual(answer, sent.slice().reverse());
    await serving;
  } finally {
    await proxy.close();
  }
});

Deno.test("startThrottleProxy() rejects a rate of 0 or a fraction", () => {
  assert.throws(() => startThrottleProxy({ targetPort: 1, bytesPerS: 0 }), { name: "RangeError" });
  assert.throws(() => startThrottleProxy({ targetPort: 1, bytesPerS: 1.5 }), {
    name: "RangeError",
  });
});
