import assert from "node:assert/strict";
import {
  CLIENT_CONFIG_KEYS,
  type ClientConfig,
  loadClientConfig,
  loadClientTls,
  parseClientConfig,
  parseServerAddress,
} from "../lib/config/client_config.ts";
import {
  BATCH_BETS_DEFAULT,
  BATCH_BETS_MAX,
  BATCH_WINDOW_DEFAULT,
  BATCH_WINDOW_MAX,
  SECRET_BYTES_MAX,
} from "../lib/limits.ts";
import { configError } from "./helpers/config_errors.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const _FILE = "config/client.yaml";
const _MINIMAL = 'server:\n  address: "server:12345"\n';

/** What client.yaml without optional keys yields for agency `id`. */
function defaults(id: number): ClientConfig {
  return {
    file: _FILE,
    id,
    mode: "lottery",
    serverAddress: "server:12345",
    serverHost: "server",
    serverPort: 12345,
    loopAmount: 5,
    loopPeriod: { text: "5s", ms: 5_000 },
    logLevel: "INFO",
    batchMaxAmount: BATCH_BETS_DEFAULT,
    batchWindow: BATCH_WINDOW_DEFAULT,
    dataFile: `data/agency-${id}.csv`,
    reconnectBudget: { text: "30s", ms: 30_000 },
    secret: "",
    secretFile: "",
    tls: undefined,
  };
}

/** Parses `text` as _FILE with CLI_ID=1 unless `env` says otherwise. */
function parse(text: string, env: Record<string, string> = {}): ClientConfig {
  return parseClientConfig(text, _FILE, { CLI_ID: "1", ...env });
}

Deno.test("parseClientConfig() reads the committed config/client.yaml with CLI_ID", async () => {
  const file = new URL("../config/client.yaml", import.meta.url);
  const config = parseClientConfig(await Deno.readTextFile(file), _FILE, { CLI_ID: "3" });
  // The committed file spells out the defaults.
  assert.deepEqual(config, defaults(3));
});

Deno.test("parseClientConfig() fills defaults for every key but id and server.address", () => {
  assert.deepEqual(parse(_MINIMAL), defaults(1));
});

Deno.test("parseClientConfig() keeps loop.period as written", async (t) => {
  const cases: [string, Record<string, string>, string, number][] = [
    ['loop:\n  period: "100ms"\n', {}, "100ms", 100],
    ["loop:\n  period: 100ms\n", {}, "100ms", 100],
    ["loop:\n  period: 1.5s\n", {}, "1.5s", 1_500],
    ["", { CLI_LOOP_PERIOD: "100ms" }, "100ms", 100],
  ];
  for (const [yaml, env, text, ms] of cases) {
    await t.step(JSON.stringify(yaml || env), () => {
      assert.deepEqual(parse(_MINIMAL + yaml, env).loopPeriod, { text, ms });
    });
  }
});

