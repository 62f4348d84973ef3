import assert from "node:assert/strict";
import { load } from "js-yaml";
import type { Bet } from "../lib/bet/bet.ts";
import {
  ADMIN_NETWORK_ALIAS,
  COMPOSE_CLIENTS_MAX,
  COMPOSE_DEFAULTS,
  composeDocument,
  type ComposeOptions,
  CONTAINER_PATHS,
} from "../lib/containers/compose_document.ts";
import {
  DENO_VERSION,
  POSTGRES_DATA_DIR,
  POSTGRES_HEALTHCHECK_COMMAND,
  POSTGRES_IMAGE,
} from "../lib/containers/images.ts";
import { DATABASE_NAME } from "../lib/containers/database_service.ts";
import { CONNECTIONS_MAX_DEFAULT, OPEN_FILES_RESERVED } from "../lib/limits.ts";
import { renderCompose } from "../lib/containers/compose_file.ts";
import { parseYaml11 } from "./helpers/yaml11.ts";

type Service = {
  ulimits?: { nofile: { soft: number; hard: number } };
  container_name: string;
  image: string;
  build: { context: string; dockerfile: string; args: Record<string, string> };
  environment: Record<string, string>;
  volumes: Record<string, unknown>[];
  networks: string[] | Record<string, { aliases?: string[] }>;
  ports?: string[];
  depends_on?: string[];
};

const _DRAW_ID = "20261201-094200-1a2b";

function options(clients: number, extra: Partial<ComposeOptions> = {}): ComposeOptions {
  return { ...COMPOSE_DEFAULTS, clients, drawId: _DRAW_ID, ...extra };
}

/** Parses rendered YAML the way docker-compose v1 (PyYAML, YAML 1.1) does. */
function parsed(text: string) {
  return parseYaml11(text) as {
    version: string;
    services: Record<string, Service>;
    networks: Record<string, { name: string; internal?: boolean }>;
    volumes: Record<string, { name: string }>;
  };
}

function bet(agency: number, overrides: Partial<Bet> = {}): Bet {
  return {
    agency,
    firstName: "Ana Belén",
    lastName: "O'Connor",
    document: "01234567",
    birthdate: "1990-01-31",
    number: 7574,
    ...overrides,
  };
}

Deno.test("renderCompose() names the services and containers server and client1..clientN", () => {
  const document = parsed(renderCompose(options(3)));
  assert.deepEqual(Object.keys(document.services), ["server", "client1", "client2", "client3"]);
  for (const [name, service] of Object.entries(document.services)) {
    assert.equal(service.container_name, name);
  }
});

Deno.test("renderCompose() with 0 clients gives a server-only file without AGENCIES", () => {
  const document = parsed(renderCompose(options(0)));
  assert.deepEqual(Object.keys(document.services), ["server"]);
  assert.equal(document.services["server"]!.environment["AGENCIES"], undefined);
});

Deno.test("renderCompose() tells the server AGENCIES=N and each client its CLI_ID and CLI_MODE", () => {
  const document = parsed(renderCompose(options(2, { mode: "echo" })));
  assert.equal(document.services["server"]!.environment["AGENCIES"], "2");
  for (const k of [1, 2]) {
    const environment = document.services[`client${k}`]!.environment;
    assert.equal(environment["CLI_ID"], String(k));
    assert.equal(environment["CLI_MODE"], "echo");
    assert.equal(environment["CLI_DATA_FILE"], `/data/agency-${k}.csv`);
  }
});

Deno.test("renderCompose() puts every service on the internal network tp0_testing_net, and only the server on tp0_admin_net", () => {
  const document = parsed(renderCompose(options(2)));
  assert.deepEqual(document.networks, {
    testing_net: { name: "tp0_testing_net", internal: true },
    admin_net: { name: "tp0_admin_net" },
  });
  assert.deepEqual(document.services["server"]!.networks, {
    testing_net: {},
    admin_net: { aliases: [ADMIN_NETWORK_ALIAS] },
  });
  for (const name of ["client1", "client2"]) {
    assert.deepEqual(document.services[name]!.networks, ["testing_net"]);
    assert.equal(document.services[name]!.ports, undefined, `${name} publishes nothing`);
  }
});

