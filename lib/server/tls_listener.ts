/**
 * The central's TLS port (TLS_PORT). `Deno.listenTls` cannot ask for or
 * verify client certificates, so this port runs on `node:tls`, which can;
 * each TLS socket is adapted to the connection the sessions already use
 * (`read` / `write` / `closeWrite` / `close`) and handed to
 * `LotteryServer.serveConnection`, so both ports share the cap, the idle
 * timeout, the sessions and the shutdown. Loaded only when TLS_PORT is set:
 * Deno's Node layer costs a server start tens of milliseconds.
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import tls from "node:tls";
import { ConfigError } from "../config/config_source.ts";
import { readPemFile } from "../config/pem_file.ts";
import { AGENCIES_MAX, TLS_READ_BUFFER_BYTES_MAX } from "../limits.ts";
import type { Logger } from "../runtime/log.ts";
import type { ServerConn } from "./served_connection.ts";
import type { PeerIdentity } from "./peer_identity.ts";
import { closeAfter } from "./refuse_and_close.ts";

/** The PEM texts of the TLS port. */
export interface TlsMaterial {
  cert: string;
  key: string;
  /** CA that signs agency certificates (TLS_CLIENT_CA); absent: none asked for. */
  clientCa?: string;
}

/** Where the TLS files are (the server config's TLS_* keys). */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Empty: no client certificates. */
  clientCaFile: string;
}

/** What the TLS port needs besides its material. */
export interface TlsListenOptions {
  hostname: string;
  port: number;
  listenBacklog: number;
  /** TCP connections at once, handshakes included (beyond: dropped). */
  connectionsMax: number;
  /** A peer that has not finished its handshake after this long is dropped. */
  handshakeTimeoutMs: number;
}

/** Where verified connections go: `LotteryServer.serveConnection`. */
export type ConnectionSink = (conn: ServerConn, ip: string, identity: PeerIdentity) => void;

/** A listening TLS port. */
export interface TlsListener {
  /** The bound port (useful with port 0). */
  port: number;
  /** Whether peers must show a client certificate. */
  clientCertificates: boolean;
  /** Stops accepting; open connections stay with the server. Safe to call twice. */
  close(): void;
}

/** node:tls's first line about a PEM problem, e.g. "key values mismatch". */
function _tlsReason(error: unknown): string {
  return ((error as Error).message ?? String(error)).split("\n")[0]!;
}

/**
 * Reads and checks the TLS files: the certificate and key must parse and
 * belong together, the client CA must be a CA certificate.
 * @throws {ConfigError} naming the key and file that is missing or unusable
 *   (never quoting a key's content)
 */
export async function loadTlsMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const cert = await readPemFile(files.certFile, "TLS_CERT_FILE");
  const key = await readPemFile(files.keyFile, "TLS_KEY_FILE");
  if (!/-----BEGIN CERTIFICATE-----/.test(cert)) {
    throw new ConfigError(`TLS_CERT_FILE ${files.certFile} holds no PEM certificate`);
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    throw new ConfigError(`TLS_KEY_FILE ${files.keyFile} holds no PEM private key`);
  }
  let matches: boolean;
  try {
    matches = new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch (error) {
    throw new ConfigError(
      `TLS_CERT_FILE ${files.certFile} or TLS_KEY_FILE ${files.keyFile} does not parse: ` +
        _tlsReason(error),
    );
  }
  if (!matches) {
    throw new ConfigError(
      `TLS_KEY_FILE ${files.keyFile} is not the key of TLS_CERT_FILE ${files.certFile}`,
    );
  }
  if (files.clientCaFile === "") return { cert, key };
  const clientCa = await readPemFile(files.clientCaFile, "TLS_CLIENT_CA");
  if (!/-----BEGIN CERTIFICATE-----/.test(clientCa)) {
    throw new ConfigError(`TLS_CLIENT_CA ${files.clientCaFile} holds no PEM certificate`);
  }
  let isCa: boolean;
  try {
    isCa = new X509Certificate(clientCa).ca;
  } catch (error) {
    throw new ConfigError(
      `TLS_CLIENT_CA ${files.clientCaFile} does not parse: ${_tlsReason(error)}`,
    );
  }
  if (!isCa) {
    throw new ConfigError(`TLS_CLIENT_CA ${files.clientCaFile} is not a CA certificate`);
  }
  return { cert, key, clientCa };
}