Deno.test("parseClientConfig() lets every CLI_* variable win over the file", async (t) => {
  const file = [
    "id: 9",
    "mode: echo",
    "server:",
    '  address: "server:12345"',
    "loop:",
    "  amount: 5",
    "  period: 5s",
    "log:",
    "  level: INFO",
    "batch:",
    "  maxAmount: 100",
    "  window: 64",
    "data:",
    "  file: data/mine.csv",
    "reconnect:",
    "  budget: 30s",
  ].join("\n");
  const cases: [string, string, Partial<ClientConfig>][] = [
    ["CLI_ID", "4", { id: 4 }],
    ["CLI_MODE", "bet", { mode: "bet" }],
    ["CLI_SERVER_ADDRESS", "127.0.0.1:4000", {
      serverAddress: "127.0.0.1:4000",
      serverHost: "127.0.0.1",
      serverPort: 4000,
    }],
    ["CLI_LOOP_AMOUNT", "0", { loopAmount: 0 }],
    ["CLI_LOOP_PERIOD", "100ms", { loopPeriod: { text: "100ms", ms: 100 } }],
    ["CLI_LOG_LEVEL", "debug", { logLevel: "DEBUG" }],
    ["CLI_BATCH_MAXAMOUNT", "7", { batchMaxAmount: 7 }],
    ["CLI_BATCH_WINDOW", "1", { batchWindow: 1 }],
    ["CLI_DATA_FILE", "/data/agency-2.csv", { dataFile: "/data/agency-2.csv" }],
    ["CLI_RECONNECT_BUDGET", "2m", { reconnectBudget: { text: "2m", ms: 120_000 } }],
    ["CLI_SECRET", "s3cr3t", { secret: "s3cr3t" }],
    ["CLI_SECRET_FILE", "/run/secrets/agency", { secretFile: "/run/secrets/agency" }],
    ["CLI_SERVER_TLS_CA", "/t/other.crt", { tls: { ..._TLS, caFile: "/t/other.crt" } }],
    ["CLI_SERVER_TLS_CERT", "/t/b.crt", { tls: { ..._TLS, certFile: "/t/b.crt" } }],
    ["CLI_SERVER_TLS_KEY", "/t/b.key", { tls: { ..._TLS, keyFile: "/t/b.key" } }],
  ];
  assert.deepEqual(
    cases.map(([name]) => name),
    Object.values(CLIENT_CONFIG_KEYS),
    "every variable is covered",
  );
  for (const [name, value, expected] of cases) {
    await t.step(`${name}=${value}`, () => {
      // The TLS keys only count together: each case starts from a complete TLS setup.
      const env = name.startsWith("CLI_SERVER_TLS_") ? _TLS_ENV : {};
      const base = parseClientConfig(file, _FILE, env);
      assert.deepEqual(
        parseClientConfig(file, _FILE, { ...env, [name]: value }),
        { ...base, ...expected },
      );
    });
  }
});

/** A complete client TLS setup in the environment, and what it parses to. */
const _TLS_ENV = {
  CLI_SERVER_TLS_CA: "/t/ca.crt",
  CLI_SERVER_TLS_CERT: "/t/a.crt",
  CLI_SERVER_TLS_KEY: "/t/a.key",
};
const _TLS = { caFile: "/t/ca.crt", certFile: "/t/a.crt", keyFile: "/t/a.key" };

Deno.test("parseClientConfig() turns TLS on with server.tls.ca; cert and key come together", async (t) => {
  await t.step("a CA alone verifies the server, shows no certificate", () => {
    assert.deepEqual(parse(`${_MINIMAL}  tls:\n    ca: /t/ca.crt\n`).tls, {
      caFile: "/t/ca.crt",
      certFile: "",
      keyFile: "",
    });
  });
  const refusals: [string, Record<string, string>, RegExp][] = [
    ["a cert without its key", { ..._TLS_ENV, CLI_SERVER_TLS_KEY: "" }, /must be set together/],
    ["a key without its cert", { ..._TLS_ENV, CLI_SERVER_TLS_CERT: "" }, /must be set together/],
    [
      "a cert and key without a CA",
      { ..._TLS_ENV, CLI_SERVER_TLS_CA: "" },
      /server\.tls\.ca .* is not/,
    ],
    ["secret beside secretFile", { CLI_SECRET: "x", CLI_SECRET_FILE: "/s" }, /keep one/],
  ];
  for (const [name, env, pattern] of refusals) {
    await t.step(`refuses ${name}`, () => {
      assert.throws(() => parse(_MINIMAL, env), configError(pattern));
    });
  }
});

Deno.test("loadClientConfig() reads the secret from secretFile, never quoting it in errors", async () => {
  await withTempDir(async (dir) => {
    const config = `${dir}/client.yaml`;
    await Deno.writeTextFile(config, _MINIMAL);
    const load = (secretFile: string) =>
      loadClientConfig({ CLI_CONFIG: config, CLI_ID: "2", CLI_SECRET_FILE: secretFile });
    await Deno.writeTextFile(`${dir}/one`, "k3j4-9xq2\n");
    assert.equal((await load(`${dir}/one`)).secret, "k3j4-9xq2");
    await Deno.writeTextFile(`${dir}/max`, `${"s".repeat(SECRET_BYTES_MAX)}\n`);
    assert.equal((await load(`${dir}/max`)).secret.length, SECRET_BYTES_MAX);
    await Deno.writeTextFile(`${dir}/long`, "s".repeat(SECRET_BYTES_MAX + 1));
    await assert.rejects(load(`${dir}/long`), configError(/longer than 255 bytes/));
    await Deno.writeTextFile(`${dir}/empty`, "\n");
    await assert.rejects(load(`${dir}/empty`), configError(/must hold one non-empty line/));
    await Deno.writeTextFile(`${dir}/two`, "hidden-one\nhidden-two\n");
    await assert.rejects(load(`${dir}/two`), (error: Error) => {
      assert.doesNotMatch(error.message, /hidden/);
      return configError(/must hold one non-empty line/)(error);
    });
    await assert.rejects(
      load(`${dir}/missing`),
      configError(/missing \(CLI_SECRET_FILE\) cannot be read: not found/),
    );
  });
});

