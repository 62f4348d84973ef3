/**
 * The Docker Swarm stack file as data: what `docker stack deploy` accepts
 * (compose file format 3.8, as docker CLI's own loader reads it) for a
 * server and N agency jobs on one encrypted overlay network, with config
 * files as swarm configs and credentials as swarm secrets: no bind mount
 * but each agency's data file, no secret in any environment.
 *
 * What swarm does with compose keys, checked against engine 20.10 with the
 * docker CLI 28.2 (see docs/DEPLOY.md): a top-level `name`, `profiles` and a
 * long-form `depends_on` make the file invalid; `build`, `container_name`
 * and `security_opt` are ignored with a warning; `tmpfs:` and a short
 * `depends_on` are ignored silently. None of them is written here.
 */

import { CLIENT_CONFIG_KEYS } from "../config/client_config.ts";
import {
  betEnvironment,
  type ComposeOptions,
  CONTAINER_PATHS,
  literal,
  NETWORK_KEY,
  SERVER_ULIMITS,
  validateComposeOptions,
} from "./compose_document.ts";
import {
  agencyCredentials,
  type FileGrant,
  serverCredentials,
  type ServiceCredentials,
} from "./credentials.ts";
import { HEALTHCHECK_COMMAND } from "./images.ts";
import {
  type BundledDatabase,
  DATABASE_HEALTHCHECK,
  DATABASE_MOUNT,
  DATABASE_SERVICE,
  DATABASE_STOP,
  DATABASE_VOLUME_KEY,
  databaseEnvironment,
  type ExternalDatabase,
  isExternalDatabase,
  STORE_NETWORK_KEY,
  storeUrl,
  validateDatabaseChoice,
} from "./database_service.ts";
import { SERVER_REPLICAS_MAX } from "../limits.ts";

/** How agencies run: swarm jobs (`replicated-job`, API 1.41 and a docker
 * CLI of 23.0 or later), or services that restart only on failure. */
export const AGENCY_MODES = ["job", "restart"] as const;
export type AgencyMode = typeof AGENCY_MODES[number];

/** Node label key that pins the server's storage volume (or, with the
 * PostgreSQL store, the database's volume) to a node. */
export const STORAGE_LABEL = "tp0.storage";

/** Node label key that places agency k where its data file lives. */
export function agencyLabel(agency: number): string {
  return `tp0.agency.${agency}`;
}

/** Volume key of the server's bets in a stack: `<stack>_stack_storage`. */
export const STACK_STORAGE_VOLUME_KEY = "stack_storage";

/** uid and gid of the images' `deno` user: swarm configs and secrets belong to it. */
const _DENO_UID = "1993";

/** File modes of configs (readable by all) and secrets (only by deno). */
const _CONFIG_MODE = 0o444;
const _SECRET_MODE = 0o400;

/** What a stack needs beyond the compose options. */
export interface StackOptions extends
  Omit<
    ComposeOptions,
    "containerPrefix" | "contextDir" | "project" | "adminPort" | "adminHostPort"
  > {
  /** The stack's name: prefixes every service, network, config and secret. */
  stack: string;
  /** Image references, with a registry prefix when the nodes pull them. */
  serverImage: string;
  clientImage: string;
  agencyMode: AgencyMode;
  /** Standalone containers (`docker run --network`, validate_echo) may join the network. */
  attachable: boolean;
  /** Publish the TLS port on the server's node (mode host) for agencies outside the swarm. */
  publishTls: boolean;
  /** The TLS port inside the network. */
  tlsPort: number;
  /** A short version per config and secret key (content hash or file stamp):
   * swarm configs and secrets cannot change, so a new version is a new name. */
  versions: Readonly<Record<string, string>>;
  /** The PostgreSQL store: its image and the server's replicas. Absent: the
   * file store, one server pinned to its volume. */
  database?: StackDatabase;
}

/** A stack's PostgreSQL store: the bundled service (with its image
 * reference, a registry prefix when the nodes pull it) or a STORE_URL. */
export type StackDatabase =
  & (BundledDatabase & { image: string } | ExternalDatabase)
  & {
    /** Server tasks, all on one database: 1..SERVER_REPLICAS_MAX. */
    replicas: number;
  };

/** What deploy needs to know about a stack file, kept in its `x-tp0` field. */
export interface StackMeta {
  stack: string;
  agencies: number;
  agencyMode: AgencyMode;
  images: string[];
  /** Node labels (`key=true`) the placement constraints ask for. */
  labels: string[];
  /** The database image (PostgreSQL store only): made by deno task images, not built. */
  databaseImage?: string;
  /** Volume keys, when not the file store's one (`stack_storage`). */
  volumes?: string[];
}