/**
 * The agency a client certificate names: its subject's common name must be
 * exactly `agency-<n>`, n in 1..AGENCIES_MAX.
 * @returns the agency, or undefined for any other name
 * @example agencyFromCommonName("agency-2") // 2
 */
export function agencyFromCommonName(commonName: unknown): number | undefined {
  if (typeof commonName !== "string") return undefined;
  const match = /^agency-([1-9]\d{0,5})$/.exec(commonName);
  if (match === null) return undefined;
  const agency = Number(match[1]);
  return agency <= AGENCIES_MAX ? agency : undefined;
}

/** Node's socket errors as the Deno errors the sessions and the server expect. */
function _denoError(error: Error & { code?: string }): Error {
  switch (error.code) {
    case "ECONNRESET":
      return new Deno.errors.ConnectionReset(error.message);
    case "EPIPE":
    case "ERR_STREAM_DESTROYED":
    case "ERR_STREAM_WRITE_AFTER_END":
      return new Deno.errors.BrokenPipe(error.message);
    default:
      return error;
  }
}

/**
 * A TLS socket as a `ServerConn`: incoming cleartext is queued (at most
 * TLS_READ_BUFFER_BYTES_MAX before the socket is paused) and handed out by
 * `read`; `write` resolves once the bytes are handed to the socket, so a
 * caller may reuse its buffer afterwards, as with `Deno.Conn`.
 *
 * Deno 2.9.6's node:tls loses a peer's end of stream that arrives while the
 * socket is paused (no `end`, no `close`). Only a peer that closes while the server holds its bytes back
 * meets it, and the idle timeout closes that connection like a silent one.
 */
export class TlsSocketConn implements ServerConn {
  readonly #socket: tls.TLSSocket;
  readonly #chunks: Uint8Array[] = [];
  #queuedBytes = 0;
  #ended = false;
  #failure: Error | undefined;
  #closed = false;
  #paused = false;
  #wake: (() => void) | undefined;
  readonly #pendingWrites = new Set<(error: Error) => void>();