Deno.test("loadClientTls() reads the PEM files or names the one that is missing or not PEM", async () => {
  await withTempDir(async (dir) => {
    const cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const key = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
    await Deno.writeTextFile(`${dir}/ca.crt`, cert);
    await Deno.writeTextFile(`${dir}/a.crt`, cert);
    await Deno.writeTextFile(`${dir}/a.key`, key);
    const files = { caFile: `${dir}/ca.crt`, certFile: `${dir}/a.crt`, keyFile: `${dir}/a.key` };
    assert.deepEqual(await loadClientTls({ ...files, certFile: "", keyFile: "" }), {
      caCerts: [cert],
    });
    assert.deepEqual(await loadClientTls(files), { caCerts: [cert], cert, key });
    await assert.rejects(
      loadClientTls({ ...files, caFile: `${dir}/nope` }),
      configError(/^server\.tls\.ca .*nope cannot be read: not found$/),
    );
    await assert.rejects(
      loadClientTls({ ...files, keyFile: `${dir}/a.crt` }),
      configError(/^server\.tls\.key .* holds no PEM private key$/),
    );
  });
});

Deno.test("parseClientConfig() accepts every numeric key at its bounds and keeps the value", async (t) => {
  const cases: [string, Record<string, string>, Partial<ClientConfig>][] = [
    ["CLI_ID 1", { CLI_ID: "1" }, { id: 1 }],
    ["CLI_ID 100000", { CLI_ID: "100000" }, {
      id: 100_000,
      dataFile: "data/agency-100000.csv",
    }],
    ["loop.amount 0", { CLI_LOOP_AMOUNT: "0" }, { loopAmount: 0 }],
    ["loop.amount 1000000", { CLI_LOOP_AMOUNT: "1000000" }, { loopAmount: 1_000_000 }],
    ["loop.period 0ms", { CLI_LOOP_PERIOD: "0ms" }, { loopPeriod: { text: "0ms", ms: 0 } }],
    ["loop.period 1h", { CLI_LOOP_PERIOD: "1h" }, { loopPeriod: { text: "1h", ms: 3_600_000 } }],
    ["batch.maxAmount 1", { CLI_BATCH_MAXAMOUNT: "1" }, { batchMaxAmount: 1 }],
    ["batch.maxAmount max", { CLI_BATCH_MAXAMOUNT: String(BATCH_BETS_MAX) }, {
      batchMaxAmount: BATCH_BETS_MAX,
    }],
    ["batch.window 1", { CLI_BATCH_WINDOW: "1" }, { batchWindow: 1 }],
    ["batch.window max", { CLI_BATCH_WINDOW: String(BATCH_WINDOW_MAX) }, {
      batchWindow: BATCH_WINDOW_MAX,
    }],
  ];
  for (const [name, env, expected] of cases) {
    await t.step(name, () => {
      assert.deepEqual(parse(_MINIMAL, env), { ...defaults(1), ...expected });
    });
  }
});

