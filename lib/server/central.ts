/**
 * The lottery central wired in one place: the store, the draw over it and
 * the TCP server in front of it. Used by server.ts and the in-process test
 * harnesses, so they run what production runs.
 */

import { BetStore } from "../store/bet_store.ts";
import type { ReadProgress } from "../store/bets_file_reader.ts";
import { openAppendFile, type StoreFileOpener } from "../store/store_file.ts";
import type { RestoreReport } from "../store/store_restore.ts";
import { STORE_QUEUE_BYTES_MAX } from "../limits.ts";
import { drawBetsPath } from "../store/draw_paths.ts";
import type { Logger } from "../runtime/log.ts";
import { Lottery } from "./lottery.ts";
import { LotteryServer, type LotteryServerOptions } from "./lottery_server.ts";

/** What a central needs beyond the server's limits. */
export interface CentralOptions extends LotteryServerOptions {
  /** The storage folder: each draw's files are in `draws/<draw id>/` below it. */
  storageDir: string;
  /** The draw this run belongs to. */
  drawId: string;
  /** Agencies that must finish before the draw. */
  agencies: number;
  /** How store files are opened (tests inject faults here). */
  openFile?: StoreFileOpener;
  /** Called while the bets file is read back. */
  onReadProgress?: ReadProgress;
  /** Rows waiting for the disk above which sessions stop reading. */
  storeQueueBytesMax?: number;
}

/** A restored store with its draw and its (not yet listening) server. */
export interface Central {
  /** The draw's bets file; its journal is beside it. */
  betsPath: string;
  store: BetStore;
  report: RestoreReport;
  lottery: Lottery;
  server: LotteryServer;
  /** Shuts the server down, then closes the store. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Restores the draw's store (logging `action: restore`) and builds the draw
 * and the server on it. The draw logs `action: sorteo` through `logger`,
 * with `restored: true` when the restored store was drawn already. With
 * `options.metrics`, the store, the sessions and the draw count into it (the
 * admin port reads it).
 * @throws the store's restore errors (the store is closed again)
 */
export async function openCentral(options: CentralOptions, logger: Logger): Promise<Central> {
  const betsPath = drawBetsPath(options.storageDir, options.drawId);
  const { store, report } = await BetStore.open(
    betsPath,
    options.openFile ?? openAppendFile,
    options.onReadProgress ?? (() => {}),
    options.storeQueueBytesMax ?? STORE_QUEUE_BYTES_MAX,
    options.metrics,
  );
  logger.info("restore", "success", {
    draw_id: options.drawId,
    storage: betsPath,
    bets: report.bets,
    batches: report.batches,
    agencies_finished: report.agenciesFinished,
    discarded_bytes: report.discardedBetsBytes + report.discardedJournalBytes,
  });
  const lottery = new Lottery(store, options.drawId, options.agencies, (restored) => {
    logger.info("sorteo", "success", { draw_id: options.drawId, restored });
    options.metrics?.drawMade();
  });
  const server = new LotteryServer(options, lottery, store, logger);
  let closed: Promise<void> | undefined;
  return {
    betsPath,
    store,
    report,
    lottery,
    server,
    close: () =>
      closed ??= (async () => {
        await server.shutdown();
        await store.close();
      })(),
  };
}
