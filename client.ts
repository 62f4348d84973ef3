/**
 * An agency of the lottery. Modes (CLI_MODE):
 * - lottery (default): uploads data/agency-<id>.csv in batches, sends
 *   finished, asks for its winners;
 * - bet: sends the one bet in NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO, NUMERO;
 * - echo: the exercise's original message loop.
 *
 * deno task client   (config: CLI_CONFIG or config/client.yaml, CLI_* overrides)
 */

import type { UploadSummary } from "./lib/client/agency_upload.ts";
import {
  type ClientConfig,
  type ClientTlsMaterial,
  loadClientConfig,
  loadClientTls,
} from "./lib/config/client_config.ts";
import { ConfigError } from "./lib/config/config_source.ts";
import { formatLogLine, Logger, stderrSink } from "./lib/runtime/log.ts";
import { onShutdownSignal } from "./lib/runtime/signals.ts";

// Each mode's modules load only when that mode runs (dynamic imports below):
// a process pays at start for every module it evaluates, and the echo loop
// needs none of the upload's.

type _Env = Readonly<Record<string, string | undefined>>;

function _logConfig(logger: Logger, config: ClientConfig): void {
  logger.info("config", "success", {
    client_id: config.id,
    server_address: config.serverAddress,
    loop_amount: config.loopAmount,
    loop_period: config.loopPeriod.text,
    log_level: config.logLevel,
    mode: config.mode,
    batch_max_amount: config.batchMaxAmount,
    batch_window: config.batchWindow,
    data_file: config.dataFile,
    secret_file: config.secretFile || "none",
    server_tls_ca: config.tls?.caFile || "none",
    server_tls_cert: config.tls?.certFile || "none",
    file: config.file,
  });
}

/** Where the server is: host, port and, when configured, TLS. */
function _endpoint(config: ClientConfig, tls: ClientTlsMaterial | undefined) {
  return {
    hostname: config.serverHost,
    port: config.serverPort,
    ...(tls === undefined ? {} : { tls }),
  };
}

function _summaryFields(summary: UploadSummary, elapsedMs: number) {
  return {
    draw_id: summary.drawId,
    bets_sent: summary.betsConfirmed,
    resumed_at: summary.resumedAt,
    batches: summary.batches,
    rows_skipped: summary.rowsSkipped,
    elapsed_ms: elapsedMs,
  };
}

async function _runLottery(
  config: ClientConfig,
  tls: ClientTlsMaterial | undefined,
  logger: Logger,
  signal: AbortSignal,
): Promise<void> {
  const { AgencyUpload, UploadError } = await import("./lib/client/agency_upload.ts");
  const upload = new AgencyUpload({
    agency: config.id,
    ..._endpoint(config, tls),
    dataFile: config.dataFile,
    batchMaxAmount: config.batchMaxAmount,
    batchWindow: config.batchWindow,
    reconnectBudgetMs: config.reconnectBudget.ms,
    ...(config.secret === "" ? {} : { secret: config.secret }),
    signal,
    logger,
  });
  let summary: UploadSummary | undefined;
  try {
    summary = await upload.run();
  } catch (error) {
    if (!(error instanceof UploadError)) throw error;
    logger.error("carga_finalizada", "fail", {
      client_id: config.id,
      ..._summaryFields(error.summary, upload.elapsedMs),
      error: error.message,
    });
    throw new _Reported();
  }
  if (summary === undefined) return;
  logger.info("carga_finalizada", "success", {
    client_id: config.id,
    ..._summaryFields(summary, upload.elapsedMs),
  });
  logger.info("consulta_ganadores", "success", { cant_ganadores: summary.winners.length });
}

/** A failure already logged in full: the run only exits 1. */
class _Reported extends Error {}

async function _run(
  config: ClientConfig,
  tls: ClientTlsMaterial | undefined,
  env: _Env,
  logger: Logger,
  signal: AbortSignal,
) {
  switch (config.mode) {
    case "lottery":
      return await _runLottery(config, tls, logger, signal);
    case "bet": {
      const { betFromEnv } = await import("./lib/config/bet_env.ts");
      const { sendSingleBet } = await import("./lib/client/single_bet.ts");
      return await sendSingleBet({
        agency: config.id,
        ..._endpoint(config, tls),
        reconnectBudgetMs: config.reconnectBudget.ms,
        ...(config.secret === "" ? {} : { secret: config.secret }),
        bet: betFromEnv(env, config.id),
        signal,
        logger,
      });
    }
    case "echo": {
      const { runEchoLoop } = await import("./lib/client/echo_client.ts");
      await runEchoLoop({
        clientId: config.id,
        ..._endpoint(config, tls),
        amount: config.loopAmount,
        periodMs: config.loopPeriod.ms,
        reconnectBudgetMs: config.reconnectBudget.ms,
        signal,
        logger,
      });
    }
  }
}

/** Runs the client; returns the exit code. */
export async function main(env: _Env): Promise<number> {
  let config: ClientConfig;
  let tls: ClientTlsMaterial | undefined;
  try {
    config = await loadClientConfig(env);
    if (config.mode === "bet") (await import("./lib/config/bet_env.ts")).betFromEnv(env, config.id);
    if (config.tls !== undefined) tls = await loadClientTls(config.tls);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    stderrSink(formatLogLine(new Date(), "CRITICAL", "config", "fail", { error: error.message }));
    return 2;
  }
  const logger = new Logger(config.logLevel);
  _logConfig(logger, config);
  const stop = new AbortController();
  const removeSignalListeners = onShutdownSignal((signal) => {
    logger.info("signal", "success", { client_id: config.id, signal });
    stop.abort();
  });
  try {
    await _run(config, tls, env, logger, stop.signal);
  } catch (error) {
    if (error instanceof _Reported) return 1;
    const action =
      { lottery: "upload", bet: "apuesta_enviada", echo: "loop_finished" }[config.mode];
    logger.error(action, "fail", { client_id: config.id, error: (error as Error).message });
    return 1;
  } finally {
    removeSignalListeners();
  }
  logger.info("shutdown", "success", { client_id: config.id });
  return 0;
}

if (import.meta.main) Deno.exitCode = await main(Deno.env.toObject());
