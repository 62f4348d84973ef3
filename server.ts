/**
 * The lottery central: receives agencies' bets, stores them durably, makes
 * the draw when every agency finished, answers each agency its winners, and
 * echoes plain text on the same port as a health check.
 *
 * deno task server   (config: SERVER_CONFIG or config/server.ini, env overrides)
 */

import { loadAgencySecrets } from "./lib/server/agency_secrets.ts";
import { ConfigError } from "./lib/config/config_source.ts";
import { formatLogLine, Logger, stderrSink } from "./lib/runtime/log.ts";
import { type Central, openCentral } from "./lib/server/central.ts";
import { loadServerConfig, type ServerConfig } from "./lib/config/server_config.ts";
import { onShutdownSignal, type ShutdownSignal } from "./lib/runtime/signals.ts";
import { ServerMetrics } from "./lib/server/server_metrics.ts";
import { AdminState, readerOf } from "./lib/admin/central_status.ts";
import { AdminServer } from "./lib/admin/admin_server.ts";
import type { TlsListener, TlsMaterial } from "./lib/server/tls_listener.ts";
import { connectionsWithin, readOpenFileLimit } from "./lib/runtime/open_file_limit.ts";
import { OPEN_FILES_RESERVED } from "./lib/limits.ts";

/** The TLS port's module, loaded only when TLS_PORT is set (it starts Deno's Node layer). */
const _tlsModule = () => import("./lib/server/tls_listener.ts");

function _logConfig(logger: Logger, config: ServerConfig): void {
  logger.info("config", "success", {
    port: config.port,
    listen_backlog: config.listenBacklog,
    logging_level: config.loggingLevel,
    ip: config.ip,
    agencies: config.agencies,
    storage_dir: config.storageDir,
    draw_id: config.drawId,
    frame_bytes_max: config.frameBytesMax,
    connections_max: config.connectionsMax,
    idle_timeout: config.idleTimeout.text,
    shutdown_grace: config.shutdownGrace.text,
    secrets_file: config.secretsFile || "none",
    admin_port: config.adminPort ?? "off",
    admin_ip: config.adminIp,
    admin_token: config.adminToken === "" ? "none" : "set",
    tls_port: config.tls?.port ?? "none",
    tls_client_ca: config.tls?.clientCaFile || "none",
    file: config.file,
  });
}

/**
 * Logs the open-file limit and returns the connections the server may hold
 * within it: CONNECTIONS_MAX, or fewer (with a warning) when the limit is
 * too low for it.
 */
function _connectionsMax(logger: Logger, configured: number): number {
  const limit = readOpenFileLimit();
  const connectionsMax = connectionsWithin(configured, limit);
  const fields = {
    soft: limit?.soft ?? "unknown",
    hard: limit?.hard ?? "unknown",
    connections_max: connectionsMax,
  };
  if (connectionsMax === configured) {
    logger.info("open_files", "success", fields);
  } else {
    logger.warning("open_files", "fail", {
      ...fields,
      error: `CONNECTIONS_MAX ${configured} + ${OPEN_FILES_RESERVED} reserved descriptors ` +
        `exceed the open-file limit of ${limit?.soft}: serving at most ${connectionsMax} ` +
        "connections (raise the limit: ulimit -n, or the container's nofile ulimit)",
    });
  }
  return connectionsMax;
}

/** Bets files smaller than this are read back without progress lines. */
const _RESTORE_PROGRESS_BYTES_MIN = 16 * 1024 * 1024;

/** Logs reading the bets file back at every tenth of a large file. */
function _restoreProgress(logger: Logger): (bytesRead: number, bytesTotal: number) => void {
  let tenthsLogged = 0;
  return (bytesRead, bytesTotal) => {
    if (bytesTotal < _RESTORE_PROGRESS_BYTES_MIN) return;
    const tenths = Math.floor((bytesRead * 10) / bytesTotal);
    if (tenths <= tenthsLogged) return;
    tenthsLogged = tenths;
    logger.info("restore", "in_progress", { percent_read: tenths * 10, bytes_read: bytesRead });
  };
}

/**
 * Opens the admin port (before the store is restored, so /healthz answers
 * and /readyz says why it is not ready during a long restore).
 * @returns undefined when ADMIN_PORT is off
 * @throws what binding the port throws (logged by the caller)
 */
function _openAdmin(
  config: ServerConfig,
  logger: Logger,
): { server: AdminServer; state: AdminState } | undefined {
  if (config.adminPort === undefined) return undefined;
  const state = new AdminState(new ServerMetrics(), performance.timeOrigin);
  const server = new AdminServer(
    { hostname: config.adminIp, port: config.adminPort, token: config.adminToken },
    state,
  );
  logger.info("admin_listen", "success", {
    ip: server.addr.hostname,
    port: server.addr.port,
    token: config.adminToken === "" ? "none" : "required",
  });
  return { server, state };
}

