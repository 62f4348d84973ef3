/**
 * The TLS port with the real server and clients as processes on 127.0.0.1:
 * agencies verify the server, a wrong CA is refused, client certificates
 * bind a connection to its agency, and a hello secret read from a file
 * crosses only TLS and shows up in no log line.
 */

import assert from "node:assert/strict";
import { localBetsPath } from "./helpers/storage.ts";
import { hasWon } from "../lib/bet/bet.ts";
import { loadBets } from "../lib/store/bets_file_reader.ts";
import {
  agencyCertFile,
  agencyKeyFile,
  agencySecretFile,
  CREDENTIAL_FILES,
} from "../lib/containers/credentials.ts";
import { writeAgencyFile } from "../lib/dev/agency_file.ts";
import { makeDevCredentials } from "../lib/dev/dev_credentials.ts";
import { fieldOf, linesOf, runLocalClient, startLocalServer } from "../lib/dev/local_cluster.ts";
import { probeEcho } from "../lib/protocol/echo_probe.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

/** Bets per agency (two full batches and a partial one) and winners among them. */
const _BETS = 230;
const _WINNERS = 2;

interface _Setup {
  dir: string;
  /** Credentials of `deno task certs` for agencies 1..3. */
  credentials: string;
  data: (agency: number) => string;
}

/** Runs `body` with credentials and agency files 1..3 in a temporary directory. */
function withSetup(body: (setup: _Setup) => Promise<void>): Promise<void> {
  return withTempDir(async (dir) => {
    const credentials = `${dir}/credentials`;
    await makeDevCredentials({
      dir: credentials,
      agencies: 3,
      serverNames: ["127.0.0.1", "localhost"],
      days: 1,
    });
    for (let agency = 1; agency <= 3; agency += 1) {
      await writeAgencyFile(
        { agencies: 3, bets: _BETS, winners: _WINNERS, seed: 5, out: `${dir}/data` },
        agency,
      );
    }
    await body({ dir, credentials, data: (agency) => `${dir}/data/agency-${agency}.csv` });
  });
}

function serverTlsEnv(credentials: string, clientCa: boolean): Record<string, string> {
  return {
    TLS_PORT: "0",
    TLS_CERT_FILE: `${credentials}/${CREDENTIAL_FILES.serverCert}`,
    TLS_KEY_FILE: `${credentials}/${CREDENTIAL_FILES.serverKey}`,
    ...(clientCa ? { TLS_CLIENT_CA: `${credentials}/${CREDENTIAL_FILES.ca}` } : {}),
  };
}

function tlsPortOf(lines: readonly string[]): number {
  const port = Number(fieldOf(linesOf(lines, "listen")[0] ?? "", "tls_port"));
  assert.ok(port > 0, `a tls_port in the listen line: ${lines.join("\n")}`);
  return port;
}

function clientEnv(setup: _Setup, agency: number, port: number, extra: Record<string, string>) {
  return {
    CLI_ID: String(agency),
    CLI_SERVER_ADDRESS: `127.0.0.1:${port}`,
    CLI_DATA_FILE: setup.data(agency),
    CLI_RECONNECT_BUDGET: "5s",
    ...extra,
  };
}

async function storedPerAgency(storage: string): Promise<Map<number, [number, number]>> {
  const stored = new Map<number, [number, number]>();
  for await (const bet of loadBets(storage)) {
    const [bets, winners] = stored.get(bet.agency) ?? [0, 0];
    stored.set(bet.agency, [bets + 1, winners + (hasWon(bet) ? 1 : 0)]);
  }
  return stored;
}

Deno.test("agencies on the TLS port verify the server and get their winners; the plain port still echoes", async () => {
  await withSetup(async (setup) => {
    const storage = localBetsPath(setup.dir);
    const server = await startLocalServer({
      STORAGE_DIR: setup.dir,
      AGENCIES: "2",
      ...serverTlsEnv(setup.credentials, false),
    });
    const tlsPort = tlsPortOf(server.lines);
    const ca = { CLI_SERVER_TLS_CA: `${setup.credentials}/${CREDENTIAL_FILES.ca}` };
    try {
      const runs = await Promise.all(
        [1, 2].map((agency) => runLocalClient(clientEnv(setup, agency, tlsPort, ca))),
      );
      for (const run of runs) {
        assert.equal(run.code, 0, run.lines.join("\n"));
        assert.equal(fieldOf(linesOf(run.lines, "consulta_ganadores")[0]!, "cant_ganadores"), "2");
        assert.match(linesOf(run.lines, "config")[0]!, /server_tls_ca: .*ca\.crt/);
      }
      const echo = await probeEcho({
        hostname: "127.0.0.1",
        port: server.port,
        message: "hola",
        timeoutMs: 5_000,
      });
      assert.ok(echo.ok, "the plain port answers the netcat health check");
    } finally {
      assert.equal(await server.stop(), 0);
    }
    assert.deepEqual(
      await storedPerAgency(storage),
      new Map([[1, [_BETS, _WINNERS]], [2, [_BETS, _WINNERS]]]),
    );
    assert.match(linesOf(server.lines, "listen")[0]!, /client_certificates: none/);
    assert.equal(linesOf(server.lines, "sorteo").length, 1);
  });
});

