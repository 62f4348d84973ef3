import assert from "node:assert/strict";
import {
  ADMIN_TOKEN_BYTES_MAX,
  FRAME_BYTES_MAX_CEILING,
  FRAME_BYTES_MAX_DEFAULT,
  IDLE_TIMEOUT_MS_DEFAULT,
  SHUTDOWN_GRACE_MS_DEFAULT,
} from "../lib/limits.ts";
import {
  listenAddressOf,
  loadServerConfig,
  parseServerConfig,
  SERVER_CONFIG_KEYS,
  type ServerConfig,
} from "../lib/config/server_config.ts";
import { configError } from "./helpers/config_errors.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const _FILE = "config/server.ini";
const _MINIMAL = "[DEFAULT]\nSERVER_PORT = 12345\n";

/** What server.ini with only SERVER_PORT = 12345 yields. */
const _DEFAULTS: ServerConfig = {
  file: _FILE,
  port: 12345,
  ip: "0.0.0.0",
  listenIp: "0.0.0.0",
  listenBacklog: 511,
  loggingLevel: "INFO",
  agencies: 5,
  storageDir: "storage",
  storeUrl: undefined,
  storeWait: { text: "60s", ms: 60_000 },
  drawId: "local",
  frameBytesMax: FRAME_BYTES_MAX_DEFAULT,
  connectionsMax: 16_384,
  idleTimeout: { text: `${IDLE_TIMEOUT_MS_DEFAULT / 1000}s`, ms: IDLE_TIMEOUT_MS_DEFAULT },
  shutdownGrace: { text: `${SHUTDOWN_GRACE_MS_DEFAULT / 1000}s`, ms: SHUTDOWN_GRACE_MS_DEFAULT },
  secretsFile: "",
  adminPort: undefined,
  adminIp: "127.0.0.1",
  adminToken: "",
  tls: undefined,
};

/** Parses `text` as _FILE with `env`. */
function parse(text: string, env: Record<string, string> = {}): ServerConfig {
  return parseServerConfig(text, _FILE, env);
}

Deno.test("parseServerConfig() reads the committed config/server.ini", async () => {
  const file = new URL("../config/server.ini", import.meta.url);
  const config = parseServerConfig(await Deno.readTextFile(file), _FILE, {});
  // The committed file spells out the defaults, but for a backlog sized for bursts of agencies.
  assert.deepEqual(config, { ..._DEFAULTS, listenBacklog: 1024, adminPort: 9180 });
});

Deno.test("parseServerConfig() fills defaults for every key but SERVER_PORT", () => {
  assert.deepEqual(parse(_MINIMAL), _DEFAULTS);
});

Deno.test("parseServerConfig() reads the course's server.ini: SERVER_IP = server binds every interface", () => {
  const course = [
    "[DEFAULT]",
    "SERVER_PORT = 12345",
    "SERVER_IP = server",
    "SERVER_LISTEN_BACKLOG = 5",
    "LOGGING_LEVEL = INFO",
  ].join("\n");
  const config = parse(course);
  assert.equal(config.ip, "server");
  assert.equal(config.listenIp, "0.0.0.0");
  assert.equal(config.listenBacklog, 5);
});

Deno.test("listenAddressOf() binds addresses and localhost as written, other names everywhere", async (t) => {
  const cases: [string, string][] = [
    ["0.0.0.0", "0.0.0.0"],
    ["127.0.0.1", "127.0.0.1"],
    ["172.25.125.2", "172.25.125.2"],
    ["::", "::"],
    ["::1", "::1"],
    ["localhost", "localhost"],
    ["LOCALHOST", "LOCALHOST"],
    ["server", "0.0.0.0"],
    ["server-admin", "0.0.0.0"],
    ["lottery.example.org", "0.0.0.0"],
    ["1.2.3", "0.0.0.0"],
  ];
  for (const [serverIp, expected] of cases) {
    await t.step(`${serverIp} -> ${expected}`, () => {
      assert.equal(listenAddressOf(serverIp), expected);
    });
  }
});

Deno.test("parseServerConfig() accepts keys written without the [DEFAULT] header", () => {
  assert.equal(parse("SERVER_PORT = 1\nAGENCIES = 3\n").agencies, 3);
});

