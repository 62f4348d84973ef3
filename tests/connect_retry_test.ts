import assert from "node:assert/strict";
import {
  type ConnectOptions,
  connectWithRetry,
  usingConnection,
} from "../lib/client/connect_retry.ts";
import { Logger } from "../lib/runtime/log.ts";
import { countLines } from "./helpers/log_lines.ts";

/** A loopback port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function options(
  port: number,
  budgetMs: number,
  lines: string[],
  signal = new AbortController().signal,
): ConnectOptions {
  return {
    hostname: "127.0.0.1",
    port,
    budgetMs,
    signal,
    logger: new Logger("DEBUG", (line) => lines.push(line)),
    fields: { client_id: 4 },
  };
}

Deno.test("connectWithRetry() gives up when the next try would start past the budget", async (t) => {
  // Pauses 50, 100, …: with 0 ms one attempt, with 120 ms two (the third would start at 150).
  const cases: [number, number][] = [[0, 1], [120, 2]];
  for (const [budgetMs, attempts] of cases) {
    await t.step(`budget ${budgetMs} ms`, async () => {
      const port = closedPort();
      const lines: string[] = [];
      await assert.rejects(
        connectWithRetry(options(port, budgetMs, lines)),
        new RegExp(`^Error: cannot reach 127\\.0\\.0\\.1:${port} after ${attempts} attempts: `),
      );
      assert.equal(countLines(lines, "connect", "in_progress"), attempts - 1);
      assert.match(
        lines.find((line) => line.includes("action: connect | result: fail"))!,
        new RegExp(
          `client_id: 4 \\| address: 127\\.0\\.0\\.1:${port} \\| attempts: ${attempts} \\|`,
        ),
      );
    });
  }
});

Deno.test("connectWithRetry() throws the signal's reason once aborted, before any attempt", async () => {
  const stop = new AbortController();
  stop.abort();
  const lines: string[] = [];
  await assert.rejects(
    connectWithRetry(options(closedPort(), 10_000, lines, stop.signal)),
    (error: unknown) => error === stop.signal.reason,
  );
  assert.deepEqual(lines, []);
});

Deno.test("usingConnection() returns undefined when the signal stops it, connecting or during use", async () => {
  const stopped = new AbortController();
  stopped.abort();
  assert.equal(
    await usingConnection(
      options(closedPort(), 10_000, [], stopped.signal),
      () => Promise.resolve(1),
    ),
    undefined,
  );
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const stop = new AbortController();
  const port = (listener.addr as Deno.NetAddr).port;
  const using = usingConnection(options(port, 10_000, [], stop.signal), async (conn) => {
    stop.abort();
    await conn.read(new Uint8Array(1));
    return 1;
  });
  assert.equal(await using, undefined);
  (await accepted).close();
});