Deno.test("parseClientConfig() rejects a bad file value with one line naming the key and the file", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["negative loop amount", "loop:\n  amount: -1\n", /loop\.amount "-1" in config\/client\.yaml/],
    ["fractional loop amount", "loop:\n  amount: 1.5\n", /loop\.amount "1\.5"/],
    ["text loop amount", "loop:\n  amount: many\n", /loop\.amount "many"/],
    ["period without unit", "loop:\n  period: 5\n", /loop\.period "5" in config\/client\.yaml/],
    ["unknown level", "log:\n  level: LOUD\n", /log\.level "LOUD" in config\/client\.yaml/],
    ["batch of 0", "batch:\n  maxAmount: 0\n", /batch\.maxAmount "0"/],
    ["batch above u16", "batch:\n  maxAmount: 65536\n", /batch\.maxAmount "65536"/],
    ["window above max", "batch:\n  window: 4097\n", /batch\.window "4097"/],
    ["unknown key", "loop:\n  amont: 5\n", /unknown key loop\.amont in config\/client\.yaml/],
    ["unknown section", "extra: 1\n", /unknown key extra in config\/client\.yaml/],
    ["unknown mode", "mode: party\n", /mode "party" in config\/client\.yaml or CLI_MODE/],
    ["list where a value belongs", "loop:\n  amount: [1, 2]\n", /loop\.amount/],
    ["bad budget", "reconnect:\n  budget: soon\n", /reconnect\.budget "soon"/],
  ];
  for (const [name, yaml, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => parse(_MINIMAL + yaml), configError(message));
    });
  }
});

Deno.test("parseClientConfig() rejects a bad server.address naming the key, the file and the variable", async (t) => {
  for (const address of ["server", ":12345", "server:", "server:abc", "server:0", "server:65536"]) {
    await t.step(address, () => {
      assert.throws(
        () => parse(`server:\n  address: "${address}"\n`),
        configError(
          new RegExp(`server\\.address "${address}" in config/client\\.yaml or CLI_SERVER_ADDRESS`),
        ),
      );
    });
  }
  await t.step("missing", () => {
    assert.throws(
      () => parse(""),
      configError(
        /server\.address is missing in config\/client\.yaml \(or set CLI_SERVER_ADDRESS\)/,
      ),
    );
  });
});

Deno.test("parseClientConfig() names CLI_ID when the agency number is missing or bad", async (t) => {
  await t.step("missing", () => {
    assert.throws(
      () => parseClientConfig(_MINIMAL, _FILE, {}),
      configError(/id is missing in config\/client\.yaml \(or set CLI_ID\)/),
    );
  });
  for (const id of ["0", "100001", "one", "-3"]) {
    await t.step(`CLI_ID=${id}`, () => {
      assert.throws(
        () => parse(_MINIMAL, { CLI_ID: id }),
        configError(new RegExp(`id "${id}" in environment variable CLI_ID`)),
      );
    });
  }
});

Deno.test("parseClientConfig() rejects YAML that does not parse, naming the file", () => {
  assert.throws(
    () => parse("server: [unclosed\n"),
    configError(/cannot parse config\/client\.yaml/),
  );
});

Deno.test("parseClientConfig() reads a file of only comments as no keys set", () => {
  assert.throws(
    () => parse("# nothing here\n"),
    configError(/server\.address is missing in config\/client\.yaml/),
  );
});

Deno.test("parseClientConfig() rejects a file holding two YAML documents", () => {
  assert.throws(
    () => parse('server:\n  address: "a:1"\n---\nid: 2\n'),
    configError(/cannot parse config\/client\.yaml: it holds 2 YAML documents, not one/),
  );
});

Deno.test("parseServerAddress() splits host and port, IPv6 brackets removed", async (t) => {
  const cases: [string, string, number][] = [
    ["server:12345", "server", 12345],
    ["127.0.0.1:1", "127.0.0.1", 1],
    ["localhost:65535", "localhost", 65535],
    ["[::1]:8080", "::1", 8080],
  ];
  for (const [address, host, port] of cases) {
    await t.step(address, () => {
      assert.deepEqual(parseServerAddress(address, "test"), { host, port });
    });
  }
});

Deno.test("loadClientConfig() reads the file CLI_CONFIG names, or names the missing one", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/client.yaml`;
    await Deno.writeTextFile(path, 'server:\n  address: "127.0.0.1:9000"\n');
    const config = await loadClientConfig({ CLI_CONFIG: path, CLI_ID: "2" });
    assert.equal(config.file, path);
    assert.equal(config.serverPort, 9000);
    assert.equal(config.dataFile, "data/agency-2.csv");
    await assert.rejects(
      loadClientConfig({ CLI_CONFIG: `${dir}/nope.yaml`, CLI_ID: "2" }),
      configError(new RegExp(`cannot read config file ${dir}/nope\\.yaml: not found`)),
    );
  });
});