Deno.test("parseServerConfig() lets every key's environment variable win over the file", async (t) => {
  const file = [
    "[DEFAULT]",
    "SERVER_PORT = 12345",
    "SERVER_IP = 0.0.0.0",
    "SERVER_LISTEN_BACKLOG = 5",
    "LOGGING_LEVEL = INFO",
    "AGENCIES = 5",
    "STORAGE_DIR = storage",
    "DRAW_ID = local",
    "FRAME_BYTES_MAX = 2048",
    "CONNECTIONS_MAX = 10",
    "IDLE_TIMEOUT = 30s",
    "SHUTDOWN_GRACE = 5s",
    "ADMIN_PORT = 9180",
  ].join("\n");
  const cases: [string, string, Partial<ServerConfig>][] = [
    ["SERVER_PORT", "0", { port: 0 }],
    ["SERVER_IP", "127.0.0.1", { ip: "127.0.0.1", listenIp: "127.0.0.1" }],
    ["SERVER_LISTEN_BACKLOG", "128", { listenBacklog: 128 }],
    ["LOGGING_LEVEL", "debug", { loggingLevel: "DEBUG" }],
    ["AGENCIES", "3", { agencies: 3 }],
    ["STORAGE_DIR", "/var/lib/loteria", { storageDir: "/var/lib/loteria" }],
    ["STORE_URL", "postgres://u:p@db:5432/lottery", { storeUrl: "postgres://u:p@db:5432/lottery" }],
    ["STORE_WAIT", "5s", { storeWait: { text: "5s", ms: 5_000 } }],
    ["DRAW_ID", "20261201-094200-1a2b", { drawId: "20261201-094200-1a2b" }],
    ["FRAME_BYTES_MAX", "1024", { frameBytesMax: 1024 }],
    ["CONNECTIONS_MAX", "1", { connectionsMax: 1 }],
    ["IDLE_TIMEOUT", "100ms", { idleTimeout: { text: "100ms", ms: 100 } }],
    ["SHUTDOWN_GRACE", "1m", { shutdownGrace: { text: "1m", ms: 60_000 } }],
    ["SECRETS_FILE", "/run/secrets/agencies", { secretsFile: "/run/secrets/agencies" }],
    ["ADMIN_PORT", "off", { adminPort: undefined }],
    ["ADMIN_IP", "0.0.0.0", { adminIp: "0.0.0.0" }],
    ["ADMIN_TOKEN", "s3cr3t-t0ken", { adminToken: "s3cr3t-t0ken" }],
    ["TLS_PORT", "12346", { tls: { ..._TLS, port: 12346 } }],
    ["TLS_CERT_FILE", "/c/other.crt", { tls: { ..._TLS, certFile: "/c/other.crt" } }],
    ["TLS_KEY_FILE", "/c/other.key", { tls: { ..._TLS, keyFile: "/c/other.key" } }],
    ["TLS_CLIENT_CA", "/c/ca.crt", { tls: { ..._TLS, clientCaFile: "/c/ca.crt" } }],
  ];
  assert.deepEqual(cases.map(([key]) => key), [...SERVER_CONFIG_KEYS], "every key is covered");
  for (const [key, value, expected] of cases) {
    await t.step(`${key}=${value}`, () => {
      // The TLS keys only count together: each case starts from a complete TLS setup.
      const base = key.startsWith("TLS_") ? _TLS_ENV : {};
      const config = parse(file, { ...base, [key]: value });
      assert.deepEqual({ ...parse(file, base), ...expected }, config);
    });
  }
});

/** A complete TLS setup in the environment, and what it parses to. */
const _TLS_ENV = { TLS_PORT: "0", TLS_CERT_FILE: "/c/server.crt", TLS_KEY_FILE: "/c/server.key" };
const _TLS = { port: 0, certFile: "/c/server.crt", keyFile: "/c/server.key", clientCaFile: "" };

