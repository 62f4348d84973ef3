/**
 * The compose file as data: a server, N agency clients, the agencies'
 * internal network and the server's admin network, using only features both
 * `docker compose` (v2) and `docker-compose` 1.29 accept (file format 3.8,
 * long-syntax mounts, explicit network and volume names).
 *
 * The admin port (status page, /metrics, /readyz) is published on the host's
 * loopback only. Docker publishes no port of a container that is only on
 * internal networks, so the server is also on `admin_net`, a plain bridge
 * network no agency joins, and binds the admin port to its address there
 * (the alias ADMIN_NETWORK_ALIAS): the host reaches it through the published
 * 127.0.0.1 port, the agencies on `testing_net` cannot reach it at all.
 */

import { CONNECTIONS_MAX_DEFAULT, OPEN_FILES_RESERVED } from "../limits.ts";
import type { Bet } from "../bet/bet.ts";
import { CLIENT_CONFIG_KEYS, CLIENT_MODES, type ClientMode } from "../config/client_config.ts";
import {
  APP_BUILD_ARGS,
  type AppImage,
  CLIENT_IMAGE,
  POSTGRES_IMAGE,
  SERVER_IMAGE,
} from "./images.ts";
import {
  type BundledDatabase,
  DATABASE_HEALTHCHECK,
  DATABASE_MOUNT,
  DATABASE_SERVICE,
  DATABASE_STOP,
  DATABASE_VOLUME_KEY,
  type DatabaseChoice,
  databaseEnvironment,
  isExternalDatabase,
  STORE_NETWORK_KEY,
  storeUrl,
  validateDatabaseChoice,
} from "./database_service.ts";
import { BET_ENV } from "../config/bet_env.ts";
import { drawIdViolation } from "../config/draw_id.ts";
import {
  agencyCredentials,
  type CredentialChoice,
  type FileGrant,
  serverCredentials,
  type ServiceCredentials,
  TLS_PORT_DEFAULT,
} from "./credentials.ts";

/** Most clients a generated file may hold. Each client is a Deno process of
 * about 40 MB; 100 of them already need 4 GB, more is a typo, not a test. */
export const COMPOSE_CLIENTS_MAX = 100;

/** Compose file format both compose generations accept. */
const COMPOSE_FILE_VERSION = "3.8";

/** Where things live inside the containers; the Dockerfiles grant Deno
 * access to exactly these paths. */
export const CONTAINER_PATHS = {
  serverConfig: "/config/server.ini",
  clientConfig: "/config/client.yaml",
  dataDir: "/data",
  /** The storage volume: each draw's files in draws/<draw id>/. */
  storageDir: "/var/lib/tp0",
} as const;

/** Network key in the file; its full name is `<project>_testing_net`. */
export const NETWORK_KEY = "testing_net";

/** The server's admin network (not internal, so its port can be published); `<project>_admin_net`. */
const ADMIN_NETWORK_KEY = "admin_net";

/** The server's name on the admin network only: ADMIN_IP binds the admin port to that address. */
export const ADMIN_NETWORK_ALIAS = "server-admin";

/** The admin port in the container and, by default, on the host's loopback. */
export const ADMIN_PORT_DEFAULT = 9180;

/** Named volume key for the server's bets and journal. */
const STORAGE_VOLUME_KEY = "storage";

/** Everything the document depends on; see {@link COMPOSE_DEFAULTS}. */
export interface ComposeOptions {
  /** Agencies: services client1..clientN; 0 gives a server-only file. */
  clients: number;
  /** CLI_MODE of every client. */
  mode: ClientMode;
  /** Compose project; prefixes the network and volume names. */
  project: string;
  /** Prepended to container names (tests isolate runs with it). */
  containerPrefix: string;
  /** Build context (the repository), as seen from the compose file. */
  contextDir: string;
  /** Directory holding server.ini and client.yaml, from the compose file. */
  configDir: string;
  /** Directory holding agency-<k>.csv, from the compose file. */
  dataDir: string;
  /** Bet mode: client k sends `exampleBets[k - 1]`. Ignored otherwise. */
  exampleBets: readonly Bet[];
  /** The draw (sorteo) this deployment runs: a new one per generated file. */
  drawId: string;
  /** The server's ADMIN_PORT in the container. */
  adminPort: number;
  /** Where the host's 127.0.0.1 publishes it; 0 lets Docker pick (tests). */
  adminHostPort: number;
  /** Hello secrets and TLS from a `deno task certs` directory; undefined: none. */
  credentials: CredentialChoice | undefined;
  /** The PostgreSQL store (STORE_URL, and the bundled database service
   * unless the URL names another); absent: the server's own files on the
   * storage volume. */
  database?: DatabaseChoice;
}