  constructor(socket: tls.TLSSocket) {
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#queuedBytes += chunk.length;
      if (this.#queuedBytes >= TLS_READ_BUFFER_BYTES_MAX && !this.#paused) {
        this.#paused = true;
        socket.pause();
      }
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error) => {
      this.#failure ??= _denoError(error);
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      const closed = new Deno.errors.BrokenPipe("connection closed");
      for (const reject of this.#pendingWrites) reject(closed);
      this.#pendingWrites.clear();
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /**
   * Copies queued cleartext into `buffer`.
   * @returns bytes copied, or null at the end of the stream
   * @throws {Deno.errors.BadResource} after close, or the socket's error
   */
  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#closed) throw new Deno.errors.BadResource("connection closed");
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    if (this.#closed) throw new Deno.errors.BadResource("connection closed");
    let copied = 0;
    while (copied < buffer.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const take = Math.min(chunk.length, buffer.length - copied);
      buffer.set(chunk.subarray(0, take), copied);
      copied += take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    this.#queuedBytes -= copied;
    if (this.#paused && this.#queuedBytes < TLS_READ_BUFFER_BYTES_MAX / 2) {
      this.#paused = false;
      this.#socket.resume();
    }
    return copied;
  }

  /**
   * Writes all of `bytes` to the socket.
   * @returns `bytes.length` once the socket took them
   * @throws {Deno.errors.BrokenPipe} when the connection closed first
   */
  write(bytes: Uint8Array): Promise<number> {
    if (this.#closed || this.#socket.destroyed) {
      return Promise.reject(new Deno.errors.BrokenPipe("connection closed"));
    }
    return new Promise((resolve, reject) => {
      this.#pendingWrites.add(reject);
      this.#socket.write(bytes, (error?: Error | null) => {
        this.#pendingWrites.delete(reject);
        if (error) reject(_denoError(error));
        else resolve(bytes.length);
      });
    });
  }

  /** Sends the TLS close and the FIN once everything written is out. */
  closeWrite(): Promise<void> {
    if (this.#closed || this.#socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.#socket.end(() => resolve()));
  }

  /**
   * Closes the connection: what was written still goes out, then TLS's
   * close_notify and the FIN, and the socket is destroyed (at the latest
   * ERROR_REPLY_WAIT_MS later, for a peer that reads nothing). A pending
   * read throws BadResource. Safe to call twice.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#notify();
    const socket = this.#socket;
    if (socket.destroyed) return;
    const ended = new Promise<void>((resolve) => {
      socket.once("close", resolve);
      socket.end(resolve);
    });
    closeAfter(ended, () => socket.destroy());
  }
}

/** The peer's address; after a failed handshake only the TCP socket under
 * the TLS one (Node's `_parent`) still knows it. */
function _remoteAddress(socket: tls.TLSSocket): string {
  const parent = (socket as { _parent?: { remoteAddress?: string } })._parent;
  return socket.remoteAddress ?? parent?.remoteAddress ?? "unknown";
}

/** The identity a verified socket carries to the sessions. */
function _identity(socket: tls.TLSSocket, clientCertificates: boolean): PeerIdentity {
  if (!clientCertificates) return {};
  const commonName = socket.getPeerCertificate()?.subject?.CN;
  const agency = agencyFromCommonName(commonName);
  if (agency !== undefined) return { certifiedAgency: agency };
  const named = typeof commonName === "string" ? `CN=${commonName}` : "no single CN";
  return {
    helloRefusal: `the client certificate (${named}) names no agency: expected CN=agency-<n>`,
  };
}

/**
 * Listens with TLS and hands every connection that completed its handshake
 * to `sink`. With `material.clientCa`, a handshake without a certificate
 * signed by it fails, and the certificate's `CN=agency-<n>` binds the
 * connection to agency n. Failed handshakes log `tls_handshake` at WARNING.
 * @throws {Error} when the port cannot be bound (e.g. in use)
 */
export function listenTls(
  options: TlsListenOptions,
  material: TlsMaterial,
  sink: ConnectionSink,
  logger: Logger,
): Promise<TlsListener> {
  const clientCertificates = material.clientCa !== undefined;
  const server = tls.createServer({
    cert: material.cert,
    key: material.key,
    minVersion: "TLSv1.2",
    // As on the plain port: a peer's half-close still lets the server answer.
    allowHalfOpen: true,
    handshakeTimeout: options.handshakeTimeoutMs,
    ...(clientCertificates
      ? { ca: material.clientCa, requestCert: true, rejectUnauthorized: true }
      : {}),
  }, (socket) => {
    socket.setNoDelay(true);
    const ip = _remoteAddress(socket);
    sink(new TlsSocketConn(socket), ip, _identity(socket, clientCertificates));
  });
  server.maxConnections = options.connectionsMax;
  server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
    logger.warning("tls_handshake", "fail", { ip: _remoteAddress(socket), error: error.message });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(
      { host: options.hostname, port: options.port, backlog: options.listenBacklog },
      () => {
        server.off("error", reject);
        server.on(
          "error",
          (error: Error) => logger.error("accept", "fail", { error: error.message }),
        );
        const address = server.address();
        let closed = false;
        resolve({
          port: typeof address === "object" && address !== null ? address.port : options.port,
          clientCertificates,
          close: () => {
            if (closed) {
              return;
            }
            closed = true;
            server.close();
          },
        });
      },
    );
  });
}