type _Service = Record<string, unknown>;

function _constraint(label: string): string {
  return `node.labels.${label} == true`;
}

/** Every file a stack hands out: the two config files and the credentials. */
export function stackFiles(options: StackOptions): FileGrant[] {
  const files: FileGrant[] = [
    {
      key: "server_ini",
      source: `${options.configDir.replace(/\/+$/, "")}/server.ini`,
      target: CONTAINER_PATHS.serverConfig,
      secret: false,
    },
    {
      key: "client_yaml",
      source: `${options.configDir.replace(/\/+$/, "")}/client.yaml`,
      target: CONTAINER_PATHS.clientConfig,
      secret: false,
    },
  ];
  const credentials = options.credentials;
  if (credentials === undefined) return files;
  const all = [serverCredentials(credentials, options.tlsPort)];
  for (let agency = 1; agency <= options.clients; agency += 1) {
    all.push(agencyCredentials(credentials, agency, "server", options.tlsPort));
  }
  const byKey = new Map(files.map((file) => [file.key, file]));
  for (const file of all.flatMap((one) => one.files)) byKey.set(file.key, file);
  return [...byKey.values()];
}

function _versioned(options: StackOptions, key: string): string {
  const version = options.versions[key];
  if (version === undefined || !/^[a-z0-9]{1,16}$/.test(version)) {
    throw new TypeError(`Cannot name ${key}: no version of its file (got ${String(version)})`);
  }
  return `${options.stack}_${key}_${version}`;
}

/** A service's `configs:` and `secrets:` references, owned by the deno user. */
function _grants(files: readonly FileGrant[]): Record<string, unknown> {
  const refs = (secret: boolean) =>
    files.filter((file) => file.secret === secret).map((file) => ({
      source: file.key,
      target: file.target,
      uid: _DENO_UID,
      gid: _DENO_UID,
      mode: secret ? _SECRET_MODE : _CONFIG_MODE,
    }));
  const configs = refs(false);
  const secrets = refs(true);
  return {
    ...(configs.length > 0 ? { configs } : {}),
    ...(secrets.length > 0 ? { secrets } : {}),
  };
}

/** Least privilege as swarm allows it on API 1.41: no `security_opt`
 * (no-new-privileges), and a tmpfs /tmp as a mount, not `tmpfs:`. */
const _HARDENING = { read_only: true, cap_drop: ["ALL"] } as const;

const _TMP = { type: "tmpfs", target: "/tmp" } as const;

function _server(options: StackOptions): _Service {
  const credentials: ServiceCredentials = options.credentials === undefined
    ? { environment: {}, files: [] }
    : serverCredentials(options.credentials, options.tlsPort);
  const database = options.database;
  const environment: Record<string, string> = {
    SERVER_CONFIG: CONTAINER_PATHS.serverConfig,
    ...(database === undefined
      ? { STORAGE_DIR: CONTAINER_PATHS.storageDir }
      : { STORE_URL: literal(storeUrl(database)) }),
    DRAW_ID: options.drawId,
    ...(options.clients > 0 ? { AGENCIES: String(options.clients) } : {}),
    ...credentials.environment,
  };
  const [serverIni] = stackFiles(options);
  return {
    image: options.serverImage,
    environment,
    ..._grants([serverIni!, ...credentials.files]),
    volumes: [
      ...(database === undefined
        ? [{ type: "volume", source: STACK_STORAGE_VOLUME_KEY, target: CONTAINER_PATHS.storageDir }]
        : []),
      _TMP,
    ],
    networks: database === undefined ? [NETWORK_KEY] : [NETWORK_KEY, STORE_NETWORK_KEY],
    ...(options.publishTls && options.credentials?.tls
      ? {
        ports: [{
          target: options.tlsPort,
          published: options.tlsPort,
          protocol: "tcp",
          mode: "host",
        }],
      }
      : {}),
    healthcheck: {
      test: ["CMD", ...HEALTHCHECK_COMMAND],
      interval: "10s",
      timeout: "5s",
      retries: 3,
      start_period: "5s",
    },
    stop_grace_period: "10s",
    // Swarm services take ulimits from engine 20.10 (API 1.41, moby/moby#41284)
    // and `docker stack deploy` passes them from CLI 20.10 (docker/cli#2712).
    ulimits: SERVER_ULIMITS,
    ..._HARDENING,
    deploy: database === undefined ? _pinnedTaskDeploy() : _replicatedServerDeploy(database),
  };
}