/** Options for the repository's own docker-compose-dev.yaml. */
export const COMPOSE_DEFAULTS: Omit<ComposeOptions, "clients" | "drawId"> = {
  mode: "lottery",
  project: "tp0",
  containerPrefix: "",
  contextDir: ".",
  configDir: "./config",
  dataDir: "./data",
  exampleBets: [],
  adminPort: ADMIN_PORT_DEFAULT,
  adminHostPort: ADMIN_PORT_DEFAULT,
  credentials: undefined,
};

type _Service = Record<string, unknown>;

/**
 * Escapes `$`, which compose and `docker stack deploy` interpolate, so a
 * data value reaches the container verbatim.
 * @example literal("a$b") // "a$$b"
 */
export function literal(text: string): string {
  return text.replaceAll("$", () => "$$");
}

const _literal = literal;

function _join(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}

/**
 * Least privilege for every container: read-only root filesystem (writes go
 * to the storage volume or a private /tmp), no privilege escalation, no Linux
 * capabilities (Deno needs none to serve a port above 1024 as uid 1993).
 */
const CONTAINER_HARDENING = {
  read_only: true,
  tmpfs: ["/tmp"],
  security_opt: ["no-new-privileges:true"],
  cap_drop: ["ALL"],
} as const;

function _readOnlyFile(source: string, target: string) {
  return { type: "bind", source: _literal(source), target, read_only: true };
}

function _build(image: AppImage, contextDir: string) {
  return {
    context: _literal(contextDir),
    dockerfile: image.dockerfile,
    args: { ...APP_BUILD_ARGS },
  };
}

/**
 * Checks what both the compose and the stack generator take.
 * @throws {RangeError} when clients is not a whole number in 0..COMPOSE_CLIENTS_MAX
 * @throws {TypeError} on an unknown mode, a bad project name or prefix, too
 *   few example bets in bet mode, or client certificates without TLS
 */
export function validateComposeOptions(
  options:
    & Omit<ComposeOptions, "adminPort" | "adminHostPort">
    & Partial<Pick<ComposeOptions, "adminPort" | "adminHostPort">>,
): void {
  const { clients, mode, project } = options;
  if (!Number.isInteger(clients) || clients < 0 || clients > COMPOSE_CLIENTS_MAX) {
    throw new RangeError(
      `Cannot compose ${clients} clients: expected a whole number in 0..${COMPOSE_CLIENTS_MAX}`,
    );
  }
  if (!(CLIENT_MODES as readonly string[]).includes(mode)) {
    throw new TypeError(`Cannot compose mode "${mode}": expected ${CLIENT_MODES.join(", ")}`);
  }
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(project)) {
    throw new TypeError(
      `Cannot compose project "${project}": use lowercase letters, digits, _ and -`,
    );
  }
  if (!/^[a-zA-Z0-9_.-]*$/.test(options.containerPrefix)) {
    throw new TypeError(
      `Cannot compose container prefix "${options.containerPrefix}": use letters, digits, _ . -`,
    );
  }
  const drawProblem = drawIdViolation(options.drawId);
  if (drawProblem !== undefined) {
    throw new TypeError(`Cannot compose draw id "${options.drawId}": it ${drawProblem}`);
  }
  for (
    const [name, port, min] of [
      ["admin port", options.adminPort, 1],
      ["admin host port", options.adminHostPort, 0],
    ] as const
  ) {
    if (port === undefined) continue; // a stack publishes no admin port
    if (!Number.isInteger(port) || port < min || port > 65_535) {
      throw new RangeError(
        `Cannot compose ${name} ${port}: expected a whole number in ${min}..65535`,
      );
    }
  }
  if (mode === "bet" && options.exampleBets.length < clients) {
    throw new TypeError(
      `Cannot compose bet mode: ${clients} clients but ${options.exampleBets.length} example bets`,
    );
  }
  if (options.credentials?.clientCerts && !options.credentials.tls) {
    throw new TypeError("Cannot compose client certificates without TLS");
  }
  if (options.database !== undefined) validateDatabaseChoice(options.database);
}

