import assert from "node:assert/strict";
import { renderStack } from "../lib/containers/compose_file.ts";
import {
  agencyLabel,
  stackDocument,
  stackFiles,
  stackMeta,
  type StackOptions,
  STORAGE_LABEL,
} from "../lib/containers/stack_document.ts";
import { COMPOSE_CLIENTS_MAX } from "../lib/containers/compose_document.ts";
import {
  HEALTHCHECK_COMMAND,
  POSTGRES_DATA_DIR,
  POSTGRES_HEALTHCHECK_COMMAND,
} from "../lib/containers/images.ts";
import { SERVER_REPLICAS_MAX } from "../lib/limits.ts";
import { parseYaml11 } from "./helpers/yaml11.ts";

type Grant = { source: string; target: string; uid: string; gid: string; mode: number };
type Service = {
  image: string;
  environment: Record<string, string>;
  configs?: Grant[];
  secrets?: Grant[];
  volumes: Record<string, unknown>[];
  networks: string[];
  ports?: Record<string, unknown>[];
  healthcheck?: { test: string[] };
  deploy: {
    mode: string;
    replicas?: number;
    update_config?: Record<string, unknown>;
    endpoint_mode?: string;
    placement: { constraints: string[] };
    restart_policy: { condition: string; max_attempts?: number };
  };
  [key: string]: unknown;
};
type Stack = {
  version: string;
  services: Record<string, Service>;
  networks: Record<string, Record<string, unknown>>;
  volumes?: Record<string, unknown>;
  configs: Record<string, { name: string; file: string }>;
  secrets?: Record<string, { name: string; file: string }>;
  "x-tp0": unknown;
  [key: string]: unknown;
};

/** Options with a version for every file, as gen_compose computes them. */
function options(clients: number, extra: Partial<StackOptions> = {}): StackOptions {
  const base: StackOptions = {
    clients,
    mode: "lottery",
    configDir: "/repo/config",
    dataDir: "/srv/tp0/data",
    exampleBets: [],
    drawId: "20261201-094200-1a2b",
    credentials: undefined,
    stack: "tp0",
    serverImage: "tp0-server:latest",
    clientImage: "tp0-client:latest",
    agencyMode: "job",
    attachable: false,
    publishTls: false,
    tlsPort: 12346,
    versions: {},
    ...extra,
  };
  const versions = Object.fromEntries(
    stackFiles(base).map((file, index) => [file.key, `v${index}`]),
  );
  return { ...base, versions };
}

/** Renders and parses back, as docker stack deploy's YAML 1.1 reader sees it. */
function rendered(extra: Partial<StackOptions> = {}, clients = 2): Stack {
  return parseYaml11(renderStack(options(clients, extra))) as Stack;
}

const _CREDENTIALS = { dir: "/c", secrets: true, tls: true, clientCerts: true };

Deno.test("stackDocument() writes none of the keys swarm refuses or ignores", () => {
  const stack = rendered({ credentials: _CREDENTIALS });
  assert.equal(stack.version, "3.8");
  assert.ok(!("name" in stack), "a top-level name makes the file invalid");
  for (const [name, service] of Object.entries(stack.services)) {
    for (
      const key of ["profiles", "container_name", "build", "security_opt", "tmpfs", "depends_on"]
    ) {
      assert.ok(!(key in service), `${name} has ${key}`);
    }
  }
});

Deno.test("stackDocument() hands config files out as swarm configs and credentials as secrets, nothing secret in the environment", () => {
  const stack = rendered({ credentials: _CREDENTIALS });
  const { server, client2 } = stack.services;
  assert.deepEqual(server!.configs!.map((grant) => [grant.source, grant.target]), [
    ["server_ini", "/config/server.ini"],
    ["server_tls_cert", "/config/tls/server.crt"],
    ["tls_ca", "/config/tls/ca.crt"],
  ]);
  assert.deepEqual(server!.secrets!.map((grant) => [grant.source, grant.target, grant.mode]), [
    ["agency_secrets", "agency_secrets", 0o400],
    ["server_tls_key", "server_tls_key", 0o400],
  ]);
  assert.deepEqual(client2!.secrets!.map((grant) => grant.source), [
    "agency_2_secret",
    "agency_2_tls_key",
  ]);
  for (const grant of [...server!.configs!, ...client2!.secrets!]) {
    assert.deepEqual([grant.uid, grant.gid], ["1993", "1993"], "owned by the deno user");
  }
  assert.equal(server!.environment["SECRETS_FILE"], "/run/secrets/agency_secrets");
  assert.equal(client2!.environment["CLI_SECRET_FILE"], "/run/secrets/agency_secret");
  assert.equal(client2!.environment["CLI_SERVER_ADDRESS"], "server:12346");
  assert.ok(!("CLI_SECRET" in client2!.environment));
  assert.deepEqual(
    client2!.volumes.filter((volume) => volume["type"] === "bind").map((volume) =>
      volume["source"]
    ),
    ["/srv/tp0/data/agency-2.csv"],
    "the agency's data is the only bind mount",
  );
  assert.ok(!server!.volumes.some((volume) => volume["type"] === "bind"), "the server has none");
  assert.deepEqual(stack.configs["server_ini"], {
    name: "tp0_server_ini_v0",
    file: "/repo/config/server.ini",
  });
  assert.equal(stack.secrets!["agency_2_tls_key"]!.file, "/c/agency-2.key");
  assert.match(stack.secrets!["agency_secrets"]!.name, /^tp0_agency_secrets_v\d+$/);
});

