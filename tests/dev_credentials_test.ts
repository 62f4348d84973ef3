import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { parseCertsArgs } from "../tools/certs.ts";
import { parseAgencySecrets } from "../lib/server/agency_secrets.ts";
import {
  agencyCertFile,
  agencyKeyFile,
  agencySecretFile,
  CREDENTIAL_FILES,
} from "../lib/containers/credentials.ts";
import {
  CERT_DAYS_DEFAULT,
  CREDENTIAL_AGENCIES_MAX,
  makeDevCredentials,
  SERVER_NAMES_DEFAULT,
  subjectAltName,
} from "../lib/dev/dev_credentials.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

Deno.test("subjectAltName() marks IPv4 and IPv6 addresses as IP, everything else as DNS", () => {
  assert.equal(
    subjectAltName(["server", "127.0.0.1", "::1", "central.example"]),
    "DNS:server,IP:127.0.0.1,IP:::1,DNS:central.example",
  );
});

Deno.test("makeDevCredentials() writes a CA, the server's certificate and each agency's certificate and secret", async () => {
  await withTempDir(async (root) => {
    const dir = `${root}/secrets`;
    const written = await makeDevCredentials({
      dir,
      agencies: 2,
      serverNames: ["server", "127.0.0.1"],
      days: 2,
    });
    assert.deepEqual(
      written.sort(),
      [
        CREDENTIAL_FILES.ca,
        CREDENTIAL_FILES.caKey,
        CREDENTIAL_FILES.serverCert,
        CREDENTIAL_FILES.serverKey,
        agencyCertFile(1),
        agencyKeyFile(1),
        agencySecretFile(1),
        agencyCertFile(2),
        agencyKeyFile(2),
        agencySecretFile(2),
        CREDENTIAL_FILES.serverSecrets,
      ].sort(),
    );
    const files = [];
    for await (const entry of Deno.readDir(dir)) files.push(entry.name);
    assert.deepEqual(files.sort(), written.sort(), "no leftovers (requests, serial, extfiles)");
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    for (const name of written.filter((name) => /\.(key|secret|secrets)$/.test(name))) {
      assert.equal((await Deno.stat(`${dir}/${name}`)).mode! & 0o777, 0o600, name);
    }
    const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
    const ca = new X509Certificate(await read(CREDENTIAL_FILES.ca));
    const server = new X509Certificate(await read(CREDENTIAL_FILES.serverCert));
    const agency = new X509Certificate(await read(agencyCertFile(2)));
    assert.ok(ca.ca);
    assert.ok(server.checkIssued(ca) && agency.checkIssued(ca), "the CA signed both");
    assert.equal(server.subject, "CN=server");
    assert.match(server.subjectAltName ?? "", /DNS:server, IP Address:127\.0\.0\.1/);
    assert.equal(agency.subject, "CN=agency-2");
    const secrets = parseAgencySecrets(await read(CREDENTIAL_FILES.serverSecrets), "x");
    assert.deepEqual([...secrets.keys()], [1, 2]);
    assert.equal(secrets.get(2), (await read(agencySecretFile(2))).trim());
    assert.notEqual(secrets.get(1), secrets.get(2));
    assert.match(secrets.get(1)!, /^[A-Za-z0-9_-]{43}$/);
  });
});

Deno.test("makeDevCredentials() refuses bad counts, days and names before running openssl", async (t) => {
  const base = { dir: "/nonexistent/never-made", agencies: 1, serverNames: ["server"], days: 1 };
  const cases: [string, Partial<typeof base>, RegExp][] = [
    ["agencies above the maximum", { agencies: CREDENTIAL_AGENCIES_MAX + 1 }, /0\.\.1000/],
    ["0 days", { days: 0 }, /1\.\.3650/],
    ["no server name", { serverNames: [] }, /expected DNS names or IP addresses/],
    ["a name with a comma", { serverNames: ["a,DNS:b"] }, /"a,DNS:b"/],
  ];
  for (const [name, change, pattern] of cases) {
    await t.step(name, async () => {
      await assert.rejects(makeDevCredentials({ ...base, ...change }), RangeError);
      await assert.rejects(makeDevCredentials({ ...base, ...change }), pattern);
    });
  }
});

Deno.test("parseCertsArgs() defaults to 5 agencies in secrets/ and takes N, --out, --server-name, --days", () => {
  assert.deepEqual(parseCertsArgs([]), {
    dir: "secrets",
    agencies: 5,
    serverNames: [...SERVER_NAMES_DEFAULT],
    days: CERT_DAYS_DEFAULT,
  });
  assert.deepEqual(
    parseCertsArgs(["--", "0", "--out", "x", "--server-name", "a", "--server-name", "b"]),
    { dir: "x", agencies: 0, serverNames: ["a", "b"], days: CERT_DAYS_DEFAULT },
  );
  assert.equal(parseCertsArgs(["--help"]), "help");
  assert.throws(() => parseCertsArgs(["1001"]), /N "1001" is not a whole number in 0\.\.1000/);
  assert.throws(() => parseCertsArgs(["1", "2"]), /at most one argument N/);
});
