/**
 * The one way tests run a lottery server in this process: the central that
 * server.ts wires (store, draw, TCP server; lib/server/central.ts) on a free
 * 127.0.0.1 port, over a real store in a folder the test owns. Tests that
 * need the real entry file, its signals or its process's output start it
 * with startLocalServer (lib/dev/local_cluster.ts) instead.
 */

import { type Central, type CentralOptions, openCentral } from "../../lib/server/central.ts";
import { DRAW_ID_DEFAULT } from "../../lib/config/draw_id.ts";
import { Logger, type LogLevel } from "../../lib/runtime/log.ts";
import type { LotteryServerOptions } from "../../lib/server/lottery_server.ts";

/** The server's limits unless a test sets its own: generous enough for
 * tests that open tens of connections and upload thousands of bets. */
const _LIMITS_DEFAULT: LotteryServerOptions = {
  hostname: "127.0.0.1",
  port: 0,
  listenBacklog: 128,
  frameBytesMax: 64 * 1024,
  connectionsMax: 64,
  idleTimeoutMs: 10_000,
  shutdownGraceMs: 2_000,
};

/** What to start: any central option (limits, draw, store faults, metrics), and how to log. */
export type TestServerOptions = Partial<CentralOptions> & {
  /** The storage folder; the draw's files are under it. */
  storageDir: string;
  /** Lines below it are not logged (default INFO). */
  logLevel?: LogLevel;
  /** Called with each log line as it is written. */
  onLine?: (line: string) => void;
};

/** A listening in-process central (its store, draw and server, and
 * `close()`, safe to call twice); `await using` closes it. */
export interface TestServer extends Central, AsyncDisposable {
  port: number;
  /** Its log lines so far. */
  lines: string[];
}

/**
 * Opens the draw's store (default DRAW_ID_DEFAULT, 2 agencies) and starts
 * the server on it, listening on a free 127.0.0.1 port.
 * @throws the store's restore errors and the listener's errors (nothing is left open)
 * @example
 * await using server = await startTestServer({ storageDir: dir, agencies: 1 });
 * const [peer] = await RawPeer.hello(server.port, 1);
 */
export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  const { logLevel = "INFO", onLine, ...centralOptions } = options;
  const lines: string[] = [];
  const logger = new Logger(logLevel, (line) => {
    lines.push(line);
    onLine?.(line);
  });
  const central = await openCentral(
    { drawId: DRAW_ID_DEFAULT, agencies: 2, ..._LIMITS_DEFAULT, ...centralOptions },
    logger,
  );
  let port: number;
  try {
    port = central.server.listen();
  } catch (error) {
    await central.close();
    throw error;
  }
  return { ...central, port, lines, [Symbol.asyncDispose]: central.close };
}