Deno.test("renderCompose() publishes only the admin port, on the host's loopback, bound to the admin network", async (t) => {
  await t.step("default: 127.0.0.1:9180 -> 9180", () => {
    const server = parsed(renderCompose(options(1))).services["server"]!;
    assert.deepEqual(server.ports, ["127.0.0.1:9180:9180"]);
    assert.equal(server.environment["ADMIN_PORT"], "9180");
    assert.equal(server.environment["ADMIN_IP"], ADMIN_NETWORK_ALIAS);
  });
  await t.step("host port 0: Docker picks one on 127.0.0.1", () => {
    const server = parsed(renderCompose(options(1, { adminPort: 9000, adminHostPort: 0 })))
      .services["server"]!;
    assert.deepEqual(server.ports, ["127.0.0.1::9000"]);
  });
  const bad: [number, number][] = [[0, 1], [65_536, 1], [1, -1], [1, 65_536]];
  for (const [adminPort, adminHostPort] of bad) {
    await t.step(`rejects admin port ${adminPort}, host port ${adminHostPort}`, () => {
      assert.throws(() => composeDocument(options(1, { adminPort, adminHostPort })), {
        name: "RangeError",
        message: /Cannot compose admin (host )?port/,
      });
    });
  }
});

Deno.test("renderCompose() bind-mounts config files and agency data read-only, by full name", () => {
  const document = parsed(renderCompose(options(2)));
  const server = document.services["server"]!;
  assert.deepEqual(server.volumes[0], {
    type: "bind",
    source: "./config/server.ini",
    target: CONTAINER_PATHS.serverConfig,
    read_only: true,
  });
  assert.deepEqual(document.services["client2"]!.volumes, [
    {
      type: "bind",
      source: "./config/client.yaml",
      target: "/config/client.yaml",
      read_only: true,
    },
    { type: "bind", source: "./data/agency-2.csv", target: "/data/agency-2.csv", read_only: true },
  ]);
});

Deno.test("renderCompose() keeps the server's draws in a named volume at STORAGE_DIR and stamps the deployment's DRAW_ID", () => {
  const document = parsed(renderCompose(options(1)));
  const server = document.services["server"]!;
  assert.deepEqual(server.volumes[1], {
    type: "volume",
    source: "storage",
    target: "/var/lib/tp0",
  });
  assert.equal(server.environment["STORAGE_DIR"], CONTAINER_PATHS.storageDir);
  assert.equal(server.environment["DRAW_ID"], _DRAW_ID);
  assert.deepEqual(document.volumes, { storage: { name: "tp0_storage" } });
});

Deno.test("renderCompose() builds both images with the pinned DENO_VERSION", () => {
  const document = parsed(renderCompose(options(1)));
  assert.equal(document.version, "3.8");
  assert.deepEqual(document.services["server"]!.build, {
    context: ".",
    dockerfile: "Dockerfile.server",
    args: { DENO_VERSION },
  });
  assert.equal(document.services["client1"]!.build.dockerfile, "Dockerfile.client");
  assert.deepEqual(document.services["client1"]!.depends_on, ["server"]);
});

Deno.test("renderCompose() in bet mode gives each client its example bet as strings YAML 1.1 keeps", () => {
  const bets = [bet(1), bet(2, { firstName: "yes", lastName: "Pa$co", number: 12 })];
  const text = renderCompose(options(2, { mode: "bet", exampleBets: bets }));
  const document = parsed(text);
  assert.deepEqual(document.services["client1"]!.environment, {
    CLI_ID: "1",
    CLI_MODE: "bet",
    CLI_CONFIG: "/config/client.yaml",
    CLI_DATA_FILE: "/data/agency-1.csv",
    NOMBRE: "Ana Belén",
    APELLIDO: "O'Connor",
    DOCUMENTO: "01234567",
    NACIMIENTO: "1990-01-31",
    NUMERO: "7574",
  });
  const second = document.services["client2"]!.environment;
  assert.equal(second["NOMBRE"], "yes");
  // `$$` is compose's escape for a literal `$`.
  assert.equal(second["APELLIDO"], "Pa$$co");
  assert.equal(second["NUMERO"], "12");
});