function _server(options: ComposeOptions): _Service {
  const database = options.database;
  const bundled = database !== undefined && !isExternalDatabase(database);
  const environment: Record<string, string> = {
    SERVER_CONFIG: CONTAINER_PATHS.serverConfig,
    ...(database === undefined
      ? { STORAGE_DIR: CONTAINER_PATHS.storageDir }
      : { STORE_URL: _literal(storeUrl(database)) }),
    DRAW_ID: options.drawId,
    ADMIN_PORT: String(options.adminPort),
    ADMIN_IP: ADMIN_NETWORK_ALIAS,
  };
  if (options.clients > 0) environment["AGENCIES"] = String(options.clients);
  const hostPort = options.adminHostPort === 0 ? "" : String(options.adminHostPort);
  const credentials = options.credentials === undefined
    ? undefined
    : serverCredentials(options.credentials, TLS_PORT_DEFAULT);
  return {
    container_name: `${options.containerPrefix}server`,
    image: SERVER_IMAGE.tag,
    build: _build(SERVER_IMAGE, options.contextDir),
    environment: { ...environment, ...credentials?.environment },
    volumes: [
      _readOnlyFile(_join(options.configDir, "server.ini"), CONTAINER_PATHS.serverConfig),
      ...(database === undefined
        ? [{ type: "volume", source: STORAGE_VOLUME_KEY, target: CONTAINER_PATHS.storageDir }]
        : []),
      ..._publicFiles(credentials),
    ],
    ..._secretRefs(credentials),
    networks: {
      [NETWORK_KEY]: {},
      [ADMIN_NETWORK_KEY]: { aliases: [ADMIN_NETWORK_ALIAS] },
      // An external database is reached through admin_net, the server's way out.
      ...(bundled ? { [STORE_NETWORK_KEY]: {} } : {}),
    },
    // The server starts once the database answers (it also retries by itself).
    ...(bundled ? { depends_on: { [DATABASE_SERVICE]: { condition: "service_healthy" } } } : {}),
    // Host loopback only: the operator's browser and Prometheus on this machine.
    ports: [`127.0.0.1:${hostPort}:${options.adminPort}`],
    stop_grace_period: "10s",
    ulimits: SERVER_ULIMITS,
    ...CONTAINER_HARDENING,
  };
}

/** The server's open-file limit: CONNECTIONS_MAX's default plus the
 * descriptors it keeps for itself (lib/limits.ts), so the default cap is
 * reached before the descriptors run out. A CONNECTIONS_MAX raised in
 * server.ini needs this raised too; the server warns and caps otherwise. */
export const SERVER_ULIMITS = {
  nofile: {
    soft: CONNECTIONS_MAX_DEFAULT + OPEN_FILES_RESERVED,
    hard: CONNECTIONS_MAX_DEFAULT + OPEN_FILES_RESERVED,
  },
} as const;

/** The bundled PostgreSQL: on the store network only, its cluster in a named volume. */
function _database(options: ComposeOptions, database: BundledDatabase): _Service {
  return {
    container_name: `${options.containerPrefix}${DATABASE_SERVICE}`,
    image: POSTGRES_IMAGE,
    environment: databaseEnvironment(database),
    volumes: [DATABASE_MOUNT],
    networks: [STORE_NETWORK_KEY],
    healthcheck: DATABASE_HEALTHCHECK,
    ...DATABASE_STOP,
    ...CONTAINER_HARDENING,
  };
}

/** Compose has no configs outside swarm: public credential files are read-only binds. */
function _publicFiles(credentials: ServiceCredentials | undefined) {
  return (credentials?.files ?? []).filter((file) => !file.secret).map((file) =>
    _readOnlyFile(file.source, file.target)
  );
}

/** A service's `secrets:` entries (compose mounts each at /run/secrets/<target>). */
function _secretRefs(credentials: ServiceCredentials | undefined) {
  const secrets = (credentials?.files ?? []).filter((file) => file.secret);
  if (secrets.length === 0) return {};
  return { secrets: secrets.map((file) => ({ source: file.key, target: file.target })) };
}

