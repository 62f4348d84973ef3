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
import { type Central, type CentralOptions, openCentral } from "./lib/server/central.ts";
import { loadServerConfig, type ServerConfig } from "./lib/config/server_config.ts";
import { onShutdownSignal, type ShutdownSignal } from "./lib/runtime/signals.ts";
import { ServerMetrics } from "./lib/server/server_metrics.ts";
import { AdminState, readerOf } from "./lib/admin/central_status.ts";
import { AdminServer } from "./lib/admin/admin_server.ts";
import type { TlsListener, TlsMaterial } from "./lib/server/tls_listener.ts";
import { connectionsWithin, readOpenFileLimit } from "./lib/runtime/open_file_limit.ts";
import { OPEN_FILES_RESERVED } from "./lib/limits.ts";
import { redactStoreUrl } from "./lib/store/store_url.ts";

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
    store_url: config.storeUrl === undefined ? "none" : redactStoreUrl(config.storeUrl),
    store_wait: config.storeWait.text,
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

/** What the configuration names, read and checked before anything opens. */
interface _Setup {
  config: ServerConfig;
  agencySecrets: Map<number, string> | undefined;
  tlsMaterial: TlsMaterial | undefined;
}

/**
 * Loads the configuration, the agencies' secrets and the TLS files.
 * @returns the setup, or undefined after logging why it is unusable
 * @throws what is not a configuration error
 */
async function _loadSetup(
  env: Readonly<Record<string, string | undefined>>,
): Promise<_Setup | undefined> {
  try {
    const config = await loadServerConfig(env);
    const agencySecrets = config.secretsFile === ""
      ? undefined
      : await loadAgencySecrets(config.secretsFile);
    const tlsMaterial = config.tls === undefined
      ? undefined
      : await (await _tlsModule()).loadTlsMaterial(config.tls);
    return { config, agencySecrets, tlsMaterial };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    stderrSink(formatLogLine(new Date(), "CRITICAL", "config", "fail", { error: error.message }));
    return undefined;
  }
}

/** The central's options from the configuration. */
function _centralOptions(
  { config, agencySecrets }: _Setup,
  connectionsMax: number,
  logger: Logger,
  metrics: ServerMetrics | undefined,
): CentralOptions {
  return {
    storageDir: config.storageDir,
    storeUrl: config.storeUrl,
    storeWaitMs: config.storeWait.ms,
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
  };
}

/**
 * Opens the central's port, and the TLS port when configured (registered on
 * `resources`, which closes it first), and logs them.
 * @returns the central's port
 * @throws what binding either port throws
 */
async function _listen(
  { config, tlsMaterial }: _Setup,
  connectionsMax: number,
  central: Central,
  logger: Logger,
  resources: AsyncDisposableStack,
): Promise<number> {
  const port = central.server.listen();
  const tlsListener = config.tls !== undefined && tlsMaterial !== undefined
    ? await _listenTls(config, connectionsMax, tlsMaterial, central, logger).catch((error) => {
      throw new Error(`TLS port ${config.tls?.port}: ${(error as Error).message}`);
    })
    : undefined;
  if (tlsListener !== undefined) {
    resources.defer(() => {
      tlsListener.close();
      logger.info("close_listener", "success", { port: tlsListener.port, tls: "yes" });
    });
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
  return port;
}

/**
 * Runs the server until SIGTERM or SIGINT; returns the exit code. Every
 * resource it opens is registered on one stack as it opens, so each way
 * out (a failed start or the shutdown) closes what is open, newest first.
 */
export async function main(env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const setup = await _loadSetup(env);
  if (setup === undefined) return 2;
  const { config } = setup;
  const logger = new Logger(config.loggingLevel);
  _logConfig(logger, config);
  const connectionsMax = _connectionsMax(logger, config.connectionsMax);
  await using resources = new AsyncDisposableStack();
  // Listen for signals first, so one that arrives during startup is not lost.
  const { promise: signalReceived, resolve: onSignal } = Promise.withResolvers<ShutdownSignal>();
  resources.defer(onShutdownSignal(onSignal));
  /** Set once a signal asked for the shutdown: closes are then logged. */
  let stopping = false;

  let admin: ReturnType<typeof _openAdmin>;
  try {
    admin = _openAdmin(config, logger);
  } catch (error) {
    logger.error("admin_listen", "fail", {
      ip: config.adminIp,
      port: config.adminPort ?? "off",
      error: (error as Error).message,
    });
    return 1;
  }
  if (admin !== undefined) {
    const { server } = admin;
    resources.defer(async () => {
      await server.close();
      if (stopping) logger.info("close_admin", "success", { port: server.addr.port });
    });
  }

  let central: Central;
  try {
    central = await openCentral(
      _centralOptions(setup, connectionsMax, logger, admin?.state.metrics),
      logger,
    );
  } catch (error) {
    logger.error("restore", "fail", {
      draw_id: config.drawId,
      storage: config.storeUrl === undefined ? config.storageDir : redactStoreUrl(config.storeUrl),
      error: (error as Error).message,
    });
    return 1;
  }
  resources.defer(() => central.close());
  admin?.state.attach(readerOf(central));
  try {
    const port = await _listen(setup, connectionsMax, central, logger, resources);
    admin?.state.lotteryListening(port);
  } catch (error) {
    logger.error("listen", "fail", {
      ip: config.listenIp,
      port: config.port,
      error: (error as Error).message,
    });
    return 1;
  }
  const signal = await signalReceived;
  stopping = true;
  logger.info("signal", "success", { signal });
  admin?.state.shuttingDown();
  await resources.disposeAsync();
  const stats = central.store.syncStats();
  logger.info("store_stats", "success", { syncs: stats.syncs, batches: stats.batches });
  logger.info("close_store", "success", { storage: central.storage });
  logger.info("shutdown", "success");
  return 0;
}

if (import.meta.main) Deno.exitCode = await main(Deno.env.toObject());