Deno.test("renderCompose() quotes every string a YAML 1.1 or 1.2 reader would take for another type, and folds no line", async (t) => {
  const long = `${"Ana ".repeat(60)}Belén`;
  const names = [
    "on",
    "No",
    "~",
    "0755",
    "0o755",
    "0x1F",
    "1:20",
    ".",
    "2.9.6",
    ".inf",
    "<<",
    long,
  ];
  const bets = names.map((firstName, index) => bet(index + 1, { firstName, lastName: "1e3" }));
  const input = options(names.length, { mode: "bet", exampleBets: bets });
  const text = renderCompose(input);
  const source = composeDocument(input) as { services: Record<string, object> };
  const readers: [string, (text: string) => unknown][] = [
    ["YAML 1.1 (docker-compose v1, docker stack deploy)", parseYaml11],
    ["YAML 1.2 core schema (docker compose v2)", (text) => load(text)],
  ];
  for (const [name, read] of readers) {
    await t.step(name, () => {
      const { services } = read(text) as ReturnType<typeof parsed>;
      for (const [index, firstName] of names.entries()) {
        const environment = services[`client${index + 1}`]!.environment;
        assert.equal(environment["NOMBRE"], firstName);
        assert.equal(environment["APELLIDO"], "1e3");
      }
      // Keys in the generator's order.
      assert.deepEqual(Object.keys(services), Object.keys(source.services));
      assert.deepEqual(Object.keys(services["server"]!), Object.keys(source.services["server"]!));
    });
  }
  assert.ok(text.includes(`NOMBRE: ${long}\n`), "a long value stays on one line");
  // The YAML 1.1 spec's float form matches these too: a strict 1.1 reader takes them for numbers.
  for (const value of [".", "2.9.6"]) assert.ok(text.includes(`NOMBRE: "${value}"\n`), value);
});

Deno.test("renderCompose() uses the project and prefix for network, volume and container names", () => {
  const document = parsed(
    renderCompose(options(1, { project: "e2e_x", containerPrefix: "e2e_x-" })),
  );
  assert.equal(document.networks["testing_net"]!.name, "e2e_x_testing_net");
  assert.equal(document.networks["admin_net"]!.name, "e2e_x_admin_net");
  assert.equal(document.volumes["storage"]!.name, "e2e_x_storage");
  assert.equal(document.services["client1"]!.container_name, "e2e_x-client1");
});

Deno.test("renderCompose() starts with a comment saying it is generated", () => {
  assert.match(renderCompose(options(1)), /^# Generated by gen_compose\.ts/);
});

Deno.test("composeDocument() accepts 0 and COMPOSE_CLIENTS_MAX clients and rejects the rest", async (t) => {
  for (const clients of [0, COMPOSE_CLIENTS_MAX]) {
    await t.step(`accepts ${clients}`, () => {
      const services = composeDocument(options(clients))["services"] as object;
      assert.equal(Object.keys(services).length, clients + 1);
    });
  }
  for (const clients of [-1, 1.5, Number.NaN, COMPOSE_CLIENTS_MAX + 1]) {
    await t.step(`rejects ${clients}`, () => {
      assert.throws(() => composeDocument(options(clients)), {
        name: "RangeError",
        message: new RegExp(`Cannot compose ${clients} clients`),
      });
    });
  }
});

Deno.test("composeDocument() rejects an unknown mode, a bad project, a bad draw id and missing example bets", async (t) => {
  const cases: [string, ComposeOptions, RegExp][] = [
    ["mode", options(1, { mode: "poker" as "echo" }), /mode "poker"/],
    ["project", options(1, { project: "TP 0" }), /project "TP 0"/],
    ["prefix", options(1, { containerPrefix: "a/b" }), /prefix "a\/b"/],
    ["bets", options(2, { mode: "bet", exampleBets: [bet(1)] }), /2 clients but 1 example bets/],
    ["draw id", options(1, { drawId: "a b" }), /draw id "a b": it may hold only/],
    ["empty draw id", options(1, { drawId: "" }), /draw id "": it must be 1 to 64/],
  ];
  for (const [name, input, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => composeDocument(input), { name: "TypeError", message });
    });
  }
});