Deno.test("parseServerConfig() turns TLS on with TLS_PORT, which needs a certificate and its key", async (t) => {
  await t.step("no TLS_PORT: plain port only", () => assert.equal(parse(_MINIMAL).tls, undefined));
  await t.step("TLS_PORT with certificate, key and client CA", () => {
    assert.deepEqual(
      parse(`${_MINIMAL}TLS_PORT = 65535\nTLS_CERT_FILE = a.crt\nTLS_KEY_FILE = a.key\n`, {
        TLS_CLIENT_CA: "ca.crt",
      }).tls,
      { port: 65535, certFile: "a.crt", keyFile: "a.key", clientCaFile: "ca.crt" },
    );
  });
  const refusals: [string, Record<string, string>, RegExp][] = [
    [
      "TLS_PORT without TLS_CERT_FILE",
      { TLS_PORT: "1", TLS_KEY_FILE: "k" },
      /^TLS_CERT_FILE is missing/,
    ],
    [
      "TLS_PORT without TLS_KEY_FILE",
      { TLS_PORT: "1", TLS_CERT_FILE: "c" },
      /^TLS_KEY_FILE is missing/,
    ],
    ["TLS_PORT 65536", { ..._TLS_ENV, TLS_PORT: "65536" }, /^TLS_PORT "65536" .* 0\.\.65535/],
    [
      "TLS_PORT equal to SERVER_PORT",
      { ..._TLS_ENV, TLS_PORT: "12345" },
      /TLS_PORT 12345 is SERVER_PORT too/,
    ],
    ["TLS_CERT_FILE alone", { TLS_CERT_FILE: "c" }, /^TLS_CERT_FILE is set .* but TLS_PORT is not/],
    [
      "STORE_URL not a URL",
      { STORE_URL: "db:5432" },
      /^STORE_URL has the scheme "db", not postgres/,
    ],
    [
      "STORE_URL of another scheme",
      { STORE_URL: "mysql://db/x" },
      /^STORE_URL has the scheme "mysql"/,
    ],
    ["STORE_URL without a host", { STORE_URL: "postgres:///x" }, /^STORE_URL names no host/],
    [
      "TLS_CLIENT_CA alone",
      { TLS_CLIENT_CA: "ca" },
      /^TLS_CLIENT_CA is set .* but TLS_PORT is not/,
    ],
  ];
  for (const [name, env, pattern] of refusals) {
    await t.step(`refuses ${name}`, () => {
      assert.throws(() => parse(_MINIMAL, env), configError(pattern));
    });
  }
  await t.step("a refused STORE_URL's password never reaches the message", () => {
    assert.throws(
      () => parse(_MINIMAL, { STORE_URL: "mysql://admin:s3cret@db/x" }),
      (error: Error) => !error.message.includes("s3cret"),
    );
  });
});

Deno.test("parseServerConfig() accepts every numeric key at its bounds and keeps the value", async (t) => {
  const cases: [string, string, Partial<ServerConfig>][] = [
    ["SERVER_PORT", "0", { port: 0 }],
    ["SERVER_PORT", "65535", { port: 65_535 }],
    ["SERVER_LISTEN_BACKLOG", "1", { listenBacklog: 1 }],
    ["SERVER_LISTEN_BACKLOG", "65535", { listenBacklog: 65_535 }],
    ["AGENCIES", "1", { agencies: 1 }],
    ["AGENCIES", "100000", { agencies: 100_000 }],
    ["FRAME_BYTES_MAX", "1024", { frameBytesMax: 1024 }],
    [
      "FRAME_BYTES_MAX",
      String(FRAME_BYTES_MAX_CEILING),
      { frameBytesMax: FRAME_BYTES_MAX_CEILING },
    ],
    ["CONNECTIONS_MAX", "1", { connectionsMax: 1 }],
    ["CONNECTIONS_MAX", "1000000", { connectionsMax: 1_000_000 }],
    ["IDLE_TIMEOUT", "0s", { idleTimeout: { text: "0s", ms: 0 } }],
    ["IDLE_TIMEOUT", "1h", { idleTimeout: { text: "1h", ms: 3_600_000 } }],
    ["SHUTDOWN_GRACE", "10m", { shutdownGrace: { text: "10m", ms: 600_000 } }],
    ["DRAW_ID", "d".repeat(64), { drawId: "d".repeat(64) }],
    ["DRAW_ID", "7", { drawId: "7" }],
    ["ADMIN_PORT", "0", { adminPort: 0 }],
    ["ADMIN_PORT", "65535", { adminPort: 65_535 }],
    ["ADMIN_TOKEN", "x".repeat(ADMIN_TOKEN_BYTES_MAX), {
      adminToken: "x".repeat(ADMIN_TOKEN_BYTES_MAX),
    }],
  ];
  for (const [key, value, expected] of cases) {
    await t.step(`${key} = ${value}`, () => {
      assert.deepEqual(parse(`${_MINIMAL}${key} = ${value}\n`), { ..._DEFAULTS, ...expected });
    });
  }
});

