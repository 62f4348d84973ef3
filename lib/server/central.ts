/**
 * The lottery central wired in one place: the store, the draw over it and
 * the TCP server in front of it. Used by server.ts and the in-process test
 * harnesses, so they run what production runs. The store is the draw's
 * files under the storage folder, or, with a store URL, a PostgreSQL
 * database that several centrals may share.
 */

import { BetStore } from "../store/bet_store.ts";
import type { ReadProgress } from "../store/bets_file_reader.ts";
import { openAppendFile, type StoreFileOpener } from "../store/store_file.ts";
import type { OpenedLedger } from "../store/bet_ledger.ts";
import { STORE_QUEUE_BYTES_MAX } from "../limits.ts";
import { drawBetsPath } from "../store/draw_paths.ts";
import { redactStoreUrl } from "../store/store_url.ts";
import type { Logger } from "../runtime/log.ts";
import { Lottery } from "./lottery.ts";
import { LotteryServer, type LotteryServerOptions } from "./lottery_server.ts";

/** What a central needs beyond the server's limits. */
export interface CentralOptions extends LotteryServerOptions {
  /** The storage folder: each draw's files are in `draws/<draw id>/` below it. */
  storageDir: string;
  /** A `postgres://` URL: the bets are kept there instead of the storage folder. */
  storeUrl?: string | undefined;
  /** How long to wait at start for the database to answer (default PG_START_RETRY_MS). */
  storeWaitMs?: number;
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
  /** Where the bets are: the draw's bets file (its journal beside it), or
   * the database's URL without its password. */
  storage: string;
  store: OpenedLedger;
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
  const { storage, store } = options.storeUrl
    ? await _openDatabase(options, options.storeUrl, logger)
    : await _openFiles(options, logger);
  const lottery = new Lottery(store, options.drawId, options.agencies, (restored, elsewhere) => {
    const made = elsewhere ? { made_by: "another central" } : {};
    logger.info("sorteo", "success", { draw_id: options.drawId, restored, ...made });
    options.metrics?.drawMade();
  });
  const server = new LotteryServer(options, lottery, store, logger);
  let closed: Promise<void> | undefined;
  return {
    storage,
    store,
    lottery,
    server,
    close: () =>
      closed ??= (async () => {
        await server.shutdown();
        await store.close();
      })(),
  };
}

/** Restores the draw's files, logging `action: restore`. */
async function _openFiles(
  options: CentralOptions,
  logger: Logger,
): Promise<{ storage: string; store: OpenedLedger }> {
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
  return { storage: betsPath, store };
}

/** Opens the draw in the database (logging each failed attempt to reach
 * it), then logs `action: restore`. */
async function _openDatabase(
  options: CentralOptions,
  url: string,
  logger: Logger,
): Promise<{ storage: string; store: OpenedLedger }> {
  const storage = redactStoreUrl(url);
  const { openPostgresLedger } = await import("../store/pg_open.ts");
  const { store, report } = await openPostgresLedger(
    url,
    options.drawId,
    options.agencies,
    (attempt, error) =>
      logger.info("restore", "in_progress", {
        draw_id: options.drawId,
        storage,
        attempt,
        reason: `the database does not answer yet: ${error.message}`,
      }),
    options.storeWaitMs,
    options.metrics,
  );
  logger.info("restore", "success", {
    draw_id: options.drawId,
    storage,
    bets: report.bets,
    batches: report.batches,
    agencies_finished: report.agenciesFinished,
    discarded_bytes: 0,
  });
  return { storage, store };
}