Deno.test("stackDocument() puts everything on one internal encrypted overlay, attachable only on request", () => {
  for (const attachable of [false, true]) {
    const stack = rendered({ attachable });
    assert.deepEqual(stack.networks, {
      testing_net: {
        driver: "overlay",
        driver_opts: { encrypted: "" },
        internal: true,
        attachable,
      },
    });
    for (const service of Object.values(stack.services)) {
      assert.deepEqual(service.networks, ["testing_net"]);
    }
  }
});

Deno.test("stackDocument() pins the server to the storage label with its health check, agencies to theirs as jobs or restart-on-failure", () => {
  const jobs = rendered();
  const server = jobs.services["server"]!;
  assert.deepEqual(server.deploy.placement.constraints, [`node.labels.${STORAGE_LABEL} == true`]);
  assert.equal(server.deploy.restart_policy.condition, "any");
  assert.equal(server.deploy.endpoint_mode, "dnsrr", "no VIP: it needs IPVS");
  assert.deepEqual(server.healthcheck!.test, ["CMD", ...HEALTHCHECK_COMMAND]);
  assert.deepEqual(server.volumes, [
    { type: "volume", source: "stack_storage", target: "/var/lib/tp0" },
    { type: "tmpfs", target: "/tmp" },
  ]);
  assert.equal(server.environment["AGENCIES"], "2");
  const client = jobs.services["client2"]!;
  assert.equal(client.deploy.mode, "replicated-job");
  assert.deepEqual(client.deploy.placement.constraints, [`node.labels.${agencyLabel(2)} == true`]);
  assert.deepEqual(client.deploy.restart_policy, {
    condition: "on-failure",
    delay: "2s",
    max_attempts: 5,
  });
  const restart = rendered({ agencyMode: "restart" }).services["client2"]!;
  assert.equal(restart.deploy.mode, "replicated");
  assert.equal(restart.deploy.restart_policy.condition, "on-failure");
  for (const service of Object.values(jobs.services)) {
    assert.equal(service["read_only"], true);
    assert.deepEqual(service["cap_drop"], ["ALL"]);
  }
});

Deno.test("stackDocument() publishes the TLS port on the server's node only with --publish-tls and TLS", () => {
  assert.equal(rendered({ credentials: _CREDENTIALS }).services["server"]!.ports, undefined);
  assert.deepEqual(
    rendered({ credentials: _CREDENTIALS, publishTls: true }).services["server"]!.ports,
    [{ target: 12346, published: 12346, protocol: "tcp", mode: "host" }],
  );
});

Deno.test("stackDocument() keeps what deploy needs in x-tp0, and stackMeta() reads it back", () => {
  const stack = rendered({ stack: "lot", serverImage: "r.example/tp0-server:latest" }, 3);
  assert.deepEqual(stackMeta(stack), {
    stack: "lot",
    agencies: 3,
    agencyMode: "job",
    images: ["r.example/tp0-server:latest", "tp0-client:latest"],
    labels: ["tp0.storage", "tp0.agency.1", "tp0.agency.2", "tp0.agency.3"],
  });
  assert.throws(() => stackMeta({ version: "3.8" }), /no x-tp0 field/);
  assert.throws(() => stackMeta(null), /no x-tp0 field/);
});

Deno.test("stackDocument() accepts 0 and COMPOSE_CLIENTS_MAX agencies and refuses bad names, paths and versions", async (t) => {
  await t.step("0 agencies: a server only", () => {
    const stack = rendered({}, 0);
    assert.deepEqual(Object.keys(stack.services), ["server"]);
    assert.ok(!("AGENCIES" in stack.services["server"]!.environment));
  });
  await t.step(`${COMPOSE_CLIENTS_MAX} agencies`, () => {
    assert.equal(
      Object.keys(rendered({}, COMPOSE_CLIENTS_MAX).services).length,
      COMPOSE_CLIENTS_MAX + 1,
    );
  });
  await t.step(`${COMPOSE_CLIENTS_MAX + 1} agencies`, () => {
    assert.throws(() => stackDocument(options(COMPOSE_CLIENTS_MAX + 1)), RangeError);
  });
  await t.step("a stack name with a dot", () => {
    assert.throws(() => stackDocument(options(1, { stack: "a.b" })), /Cannot name stack "a\.b"/);
  });
  await t.step("a relative data directory", () => {
    assert.throws(() => stackDocument(options(1, { dataDir: "data" })), /absolute path/);
  });
  await t.step("a file without a version", () => {
    assert.throws(
      () => stackDocument({ ...options(1), versions: {} }),
      /Cannot name server_ini: no version/,
    );
  });
});

const _DATABASE = {
  password: "0123456789abcdef0123456789abcdef",
  image: "tp0-postgres:15",
  replicas: 3,
};