Deno.test("parseServerConfig() rejects a bad value with one line naming the key and the file", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["non-numeric port", "SERVER_PORT = abc", /SERVER_PORT "abc" in config\/server\.ini/],
    ["port 65536", "SERVER_PORT = 65536", /SERVER_PORT "65536" in config\/server\.ini/],
    ["port -1", "SERVER_PORT = -1", /SERVER_PORT "-1"/],
    ["port 1.5", "SERVER_PORT = 1.5", /SERVER_PORT "1\.5"/],
    ["backlog 0", "SERVER_LISTEN_BACKLOG = 0", /SERVER_LISTEN_BACKLOG "0"/],
    ["unknown level", "LOGGING_LEVEL = LOUD", /LOGGING_LEVEL "LOUD" in config\/server\.ini/],
    ["agencies 0", "AGENCIES = 0", /AGENCIES "0" in config\/server\.ini/],
    ["agencies above the maximum", "AGENCIES = 100001", /AGENCIES "100001"/],
    ["frame cap below 1 KiB", "FRAME_BYTES_MAX = 1023", /FRAME_BYTES_MAX "1023"/],
    [
      "frame cap above the ceiling",
      `FRAME_BYTES_MAX = ${FRAME_BYTES_MAX_CEILING + 1}`,
      /FRAME_BYTES_MAX "67108865"/,
    ],
    ["connections 0", "CONNECTIONS_MAX = 0", /CONNECTIONS_MAX "0"/],
    ["bad duration", "IDLE_TIMEOUT = 30", /IDLE_TIMEOUT "30" in config\/server\.ini/],
    ["duration above the maximum", "SHUTDOWN_GRACE = 11m", /SHUTDOWN_GRACE "11m".*exceeds/],
    [
      "draw id with a slash",
      "DRAW_ID = ../x",
      /DRAW_ID "\.\.\/x" in config\/server\.ini may hold only/,
    ],
    [
      "draw id of 65 characters",
      `DRAW_ID = ${"d".repeat(65)}`,
      /DRAW_ID "d{65}".* 1 to 64 characters/,
    ],
    [
      "the old STORAGE key",
      "STORAGE = storage/bets.csv",
      /unknown key STORAGE in config\/server\.ini/,
    ],
    [
      "admin port abc",
      "ADMIN_PORT = abc",
      /ADMIN_PORT "abc" in config\/server\.ini is not a whole number in 0\.\.65535 or off$/,
    ],
    ["admin port 65536", "ADMIN_PORT = 65536", /ADMIN_PORT "65536" in config\/server\.ini/],
    [
      "admin token above the maximum",
      `ADMIN_TOKEN = ${"x".repeat(ADMIN_TOKEN_BYTES_MAX + 1)}`,
      /^ADMIN_TOKEN is longer than 256 bytes$/,
    ],
    ["admin token with a space", "ADMIN_TOKEN = a b", /^ADMIN_TOKEN must not contain spaces/],
    ["unknown key", "SERVER_PROT = 1", /unknown key SERVER_PROT in config\/server\.ini/],
    ["unknown section", "[EXTRA]\nA = 1", /unknown key EXTRA in config\/server\.ini/],
  ];
  for (const [name, line, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => parse(`${_MINIMAL}${line}\n`), configError(message));
    });
  }
  await t.step("missing SERVER_PORT", () => {
    assert.throws(
      () => parse("[DEFAULT]\nAGENCIES = 5\n"),
      configError(/SERVER_PORT is missing in config\/server\.ini \(or set SERVER_PORT\)/),
    );
  });
});

Deno.test("parseServerConfig() names the environment variable a bad value came from", async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ SERVER_PORT: "http" }, /SERVER_PORT "http" in environment variable SERVER_PORT/],
    [{ LOGGING_LEVEL: "verbose" }, /LOGGING_LEVEL "verbose" in environment variable LOGGING_LEVEL/],
    [{ IDLE_TIMEOUT: "forever" }, /IDLE_TIMEOUT "forever" in environment variable IDLE_TIMEOUT/],
    [
      { STORAGE: "/var/lib/tp0/bets.csv" },
      /environment variable STORAGE "\/var\/lib\/tp0\/bets\.csv" is no longer read: set STORAGE_DIR/,
    ],
    [{ ADMIN_PORT: "abc" }, /ADMIN_PORT "abc" in environment variable ADMIN_PORT/],
  ];
  for (const [env, message] of cases) {
    await t.step(Object.keys(env)[0]!, () => {
      assert.throws(() => parse(_MINIMAL, env), configError(message));
    });
  }
});

Deno.test("loadServerConfig() reads the file SERVER_CONFIG names, or names the missing one", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/server.ini`;
    await Deno.writeTextFile(path, "[DEFAULT]\nSERVER_PORT = 4321\n");
    const config = await loadServerConfig({ SERVER_CONFIG: path });
    assert.equal(config.file, path);
    assert.equal(config.port, 4321);
    await assert.rejects(
      loadServerConfig({ SERVER_CONFIG: `${dir}/nope.ini` }),
      configError(new RegExp(`cannot read config file ${dir}/nope\\.ini: not found`)),
    );
  });
});
