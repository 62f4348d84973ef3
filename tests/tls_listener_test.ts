/**
 * The TLS port's parts in this process: the agency a certificate names, the
 * checks of the PEM files, and a node:tls socket adapted to the connection
 * interface (short reads, end of stream, half-close, close).
 */

import assert from "node:assert/strict";
import { AGENCIES_MAX } from "../lib/limits.ts";
import { CREDENTIAL_FILES } from "../lib/containers/credentials.ts";
import { makeDevCredentials } from "../lib/dev/dev_credentials.ts";
import { Logger } from "../lib/runtime/log.ts";
import type { PeerIdentity } from "../lib/server/peer_identity.ts";
import type { ServerConn } from "../lib/server/served_connection.ts";
import {
  agencyFromCommonName,
  listenTls,
  loadTlsMaterial,
  type TlsMaterial,
} from "../lib/server/tls_listener.ts";
import { joinBytes } from "./helpers/byte_io.ts";
import { configError } from "./helpers/config_errors.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

Deno.test("agencyFromCommonName() accepts exactly agency-<n> with n in 1..AGENCIES_MAX", async (t) => {
  const cases: [unknown, number | undefined][] = [
    ["agency-1", 1],
    ["agency-42", 42],
    [`agency-${AGENCIES_MAX}`, AGENCIES_MAX],
    [`agency-${AGENCIES_MAX + 1}`, undefined],
    ["agency-0", undefined],
    ["agency-01", undefined],
    ["agency-", undefined],
    ["Agency-1", undefined],
    ["agency-1 ", undefined],
    ["xagency-1", undefined],
    ["server", undefined],
    [["agency-1", "agency-2"], undefined],
    [undefined, undefined],
  ];
  for (const [name, expected] of cases) {
    await t.step(JSON.stringify(name) ?? "undefined", () => {
      assert.equal(agencyFromCommonName(name), expected);
    });
  }
});

/** Runs `body` with development credentials for agencies 1..2 in a temporary directory. */
function withCredentials(body: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir(async (dir) => {
    await makeDevCredentials({ dir, agencies: 2, serverNames: ["127.0.0.1"], days: 1 });
    await body(dir);
  });
}

Deno.test("loadTlsMaterial() reads a certificate with its key, or names the file that is wrong", async () => {
  await withCredentials(async (dir) => {
    const files = {
      certFile: `${dir}/${CREDENTIAL_FILES.serverCert}`,
      keyFile: `${dir}/${CREDENTIAL_FILES.serverKey}`,
      clientCaFile: "",
    };
    const plain = await loadTlsMaterial(files);
    assert.match(plain.cert, /BEGIN CERTIFICATE/);
    assert.equal(plain.clientCa, undefined);
    const withCa = await loadTlsMaterial({
      ...files,
      clientCaFile: `${dir}/${CREDENTIAL_FILES.ca}`,
    });
    assert.match(withCa.clientCa ?? "", /BEGIN CERTIFICATE/);
    await assert.rejects(
      loadTlsMaterial({ ...files, certFile: `${dir}/missing.crt` }),
      configError(/^TLS_CERT_FILE .*missing\.crt cannot be read: not found$/),
    );
    await assert.rejects(
      loadTlsMaterial({ ...files, keyFile: `${dir}/agency-1.key` }),
      configError(/^TLS_KEY_FILE .*agency-1\.key is not the key of TLS_CERT_FILE /),
    );
    await assert.rejects(
      loadTlsMaterial({ ...files, keyFile: files.certFile }),
      configError(/^TLS_KEY_FILE .* holds no PEM private key$/),
    );
    await assert.rejects(
      loadTlsMaterial({ ...files, clientCaFile: files.keyFile }),
      (error: Error) => {
        assert.doesNotMatch(error.message, /BEGIN|PRIVATE KEY-----/, "never quotes a key");
        return configError(/^TLS_CLIENT_CA .* holds no PEM certificate$/)(error);
      },
    );
  });
});

/** Listens with TLS on a free port; every accepted connection goes to `onConn`. */
async function withTlsPort(
  material: TlsMaterial,
  onConn: (conn: ServerConn, identity: PeerIdentity) => void,
  body: (port: number, lines: string[]) => Promise<void>,
): Promise<void> {
  const lines: string[] = [];
  const listener = await listenTls(
    {
      hostname: "127.0.0.1",
      port: 0,
      listenBacklog: 16,
      connectionsMax: 16,
      handshakeTimeoutMs: 5_000,
    },
    material,
    (conn, _ip, identity) => onConn(conn, identity),
    new Logger("DEBUG", (line) => lines.push(line)),
  );
  try {
    await body(listener.port, lines);
  } finally {
    listener.close();
  }
}

