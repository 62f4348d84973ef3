import assert from "node:assert/strict";
import { echoAnswerMismatch, probeEcho } from "../lib/protocol/echo_probe.ts";

/** Serves one connection on a free loopback port with `handle`. */
function serveOnce(handle: (conn: Deno.Conn) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    try {
      await handle(conn);
    } finally {
      try {
        conn.close();
      } catch {
        // closed by the handler
      }
    }
  })();
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      await served.catch(() => {});
    },
  };
}

async function readSome(conn: Deno.Conn): Promise<Uint8Array> {
  const buffer = new Uint8Array(1024);
  const count = await conn.read(buffer);
  return buffer.subarray(0, count ?? 0);
}

/** Probes 127.0.0.1:port. */
function probeLocal(port: number, message = "ping", timeoutMs = 5_000) {
  return probeEcho({ hostname: "127.0.0.1", port, message, timeoutMs });
}

Deno.test("probeEcho() passes when the same line comes back", async () => {
  const server = serveOnce(async (conn) => {
    await conn.write(await readSome(conn));
  });
  const result = await probeLocal(server.port, "ping ñ", 5_000);
  await server.close();
  assert.deepEqual(result, { ok: true });
});

Deno.test("probeEcho() fails quoting the answer when the server answers something else", async () => {
  const server = serveOnce(async (conn) => {
    await readSome(conn);
    await conn.write(new TextEncoder().encode("pong\n"));
  });
  const result = await probeLocal(server.port);
  await server.close();
  assert.deepEqual(result, {
    ok: false,
    reason: `127.0.0.1:${server.port}: expected "ping\\n", got "pong\\n"`,
  });
});

Deno.test("probeEcho() fails when the server hangs up without answering", async () => {
  const server = serveOnce(async (conn) => {
    await readSome(conn);
  });
  const result = await probeLocal(server.port);
  await server.close();
  assert.match(!result.ok ? result.reason : "", /closed the connection without answering/);
});

Deno.test("probeEcho() fails within its timeout when the server answers nothing", async () => {
  const release = Promise.withResolvers<void>();
  const server = serveOnce(() => release.promise);
  const started = performance.now();
  const result = await probeLocal(server.port, "ping", 300);
  const elapsedMs = performance.now() - started;
  release.resolve();
  await server.close();
  assert.match(!result.ok ? result.reason : "", /no answer within 300 ms/);
  assert.ok(elapsedMs < 3_000, `bounded (${elapsedMs} ms)`);
});

Deno.test("probeEcho() fails when nothing listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const result = await probeLocal(port);
  assert.equal(result.ok, false);
  assert.match(!result.ok ? result.reason : "", new RegExp(`^127\\.0\\.0\\.1:${port}: `));
});

Deno.test("probeEcho() rejects a message with a line break", async () => {
  await assert.rejects(
    probeEcho({ hostname: "127.0.0.1", port: 1, message: "a\nb", timeoutMs: 100 }),
    { name: "TypeError", message: /message "a\\nb": it must be one line/ },
  );
});

Deno.test("echoAnswerMismatch() accepts only the message and one line break", () => {
  assert.equal(echoAnswerMismatch("hi", "hi\n"), undefined);
  assert.equal(echoAnswerMismatch("hi", "hi"), 'expected "hi\\n", got "hi"');
  assert.equal(echoAnswerMismatch("hi", "hi\r\n"), 'expected "hi\\n", got "hi\\r\\n"');
  assert.equal(
    echoAnswerMismatch("hi", null),
    "the server closed the connection without answering",
  );
});
