/**
 * What the TLS port's transport costs, without the lottery on top: one
 * process, 127.0.0.1, the same client (Deno) against four servers: plain
 * Deno.listen, Deno.listenTls (cannot verify client certificates), node:tls
 * through the server's TlsSocketConn adapter, and the same with a client
 * certificate required and verified. Per server: bulk throughput of one
 * connection, connect + handshake + one-byte round trip, and a small-write
 * round trip.
 *
 * deno run --allow-all bench/tls_transport.ts [--mb 200] [--connects 200]
 */

import tls from "node:tls";
import { parseArgs } from "node:util";
import { CREDENTIAL_FILES } from "../lib/containers/credentials.ts";
import { makeDevCredentials } from "../lib/dev/dev_credentials.ts";
import type { ServerConn } from "../lib/server/served_connection.ts";
import { TlsSocketConn } from "../lib/server/tls_listener.ts";
import { wholeNumberFlag } from "../lib/runtime/task_args.ts";

const _SERVERS = ["plain", "deno-tls", "node-tls", "node-tls+client-cert"] as const;
type _Server = typeof _SERVERS[number];

/** Small round trips timed per server. */
const _ROUND_TRIPS = 500;

type _Handler = (conn: ServerConn) => void;

async function _listen(kind: _Server, pem: (name: string) => string, onConn: () => _Handler) {
  if (kind === "plain" || kind === "deno-tls") {
    const listener = kind === "plain"
      ? Deno.listen({ hostname: "127.0.0.1", port: 0 })
      : Deno.listenTls({
        hostname: "127.0.0.1",
        port: 0,
        cert: pem(CREDENTIAL_FILES.serverCert),
        key: pem(CREDENTIAL_FILES.serverKey),
      });
    (async () => {
      for await (const conn of listener) {
        if (kind === "plain") (conn as Deno.TcpConn).setNoDelay(true);
        onConn()(conn);
      }
    })();
    return { port: listener.addr.port, close: () => listener.close() };
  }
  const server = tls.createServer({
    cert: pem(CREDENTIAL_FILES.serverCert),
    key: pem(CREDENTIAL_FILES.serverKey),
    allowHalfOpen: true,
    ...(kind === "node-tls+client-cert"
      ? { ca: pem(CREDENTIAL_FILES.ca), requestCert: true, rejectUnauthorized: true }
      : {}),
  }, (socket) => {
    socket.setNoDelay(true);
    onConn()(new TlsSocketConn(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : 0,
    close: () => server.close(),
  };
}

/** Connects as the client does (lib/client/connect_retry.ts). */
async function _connect(kind: _Server, port: number, pem: (name: string) => string) {
  if (kind === "plain") {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return conn;
  }
  const caCerts = [pem(CREDENTIAL_FILES.ca)];
  if (kind === "node-tls+client-cert") {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port,
      caCerts,
      cert: pem("agency-1.crt"),
      key: pem("agency-1.key"),
    });
    await conn.handshake();
    return conn;
  }
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  tcp.setNoDelay(true);
  const conn = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts });
  await conn.handshake();
  return conn;
}

async function _writeAll(conn: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

async function _measure(kind: _Server, dir: string, bytes: number, connects: number) {
  const pem = (name: string) => Deno.readTextFileSync(`${dir}/${name}`);
  let handler: _Handler = () => {};
  const listener = await _listen(kind, pem, () => handler);
  try {
    // Bulk: the server reads `bytes`, then answers one byte.
    handler = (conn) => {
      (async () => {
        const buffer = new Uint8Array(64 * 1024);
        for (let read = 0; read < bytes;) read += (await conn.read(buffer)) ?? bytes;
        await _writeAll(conn, new Uint8Array(1));
      })().catch(() => {});
    };
    const bulk = await _connect(kind, listener.port, pem);
    const chunk = new Uint8Array(64 * 1024).fill(7);
    let started = performance.now();
    for (let sent = 0; sent < bytes; sent += chunk.length) await _writeAll(bulk, chunk);
    await bulk.read(new Uint8Array(1));
    const mibPerS = bytes / 2 ** 20 / ((performance.now() - started) / 1000);
    bulk.close();
    // Echo one small write at a time.
    handler = (conn) => {
      (async () => {
        const buffer = new Uint8Array(64);
        while (true) {
          const count = await conn.read(buffer);
          if (count === null) break;
          await _writeAll(conn, buffer.subarray(0, count));
        }
        conn.close();
      })().catch(() => {});
    };
    started = performance.now();
    for (let index = 0; index < connects; index += 1) {
      const conn = await _connect(kind, listener.port, pem);
      await _writeAll(conn, new Uint8Array(1));
      await conn.read(new Uint8Array(1));
      conn.close();
    }
    const connectMs = (performance.now() - started) / connects;
    const pinger = await _connect(kind, listener.port, pem);
    started = performance.now();
    for (let index = 0; index < _ROUND_TRIPS; index += 1) {
      await _writeAll(pinger, new Uint8Array(20));
      await pinger.read(new Uint8Array(64));
    }
    const roundTripUs = ((performance.now() - started) / _ROUND_TRIPS) * 1000;
    pinger.close();
    return { mibPerS, connectMs, roundTripUs };
  } finally {
    listener.close();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args.filter((arg) => arg !== "--"),
    options: { mb: { type: "string" }, connects: { type: "string" } },
    strict: true,
  });
  const bytes = wholeNumberFlag(values.mb, "--mb", 200, 1, 10_000) * 2 ** 20;
  const connects = wholeNumberFlag(values.connects, "--connects", 200, 1, 100_000);
  const dir = await Deno.makeTempDir({ prefix: "tp0_tls_transport_" });
  try {
    await makeDevCredentials({ dir, agencies: 1, serverNames: ["127.0.0.1"], days: 1 });
    console.log(
      "| server | one connection MiB/s | connect + handshake + 1 B round trip ms | 20 B round trip µs |",
    );
    console.log("| --- | --- | --- | --- |");
    for (const kind of _SERVERS) {
      const result = await _measure(kind, dir, bytes, connects);
      console.log(
        `| ${kind} | ${result.mibPerS.toFixed(0)} | ${result.connectMs.toFixed(2)} | ${
          result.roundTripUs.toFixed(0)
        } |`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  Deno.exit(0);
}
