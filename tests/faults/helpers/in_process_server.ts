/**
 * A LotteryServer in this process on a free 127.0.0.1 port, over a real
 * store: for faults that need an injected store file or many cheap trials.
 */

import type { BetStore, StoreFileOpener } from "../../../lib/store/bet_store.ts";
import { Logger } from "../../../lib/runtime/log.ts";
import { openCentral } from "../../../lib/server/central.ts";
import { DRAW_ID_DEFAULT } from "../../../lib/config/draw_id.ts";
import type { LotteryServer, LotteryServerOptions } from "../../../lib/server/lottery_server.ts";

/** A running in-process server. */
export interface InProcessServer {
  port: number;
  /** The draw's bets file. */
  betsPath: string;
  /** Its log lines so far. */
  lines: string[];
  server: LotteryServer;
  store: BetStore;
  /** Shuts the server down and closes the store. Safe to call twice. */
  stop(): Promise<void>;
}

/** What to start. */
export interface InProcessOptions {
  /** Storage folder: the bets are kept under it for the default draw. */
  storageDir: string;
  agencies: number;
  openFile?: StoreFileOpener;
  limits?: Partial<LotteryServerOptions>;
}

/** Opens the store and starts a server on it. */
export async function startInProcessServer(options: InProcessOptions): Promise<InProcessServer> {
  const lines: string[] = [];
  const logger = new Logger("INFO", (line) => lines.push(line));
  const central = await openCentral(
    {
      storageDir: options.storageDir,
      drawId: DRAW_ID_DEFAULT,
      agencies: options.agencies,
      ...(options.openFile === undefined ? {} : { openFile: options.openFile }),
      hostname: "127.0.0.1",
      port: 0,
      listenBacklog: 128,
      frameBytesMax: 64 * 1024,
      connectionsMax: 64,
      idleTimeoutMs: 10_000,
      shutdownGraceMs: 2_000,
      ...options.limits,
    },
    logger,
  );
  const { server, store } = central;
  const port = server.listen();
  return { port, betsPath: central.betsPath, lines, server, store, stop: central.close };
}