/**
 * One task, pinned to the node of its volume (the file store's server, the
 * bundled database): always restarted, and the old task stopped before a new
 * one starts, so two never share the volume. Its name resolves to the task
 * itself, not to a virtual IP: a VIP needs IPVS in the kernel (this
 * project's CI VM has none: "No route to host"), and one task gains nothing
 * from it.
 */
function _pinnedTaskDeploy() {
  return {
    mode: "replicated",
    replicas: 1,
    endpoint_mode: "dnsrr",
    placement: { constraints: [_constraint(STORAGE_LABEL)] },
    restart_policy: { condition: "any", delay: "1s" },
    update_config: { order: "stop-first", parallelism: 1 },
  };
}

/**
 * The PostgreSQL store's servers: R tasks on any nodes, all on one database.
 * `server` resolves to every healthy task (DNS round robin, `dnsrr`): an
 * agency reconnecting after its replica died resolves again and reaches
 * another. A virtual IP would need IPVS in every node's kernel.
 */
function _replicatedServerDeploy(database: StackDatabase) {
  return {
    mode: "replicated",
    replicas: database.replicas,
    endpoint_mode: "dnsrr",
    restart_policy: { condition: "any", delay: "1s" },
    // One task at a time; the others keep serving (the database fences).
    update_config: { order: "stop-first", parallelism: 1 },
  };
}

/** The bundled PostgreSQL: one task, pinned to the node of its volume. */
function _database(database: BundledDatabase & { image: string }): _Service {
  return {
    image: database.image,
    environment: databaseEnvironment(database),
    volumes: [DATABASE_MOUNT, _TMP],
    networks: [STORE_NETWORK_KEY],
    healthcheck: DATABASE_HEALTHCHECK,
    ...DATABASE_STOP,
    ..._HARDENING,
    deploy: _pinnedTaskDeploy(),
  };
}

function _client(options: StackOptions, agency: number): _Service {
  const dataFile = `agency-${agency}.csv`;
  const containerDataFile = `${CONTAINER_PATHS.dataDir}/${dataFile}`;
  const credentials: ServiceCredentials = options.credentials === undefined
    ? { environment: {}, files: [] }
    : agencyCredentials(options.credentials, agency, "server", options.tlsPort);
  const environment: Record<string, string> = {
    [CLIENT_CONFIG_KEYS["id"]]: String(agency),
    [CLIENT_CONFIG_KEYS["mode"]]: options.mode,
    CLI_CONFIG: CONTAINER_PATHS.clientConfig,
    [CLIENT_CONFIG_KEYS["data.file"]]: containerDataFile,
    ...(options.mode === "bet" ? betEnvironment(options.exampleBets[agency - 1]!) : {}),
    ...credentials.environment,
  };
  const clientYaml = stackFiles(options)[1]!;
  // A job runs until it succeeds (at most max_attempts tries on failure);
  // a restart-on-failure service does the same with a task that stays Complete.
  const restart = { condition: "on-failure", delay: "2s", max_attempts: 5 };
  return {
    image: options.clientImage,
    environment,
    ..._grants([clientYaml, ...credentials.files]),
    volumes: [
      {
        type: "bind",
        source: literal(`${options.dataDir.replace(/\/+$/, "")}/${dataFile}`),
        target: containerDataFile,
        read_only: true,
      },
      _TMP,
    ],
    networks: [NETWORK_KEY],
    stop_grace_period: "10s",
    ..._HARDENING,
    deploy: {
      mode: options.agencyMode === "job" ? "replicated-job" : "replicated",
      replicas: 1,
      placement: { constraints: [_constraint(agencyLabel(agency))] },
      restart_policy: restart,
    },
  };
}

/** The labels the placement constraints of a stack ask for: the storage
 * label unless the bets are in a database outside the stack. */
function stackLabels(clients: number, storage: boolean): string[] {
  const agencies = Array.from({ length: clients }, (_, index) => agencyLabel(index + 1));
  return storage ? [STORAGE_LABEL, ...agencies] : agencies;
}