/** Every secret the services use, for the top-level `secrets:` section. */
function _secretFiles(options: ComposeOptions): FileGrant[] {
  if (options.credentials === undefined) return [];
  const all = [serverCredentials(options.credentials, TLS_PORT_DEFAULT)];
  for (let agency = 1; agency <= options.clients; agency += 1) {
    all.push(agencyCredentials(options.credentials, agency, "server", TLS_PORT_DEFAULT));
  }
  return all.flatMap((credentials) => credentials.files.filter((file) => file.secret));
}

/** A bet-mode client's environment: its one bet, `$` escaped. */
export function betEnvironment(bet: Bet): Record<string, string> {
  return {
    [BET_ENV.firstName]: _literal(bet.firstName),
    [BET_ENV.lastName]: _literal(bet.lastName),
    [BET_ENV.document]: _literal(bet.document),
    [BET_ENV.birthdate]: _literal(bet.birthdate),
    [BET_ENV.number]: String(bet.number),
  };
}

function _client(options: ComposeOptions, agency: number): _Service {
  const dataFile = `agency-${agency}.csv`;
  const containerDataFile = _join(CONTAINER_PATHS.dataDir, dataFile);
  const environment: Record<string, string> = {
    [CLIENT_CONFIG_KEYS["id"]]: String(agency),
    [CLIENT_CONFIG_KEYS["mode"]]: options.mode,
    CLI_CONFIG: CONTAINER_PATHS.clientConfig,
    [CLIENT_CONFIG_KEYS["data.file"]]: containerDataFile,
  };
  if (options.mode === "bet") {
    Object.assign(environment, betEnvironment(options.exampleBets[agency - 1]!));
  }
  const credentials = options.credentials === undefined
    ? undefined
    : agencyCredentials(options.credentials, agency, "server", TLS_PORT_DEFAULT);
  return {
    container_name: `${options.containerPrefix}client${agency}`,
    image: CLIENT_IMAGE.tag,
    build: _build(CLIENT_IMAGE, options.contextDir),
    environment: { ...environment, ...credentials?.environment },
    volumes: [
      _readOnlyFile(_join(options.configDir, "client.yaml"), CONTAINER_PATHS.clientConfig),
      _readOnlyFile(_join(options.dataDir, dataFile), containerDataFile),
      ..._publicFiles(credentials),
    ],
    ..._secretRefs(credentials),
    networks: [NETWORK_KEY],
    depends_on: ["server"],
    stop_grace_period: "10s",
    ...CONTAINER_HARDENING,
  };
}

/**
 * Builds the compose document as plain data, ready for a YAML serializer.
 * @returns `{ version, services, networks, volumes }`
 * @throws {RangeError} when clients is not a whole number in 0..COMPOSE_CLIENTS_MAX,
 *   or a port is out of range
 * @throws {TypeError} as {@link validateComposeOptions}
 * @example composeDocument({ ...COMPOSE_DEFAULTS, clients: 2 }).services
 * // { server: {…}, client1: {…}, client2: {…} }
 */
export function composeDocument(options: ComposeOptions): Record<string, unknown> {
  validateComposeOptions(options);
  const services: Record<string, _Service> = { server: _server(options) };
  const database = options.database;
  const bundled = database !== undefined && !isExternalDatabase(database) ? database : undefined;
  if (bundled !== undefined) services[DATABASE_SERVICE] = _database(options, bundled);
  for (let agency = 1; agency <= options.clients; agency += 1) {
    services[`client${agency}`] = _client(options, agency);
  }
  const named = (key: string) => ({ name: `${options.project}_${key}` });
  return {
    version: COMPOSE_FILE_VERSION,
    services,
    networks: {
      [NETWORK_KEY]: { ...named(NETWORK_KEY), internal: true },
      [ADMIN_NETWORK_KEY]: named(ADMIN_NETWORK_KEY),
      ...(bundled === undefined
        ? {}
        : { [STORE_NETWORK_KEY]: { ...named(STORE_NETWORK_KEY), internal: true } }),
    },
    ...(database === undefined
      ? { volumes: { [STORAGE_VOLUME_KEY]: named(STORAGE_VOLUME_KEY) } }
      : bundled === undefined
      ? {}
      : { volumes: { [DATABASE_VOLUME_KEY]: named(DATABASE_VOLUME_KEY) } }),
    ..._topLevelSecrets(_secretFiles(options)),
  };
}

function _topLevelSecrets(files: readonly FileGrant[]) {
  if (files.length === 0) return {};
  return {
    secrets: Object.fromEntries(files.map((file) => [file.key, { file: _literal(file.source) }])),
  };
}