/** Opens the TLS port in front of the central's server. */
async function _listenTls(
  config: ServerConfig,
  connectionsMax: number,
  material: TlsMaterial,
  central: Central,
  logger: Logger,
): Promise<TlsListener> {
  const { listenTls } = await _tlsModule();
  return await listenTls(
    {
      hostname: config.listenIp,
      port: config.tls!.port,
      listenBacklog: config.listenBacklog,
      connectionsMax,
      handshakeTimeoutMs: config.idleTimeout.ms,
    },
    material,
    (conn, ip, identity) => central.server.serveConnection(conn, ip, identity),
    logger,
  );
}

/** Runs the server until SIGTERM or SIGINT; returns the exit code. */
export async function main(env: Readonly<Record<string, string | undefined>>): Promise<number> {
  let config: ServerConfig;
  let agencySecrets: Map<number, string> | undefined;
  let tlsMaterial: TlsMaterial | undefined;
  try {
    config = await loadServerConfig(env);
    if (config.secretsFile !== "") agencySecrets = await loadAgencySecrets(config.secretsFile);
    if (config.tls !== undefined) {
      tlsMaterial = await (await _tlsModule()).loadTlsMaterial(config.tls);
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    stderrSink(formatLogLine(new Date(), "CRITICAL", "config", "fail", { error: error.message }));
    return 2;
  }
  const logger = new Logger(config.loggingLevel);
  _logConfig(logger, config);
  const connectionsMax = _connectionsMax(logger, config.connectionsMax);
  // Listen for signals first, so one that arrives during startup is not lost.
  const { promise: signalReceived, resolve: onSignal } = Promise.withResolvers<ShutdownSignal>();
  const removeSignalListeners = onShutdownSignal(onSignal);

  let admin: ReturnType<typeof _openAdmin>;
  try {
    admin = _openAdmin(config, logger);
  } catch (error) {
    logger.error("admin_listen", "fail", {
      ip: config.adminIp,
      port: config.adminPort ?? "off",
      error: (error as Error).message,
    });
    removeSignalListeners();
    return 1;
  }
  const metrics = admin?.state.metrics;

  let central: Central;
  try {
    central = await openCentral(
      {
        storageDir: config.storageDir,
        drawId: config.drawId,
        agencies: config.agencies,
        onReadProgress: _restoreProgress(logger),
        hostname: config.listenIp,
        port: config.port,
        listenBacklog: config.listenBacklog,
        frameBytesMax: config.frameBytesMax,
        connectionsMax,
        idleTimeoutMs: config.idleTimeout.ms,
        shutdownGraceMs: config.shutdownGrace.ms,
        ...(agencySecrets === undefined ? {} : { agencySecrets }),
        ...(metrics === undefined ? {} : { metrics }),
        ...(agencySecrets !== undefined && config.tls !== undefined
          ? { plainHelloRefusal: "agencies with secrets say hello on the TLS port only" }
          : {}),
      },
      logger,
    );
  } catch (error) {
    logger.error("restore", "fail", {
      draw_id: config.drawId,
      storage_dir: config.storageDir,
      error: (error as Error).message,
    });
    await admin?.server.close();
    removeSignalListeners();
    return 1;
  }
  admin?.state.attach(readerOf(central));
  const { store, server } = central;
  let tlsListener: TlsListener | undefined;
  try {
    const port = server.listen();
    if (config.tls !== undefined && tlsMaterial !== undefined) {
      const tlsPort = config.tls.port;
      tlsListener = await _listenTls(config, connectionsMax, tlsMaterial, central, logger).catch(
        (error) => {
          throw new Error(`TLS port ${tlsPort}: ${(error as Error).message}`);
        },
      );
    }
    logger.info("listen", "success", {
      ip: config.listenIp,
      port,
      listen_backlog: config.listenBacklog,
      ...(tlsListener === undefined ? {} : {
        tls_port: tlsListener.port,
        client_certificates: tlsListener.clientCertificates ? "required" : "none",
      }),
    });
    admin?.state.lotteryListening(port);
  } catch (error) {
    logger.error("listen", "fail", {
      ip: config.listenIp,
      port: config.port,
      error: (error as Error).message,
    });
    await central.close();
    await admin?.server.close();
    removeSignalListeners();
    return 1;
  }
  const signal = await signalReceived;
  logger.info("signal", "success", { signal });
  admin?.state.shuttingDown();
  if (tlsListener !== undefined) {
    tlsListener.close();
    logger.info("close_listener", "success", { port: tlsListener.port, tls: "yes" });
  }
  await central.close();
  if (admin !== undefined) {
    await admin.server.close();
    logger.info("close_admin", "success", { port: admin.server.addr.port });
  }
  const stats = store.syncStats();
  logger.info("store_stats", "success", { syncs: stats.syncs, batches: stats.batches });
  logger.info("close_store", "success", { storage: central.betsPath });
  logger.info("shutdown", "success");
  return 0;
}

if (import.meta.main) Deno.exitCode = await main(Deno.env.toObject());