Deno.test("an agency whose CA did not sign the server's certificate refuses it at once and sends nothing", async () => {
  await withSetup(async (setup) => {
    const other = `${setup.dir}/other`;
    await makeDevCredentials({ dir: other, agencies: 0, serverNames: ["127.0.0.1"], days: 1 });
    const storage = localBetsPath(setup.dir);
    const server = await startLocalServer({
      STORAGE_DIR: setup.dir,
      AGENCIES: "1",
      ...serverTlsEnv(setup.credentials, false),
    });
    let run;
    try {
      run = await runLocalClient(
        clientEnv(setup, 1, tlsPortOf(server.lines), {
          CLI_SERVER_TLS_CA: `${other}/${CREDENTIAL_FILES.ca}`,
          CLI_RECONNECT_BUDGET: "30s",
        }),
      );
    } finally {
      assert.equal(await server.stop(), 0);
    }
    assert.equal(run.code, 1, run.lines.join("\n"));
    const failure = linesOf(run.lines, "upload", "fail")[0] ?? "";
    assert.match(failure, /TLS handshake refused: invalid peer certificate: UnknownIssuer/);
    assert.equal(linesOf(run.lines, "connect", "in_progress").length, 0, "not retried");
    assert.equal(linesOf(server.lines, "hello").length, 0);
    assert.match(linesOf(server.lines, "tls_handshake", "fail")[0] ?? "", /ip: 127\.0\.0\.1/);
    assert.deepEqual(await storedPerAgency(storage), new Map());
  });
});

Deno.test("with TLS_CLIENT_CA a certificate for agency 2 cannot say hello as agency 3, nor can no certificate", async () => {
  await withSetup(async (setup) => {
    const storage = localBetsPath(setup.dir);
    const server = await startLocalServer({
      STORAGE_DIR: setup.dir,
      AGENCIES: "3",
      ...serverTlsEnv(setup.credentials, true),
    });
    const tlsPort = tlsPortOf(server.lines);
    const certOf = (agency: number) => ({
      CLI_SERVER_TLS_CA: `${setup.credentials}/${CREDENTIAL_FILES.ca}`,
      CLI_SERVER_TLS_CERT: `${setup.credentials}/${agencyCertFile(agency)}`,
      CLI_SERVER_TLS_KEY: `${setup.credentials}/${agencyKeyFile(agency)}`,
    });
    try {
      const impostor = await runLocalClient(clientEnv(setup, 3, tlsPort, certOf(2)));
      assert.equal(impostor.code, 1, impostor.lines.join("\n"));
      assert.match(
        linesOf(impostor.lines, "carga_finalizada", "fail")[0] ?? "",
        /authenticationFailed: the client certificate names agency 2, not 3/,
      );
      const anonymous = await runLocalClient(
        clientEnv(setup, 3, tlsPort, {
          CLI_SERVER_TLS_CA: `${setup.credentials}/${CREDENTIAL_FILES.ca}`,
        }),
      );
      assert.equal(anonymous.code, 1, anonymous.lines.join("\n"));
      assert.match(linesOf(anonymous.lines, "upload", "fail")[0] ?? "", /CertificateRequired/);
      const own = await Promise.all(
        [1, 2, 3].map((agency) =>
          runLocalClient(clientEnv(setup, agency, tlsPort, certOf(agency)))
        ),
      );
      for (const run of own) assert.equal(run.code, 0, run.lines.join("\n"));
    } finally {
      assert.equal(await server.stop(), 0);
    }
    assert.match(linesOf(server.lines, "listen")[0]!, /client_certificates: required/);
    assert.match(
      linesOf(server.lines, "protocol_error", "fail")[0] ?? "",
      /agency: 0 \| code: authenticationFailed \| error: the client certificate names agency 2, not 3/,
    );
    const stored = await storedPerAgency(storage);
    assert.deepEqual(stored.get(3), [_BETS, _WINNERS], "agency 3 stored only its own bets, once");
    assert.equal(stored.size, 3);
  });
});

Deno.test("a hello secret from CLI_SECRET_FILE crosses only TLS, and no log line holds it", async () => {
  await withSetup(async (setup) => {
    const storage = localBetsPath(setup.dir);
    const secretsFile = `${setup.credentials}/${CREDENTIAL_FILES.serverSecrets}`;
    const server = await startLocalServer({
      STORAGE_DIR: setup.dir,
      AGENCIES: "1",
      SECRETS_FILE: secretsFile,
      LOGGING_LEVEL: "DEBUG",
      ...serverTlsEnv(setup.credentials, false),
    });
    const secretFile = `${setup.credentials}/${agencySecretFile(1)}`;
    const secret = (await Deno.readTextFile(secretFile)).trim();
    let plain;
    let tls;
    try {
      plain = await runLocalClient(
        clientEnv(setup, 1, server.port, { CLI_SECRET_FILE: secretFile }),
      );
      tls = await runLocalClient(
        clientEnv(setup, 1, tlsPortOf(server.lines), {
          CLI_SECRET_FILE: secretFile,
          CLI_SERVER_TLS_CA: `${setup.credentials}/${CREDENTIAL_FILES.ca}`,
          CLI_LOG_LEVEL: "DEBUG",
        }),
      );
    } finally {
      assert.equal(await server.stop(), 0);
    }
    assert.equal(plain.code, 1, plain.lines.join("\n"));
    assert.match(
      linesOf(plain.lines, "carga_finalizada", "fail")[0] ?? "",
      /authenticationFailed: agencies with secrets say hello on the TLS port only/,
    );
    assert.equal(tls.code, 0, tls.lines.join("\n"));
    assert.match(linesOf(tls.lines, "config")[0]!, /secret_file: .*agency-1\.secret/);
    assert.deepEqual((await storedPerAgency(storage)).get(1), [_BETS, _WINNERS]);
    assert.ok(secret.length >= 40, "a generated secret");
    for (const line of [...server.lines, ...plain.lines, ...tls.lines]) {
      assert.ok(!line.includes(secret), `a log line holds the secret: ${line}`);
    }
  });
});