Deno.test("composeDocument() runs every container read-only, without new privileges or capabilities", () => {
  const document = load(
    renderCompose(options(2)),
  ) as {
    services: Record<string, Record<string, unknown>>;
  };
  assert.equal(Object.keys(document.services).length, 3);
  for (const [name, service] of Object.entries(document.services)) {
    assert.equal(service["read_only"], true, name);
    assert.deepEqual(service["cap_drop"], ["ALL"], name);
    assert.deepEqual(service["security_opt"], ["no-new-privileges:true"], name);
    assert.deepEqual(service["tmpfs"], ["/tmp"], name);
  }
});

Deno.test("composeDocument() with credentials wires compose secrets and read-only public files, no secret in the environment", () => {
  const document = composeDocument(options(2, {
    credentials: { dir: "./secrets", secrets: true, tls: true, clientCerts: true },
  })) as {
    services: Record<string, Service & { secrets: { source: string; target: string }[] }>;
    secrets: Record<string, { file: string }>;
  };
  const { server, client2 } = document.services;
  assert.deepEqual(server!.secrets, [
    { source: "agency_secrets", target: "agency_secrets" },
    { source: "server_tls_key", target: "server_tls_key" },
  ]);
  assert.deepEqual(
    {
      SECRETS_FILE: server!.environment["SECRETS_FILE"],
      TLS_PORT: server!.environment["TLS_PORT"],
      TLS_KEY_FILE: server!.environment["TLS_KEY_FILE"],
      TLS_CLIENT_CA: server!.environment["TLS_CLIENT_CA"],
    },
    {
      SECRETS_FILE: "/run/secrets/agency_secrets",
      TLS_PORT: "12346",
      TLS_KEY_FILE: "/run/secrets/server_tls_key",
      TLS_CLIENT_CA: "/config/tls/ca.crt",
    },
  );
  assert.deepEqual(client2!.secrets.map((secret) => secret.source), [
    "agency_2_secret",
    "agency_2_tls_key",
  ]);
  assert.equal(client2!.environment["CLI_SERVER_ADDRESS"], "server:12346");
  assert.equal(client2!.environment["CLI_SECRET_FILE"], "/run/secrets/agency_secret");
  assert.ok(
    client2!.volumes.some((volume) =>
      volume["source"] === "./secrets/agency-2.crt" && volume["read_only"] === true
    ),
    "the certificate is a read-only bind",
  );
  assert.equal(document.secrets["agency_2_tls_key"]!.file, "./secrets/agency-2.key");
  assert.equal(document.secrets["agency_secrets"]!.file, "./secrets/agencies.secrets");
  for (const service of Object.values(document.services)) {
    assert.ok(!("CLI_SECRET" in service.environment), "no secret value in the environment");
  }
});

Deno.test("composeDocument() refuses client certificates without TLS", () => {
  assert.throws(
    () =>
      composeDocument(options(1, {
        credentials: { dir: "s", secrets: true, tls: false, clientCerts: true },
      })),
    /client certificates without TLS/,
  );
});

Deno.test("renderCompose() gives the server, and only it, an open-file limit above CONNECTIONS_MAX's default", () => {
  const document = parsed(renderCompose(options(2)));
  const files = CONNECTIONS_MAX_DEFAULT + OPEN_FILES_RESERVED;
  assert.deepEqual(document.services.server!.ulimits, { nofile: { soft: files, hard: files } });
  assert.equal(document.services.client1!.ulimits, undefined);
});

const _PASSWORD = "0123456789abcdef0123456789abcdef";