Deno.test("stackDocument() with the PostgreSQL store runs R unpinned server replicas and the database pinned to the storage label", () => {
  const stack = rendered({ database: _DATABASE });
  assert.deepEqual(Object.keys(stack.services), ["server", "postgres", "client1", "client2"]);
  const server = stack.services["server"]!;
  assert.equal(server.deploy.replicas, 3);
  assert.equal(server.deploy.placement, undefined, "no pin: no volume of its own");
  assert.equal(server.deploy.endpoint_mode, "dnsrr", "server resolves to every healthy task");
  assert.equal(server.deploy.restart_policy.condition, "any");
  assert.deepEqual(server.volumes, [{ type: "tmpfs", target: "/tmp" }]);
  assert.equal(
    server.environment["STORE_URL"],
    `postgres://tp0:${_DATABASE.password}@postgres:5432/tp0`,
  );
  assert.equal(server.environment["STORAGE_DIR"], undefined);
  assert.deepEqual(server.networks, ["testing_net", "store_net"]);
  assert.deepEqual(server.healthcheck!.test, ["CMD", ...HEALTHCHECK_COMMAND]);
  const database = stack.services["postgres"]!;
  assert.equal(database.image, "tp0-postgres:15");
  assert.deepEqual(database.deploy.placement.constraints, [`node.labels.${STORAGE_LABEL} == true`]);
  assert.equal(database.deploy.replicas, 1);
  assert.deepEqual(
    database.deploy.update_config,
    { order: "stop-first", parallelism: 1 },
    "never two postgres processes on one data directory",
  );
  assert.deepEqual(database.networks, ["store_net"]);
  assert.deepEqual(database.volumes, [
    { type: "volume", source: "postgres_data", target: POSTGRES_DATA_DIR },
    { type: "tmpfs", target: "/tmp" },
  ]);
  assert.deepEqual(database.healthcheck!.test, ["CMD", ...POSTGRES_HEALTHCHECK_COMMAND]);
  assert.equal(database["stop_signal"], "SIGINT");
  assert.equal(database.environment["POSTGRES_PASSWORD"], _DATABASE.password);
  for (const client of ["client1", "client2"]) {
    assert.deepEqual(stack.services[client]!.networks, ["testing_net"]);
  }
  assert.deepEqual(stack.networks["store_net"], {
    driver: "overlay",
    driver_opts: { encrypted: "" },
    internal: true,
    attachable: false,
  });
  assert.equal(
    rendered({ database: _DATABASE, attachable: true }).networks["store_net"]![
      "attachable"
    ],
    false,
    "the database network never takes standalone containers",
  );
  assert.deepEqual(stack.volumes, { postgres_data: {} });
  const meta = stackMeta(stack);
  assert.equal(meta.databaseImage, "tp0-postgres:15");
  assert.deepEqual(meta.volumes, ["postgres_data"]);
  assert.deepEqual(meta.labels, ["tp0.storage", "tp0.agency.1", "tp0.agency.2"]);
});

Deno.test("stackDocument() takes 1 to SERVER_REPLICAS_MAX server replicas", async (t) => {
  for (const replicas of [0, 1, SERVER_REPLICAS_MAX, SERVER_REPLICAS_MAX + 1]) {
    await t.step(String(replicas), () => {
      const build = () => stackDocument(options(1, { database: { ..._DATABASE, replicas } }));
      if (replicas >= 1 && replicas <= SERVER_REPLICAS_MAX) build();
      else {assert.throws(build, {
          name: "RangeError",
          message: /expected a whole number in 1\.\.16/,
        });}
    });
  }
});

Deno.test("stackMeta() refuses a malformed database image or volume list", () => {
  const meta = stackMeta(rendered({ database: _DATABASE }));
  assert.throws(() => stackMeta({ "x-tp0": { ...meta, databaseImage: 5 } }), /no x-tp0 field/);
  assert.throws(() => stackMeta({ "x-tp0": { ...meta, volumes: [1] } }), /no x-tp0 field/);
});

Deno.test("stackDocument() with --store-url runs R servers on that database: no database service, no volume, no storage label, a way out", () => {
  const url = "postgres://lottery:pa$s@db.example:5432/lottery";
  const stack = rendered({ database: { url, replicas: 2 } });
  assert.deepEqual(Object.keys(stack.services), ["server", "client1", "client2"]);
  const server = stack.services["server"]!;
  assert.equal(server.environment["STORE_URL"], "postgres://lottery:pa$$s@db.example:5432/lottery");
  assert.equal(server.deploy.replicas, 2);
  assert.deepEqual(server.networks, ["testing_net", "store_net"]);
  assert.equal(stack.networks["store_net"]!["internal"], false, "the servers reach outside");
  assert.equal(stack.networks["testing_net"]!["internal"], true, "the agencies still do not");
  assert.equal(stack.volumes, undefined);
  const meta = stackMeta(stack);
  assert.deepEqual(meta.labels, ["tp0.agency.1", "tp0.agency.2"]);
  assert.deepEqual(meta.volumes, []);
  assert.equal(meta.databaseImage, undefined);
});