/** Reads `count` bytes, or up to the end of the stream when count is undefined. */
async function readBytes(
  conn: { read(buffer: Uint8Array): Promise<number | null> },
  count?: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buffer = new Uint8Array(1000);
  while (count === undefined || total < count) {
    const read = await conn.read(buffer.subarray(0, Math.min(1000, (count ?? 1000) - total)));
    if (read === null) break;
    chunks.push(buffer.slice(0, read));
    total += read;
  }
  return joinBytes(chunks);
}

async function serverMaterial(dir: string, clientCa = false): Promise<TlsMaterial> {
  return await loadTlsMaterial({
    certFile: `${dir}/${CREDENTIAL_FILES.serverCert}`,
    keyFile: `${dir}/${CREDENTIAL_FILES.serverKey}`,
    clientCaFile: clientCa ? `${dir}/${CREDENTIAL_FILES.ca}` : "",
  });
}

async function connectVerified(dir: string, port: number): Promise<Deno.TlsConn> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  return await Deno.startTls(tcp, {
    hostname: "127.0.0.1",
    caCerts: [await Deno.readTextFile(`${dir}/${CREDENTIAL_FILES.ca}`)],
  });
}

Deno.test("TlsSocketConn passes 1.3 MB through its paused and resumed queue, in order", async () => {
  await withCredentials(async (dir) => {
    const payload = crypto.getRandomValues(new Uint8Array(64 * 1024));
    const rounds = 20; // 1.3 MB: far more than TLS_READ_BUFFER_BYTES_MAX
    const served = Promise.withResolvers<Uint8Array>();
    await withTlsPort(await serverMaterial(dir), (conn) => {
      (async () => {
        const received = await readBytes(conn, payload.length * rounds);
        await conn.write(received.subarray(received.length - 7));
        served.resolve(received);
      })().catch(served.reject);
    }, async (port) => {
      const client = await connectVerified(dir, port);
      for (let round = 0; round < rounds; round += 1) {
        let written = 0;
        while (written < payload.length) written += await client.write(payload.subarray(written));
      }
      const answer = await readBytes(client, 7);
      client.close();
      assert.deepEqual(answer, payload.subarray(payload.length - 7));
      const received = await served.promise;
      for (let round = 0; round < rounds; round += 1) {
        const part = received.subarray(round * payload.length, (round + 1) * payload.length);
        assert.ok(part.every((byte, index) => byte === payload[index]), `round ${round} intact`);
      }
    });
  });
});

Deno.test("TlsSocketConn reads null after the peer half-closes, still writes, half-closes itself, then close() ends reads", async () => {
  await withCredentials(async (dir) => {
    const served = Promise.withResolvers<Uint8Array>();
    await withTlsPort(await serverMaterial(dir), (conn, identity) => {
      (async () => {
        assert.deepEqual(identity, {});
        const received = await readBytes(conn);
        await conn.write(received);
        await conn.closeWrite();
        const pending = conn.read(new Uint8Array(1));
        conn.close();
        conn.close();
        assert.equal(await pending, null, "the end already read stays the end");
        await assert.rejects(conn.write(new Uint8Array(1)), Deno.errors.BrokenPipe);
        served.resolve(received);
      })().catch(served.reject);
    }, async (port) => {
      const client = await connectVerified(dir, port);
      await client.write(new TextEncoder().encode("hola\n"));
      await client.closeWrite();
      const answer = await readBytes(client);
      client.close();
      assert.equal(new TextDecoder().decode(answer), "hola\n");
      assert.equal(new TextDecoder().decode(await served.promise), "hola\n");
    });
  });
});

Deno.test("listenTls() with a client CA binds a connection to its certificate's agency and logs refused handshakes", async () => {
  await withCredentials(async (dir) => {
    const material = await serverMaterial(dir, true);
    const identities: PeerIdentity[] = [];
    await withTlsPort(material, (conn, identity) => {
      identities.push(identity);
      conn.close();
    }, async (port, lines) => {
      const ca = await Deno.readTextFile(`${dir}/${CREDENTIAL_FILES.ca}`);
      const withCert = await Deno.connectTls({
        hostname: "127.0.0.1",
        port,
        caCerts: [ca],
        cert: await Deno.readTextFile(`${dir}/agency-2.crt`),
        key: await Deno.readTextFile(`${dir}/agency-2.key`),
      });
      assert.equal(await withCert.read(new Uint8Array(1)), null, "the sink closed it");
      withCert.close();
      assert.deepEqual(identities, [{ certifiedAgency: 2 }]);

      const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
      const without = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts: [ca] });
      await assert.rejects(without.read(new Uint8Array(1)), /CertificateRequired/);
      without.close();
      for (let waited = 0; !lines.some((line) => line.includes("tls_handshake")); waited += 10) {
        assert.ok(waited < 5_000, "a tls_handshake line within 5 s");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.match(lines.join("\n"), /WARNING +action: tls_handshake \| result: fail \| ip: /);
      assert.equal(identities.length, 1, "no connection without a certificate");
    });
  });
});