Deno.test("composeDocument() with the PostgreSQL store adds the database on a network of its own and hands the server STORE_URL", () => {
  const document = parsed(
    renderCompose(
      options(2, { database: { password: _PASSWORD }, project: "p", containerPrefix: "x-" }),
    ),
  ) as ReturnType<typeof parsed> & {
    services: Record<string, Service & Record<string, unknown>>;
  };
  assert.deepEqual(Object.keys(document.services), ["server", "postgres", "client1", "client2"]);
  const server = document.services["server"]!;
  assert.equal(server.environment["STORE_URL"], `postgres://tp0:${_PASSWORD}@postgres:5432/tp0`);
  assert.equal(server.environment["STORAGE_DIR"], undefined, "no files of its own");
  assert.ok(!server.volumes.some((volume) => volume["type"] === "volume"), "no bets volume");
  assert.deepEqual(server.networks, {
    testing_net: {},
    admin_net: { aliases: [ADMIN_NETWORK_ALIAS] },
    store_net: {},
  });
  assert.deepEqual(server["depends_on"], { postgres: { condition: "service_healthy" } });
  const database = document.services["postgres"]!;
  assert.equal(database.container_name, "x-postgres");
  assert.equal(database.image, POSTGRES_IMAGE);
  assert.deepEqual(database.environment, {
    POSTGRES_USER: DATABASE_NAME,
    POSTGRES_DB: DATABASE_NAME,
    POSTGRES_PASSWORD: _PASSWORD,
  });
  assert.deepEqual(database.volumes, [
    { type: "volume", source: "postgres_data", target: POSTGRES_DATA_DIR },
  ]);
  assert.deepEqual(database.networks, ["store_net"]);
  assert.deepEqual(
    (database["healthcheck"] as { test: string[] }).test,
    ["CMD", ...POSTGRES_HEALTHCHECK_COMMAND],
  );
  assert.equal(database["stop_signal"], "SIGINT", "a fast shutdown");
  assert.equal(database.ports, undefined, "nothing published");
  assert.equal(database["read_only"], true);
  assert.deepEqual(database["cap_drop"], ["ALL"]);
  for (const client of ["client1", "client2"]) {
    assert.deepEqual(
      document.services[client]!.networks,
      ["testing_net"],
      "no agency on store_net",
    );
  }
  assert.deepEqual(document.networks["store_net"], { name: "p_store_net", internal: true });
  assert.deepEqual(document.volumes, { postgres_data: { name: "p_postgres_data" } });
});

Deno.test("composeDocument() takes a database password of 16 to 64 URL-safe characters only", async (t) => {
  const cases: [string, boolean][] = [
    ["a".repeat(16), true],
    ["A-z0._~".repeat(9).slice(0, 64), true],
    ["a".repeat(15), false],
    ["a".repeat(65), false],
    [`${"a".repeat(16)}@x`, false],
    [`${"a".repeat(16)}'x`, false],
  ];
  for (const [password, ok] of cases) {
    await t.step(`${password.length} characters${ok ? "" : ", refused"}`, () => {
      const build = () => composeDocument(options(1, { database: { password } }));
      if (ok) build();
      else assert.throws(build, /expected 16 to 64 of A-Z a-z 0-9 \. _ ~ -/);
    });
  }
});

Deno.test("composeDocument() with --store-url gives the server that STORE_URL and runs no database", () => {
  const url = "postgres://lottery:pa$s@db.example:5432/lottery";
  const text = renderCompose(options(1, { database: { url } }));
  const document = parsed(text) as ReturnType<typeof parsed> & { volumes?: unknown };
  assert.deepEqual(Object.keys(document.services), ["server", "client1"]);
  const server = document.services["server"]! as Service & Record<string, unknown>;
  assert.equal(server.environment["STORE_URL"], "postgres://lottery:pa$$s@db.example:5432/lottery");
  assert.equal(server["depends_on"], undefined);
  assert.ok(!("store_net" in document.networks), "the server goes out through admin_net");
  assert.equal(document.volumes, undefined, "no volume at all");
  assert.throws(
    () => composeDocument(options(1, { database: { url: "http://x" } })),
    /Cannot compose STORE_URL: it has the scheme "http", not postgres/,
  );
});