function _validate(options: StackOptions): void {
  const { database: _checkedBelow, ...compose } = options;
  validateComposeOptions({ ...compose, containerPrefix: "", contextDir: ".", project: "tp0" });
  if (!/^[a-z0-9][a-z0-9_-]{0,30}$/.test(options.stack)) {
    throw new TypeError(
      `Cannot name stack "${options.stack}": up to 31 lowercase letters, digits, _ and -`,
    );
  }
  const replicas = options.database?.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > SERVER_REPLICAS_MAX) {
    throw new RangeError(
      `Cannot run ${replicas} server replicas: expected a whole number in 1..${SERVER_REPLICAS_MAX}`,
    );
  }
  if (options.database !== undefined) validateDatabaseChoice(options.database);
  if (!options.dataDir.startsWith("/")) {
    throw new TypeError(
      `Cannot place agency data at "${options.dataDir}": a stack needs an absolute path (the same on every agency's node)`,
    );
  }
}

/**
 * Builds the stack document as plain data, ready for a YAML serializer.
 * @returns `{ version, services, networks, volumes, configs, secrets, "x-tp0" }`
 * @throws {RangeError} when clients is not a whole number in 0..COMPOSE_CLIENTS_MAX
 * @throws {TypeError} as validateComposeOptions, on a bad stack name, a
 *   relative data directory or a file without a version
 * @example stackDocument({ ...options, clients: 2 }).services
 * // { server: {…}, client1: {…}, client2: {…} }
 */
export function stackDocument(options: StackOptions): Record<string, unknown> {
  _validate(options);
  const database = options.database;
  const bundled = database !== undefined && !isExternalDatabase(database) ? database : undefined;
  const external = database !== undefined && isExternalDatabase(database);
  const services: Record<string, _Service> = { server: _server(options) };
  if (bundled !== undefined) services[DATABASE_SERVICE] = _database(bundled);
  for (let agency = 1; agency <= options.clients; agency += 1) {
    services[`client${agency}`] = _client(options, agency);
  }
  const files = stackFiles(options);
  const section = (secret: boolean) =>
    Object.fromEntries(
      files.filter((file) => file.secret === secret).map((file) => [
        file.key,
        { name: _versioned(options, file.key), file: literal(file.source) },
      ]),
    );
  const configs = section(false);
  const secrets = section(true);
  const meta: StackMeta = {
    stack: options.stack,
    agencies: options.clients,
    agencyMode: options.agencyMode,
    images: [options.serverImage, options.clientImage],
    labels: stackLabels(options.clients, !external),
    ...(bundled === undefined ? {} : { databaseImage: bundled.image }),
    ...(database === undefined
      ? {}
      : { volumes: bundled === undefined ? [] : [DATABASE_VOLUME_KEY] }),
  };
  const overlay = {
    driver: "overlay",
    // IPsec between nodes: agencies and the central talk across hosts.
    driver_opts: { encrypted: "" },
    internal: true,
  };
  return {
    version: "3.8",
    services,
    networks: {
      [NETWORK_KEY]: { ...overlay, attachable: options.attachable },
      // The servers and the database only; never attachable. To an external
      // database it is the servers' way out, so not internal.
      ...(database === undefined
        ? {}
        : { [STORE_NETWORK_KEY]: { ...overlay, internal: !external, attachable: false } }),
    },
    ...(external ? {} : {
      volumes: { [bundled === undefined ? STACK_STORAGE_VOLUME_KEY : DATABASE_VOLUME_KEY]: {} },
    }),
    configs,
    ...(Object.keys(secrets).length > 0 ? { secrets } : {}),
    "x-tp0": meta,
  };
}

/**
 * Reads the `x-tp0` field of a parsed stack file.
 * @throws {TypeError} when the file has none or it is malformed (not made by gen_compose)
 */
export function stackMeta(document: unknown): StackMeta {
  const meta = (document as Record<string, unknown> | null)?.["x-tp0"] as
    | Partial<StackMeta>
    | undefined;
  const ok = meta !== undefined && typeof meta.stack === "string" &&
    typeof meta.agencies === "number" && (AGENCY_MODES as readonly string[]).includes(
      String(meta.agencyMode),
    ) && Array.isArray(meta.images) && Array.isArray(meta.labels) &&
    (meta.databaseImage === undefined || typeof meta.databaseImage === "string") &&
    (meta.volumes === undefined ||
      (Array.isArray(meta.volumes) && meta.volumes.every((key) => typeof key === "string")));
  if (!ok) {
    throw new TypeError(
      "no x-tp0 field: not a stack file from deno task compose N --target swarm",
    );
  }
  return meta as StackMeta;
}

/** The modes a mode flag accepts, for messages. */
export function isAgencyMode(text: string): text is AgencyMode {
  return (AGENCY_MODES as readonly string[]).includes(text);
}
