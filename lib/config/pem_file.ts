/** Reading a PEM file named by the config (certificates and keys for TLS). */

import { TLS_PEM_BYTES_MAX } from "../limits.ts";
import { ConfigError } from "./config_source.ts";

/** What a PEM file is expected to hold, by its block header. */
export interface PemKind {
  /** Named in the error: "certificate", "private key". */
  what: string;
  marker: RegExp;
}

/** A PEM certificate (`-----BEGIN CERTIFICATE-----`). */
export const PEM_CERTIFICATE: PemKind = {
  what: "certificate",
  marker: /-----BEGIN CERTIFICATE-----/,
};

/** A PEM private key of any algorithm (`-----BEGIN … PRIVATE KEY-----`). */
export const PEM_PRIVATE_KEY: PemKind = {
  what: "private key",
  marker: /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
};

/**
 * Reads a PEM file of at most TLS_PEM_BYTES_MAX bytes, checking the size
 * before reading.
 * @param path the file
 * @param key the config key that named it, for the error message
 * @param expected when given, the block the file must hold
 * @returns the file's text
 * @throws {ConfigError} naming the key and the file when it is missing,
 *   unreadable, not a file, too large or without the expected block (never
 *   quoting the content, which may be a key)
 * @example
 * ```ts
 * const cert = await readPemFile("/config/tls/server.crt", "TLS_CERT_FILE", PEM_CERTIFICATE);
 * ```
 */
export async function readPemFile(path: string, key: string, expected?: PemKind): Promise<string> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw new ConfigError(`${key} ${path} cannot be read: ${_reason(error)}`);
  }
  if (!info.isFile || info.size > TLS_PEM_BYTES_MAX) {
    throw new ConfigError(`${key} ${path} is not a PEM file of at most ${TLS_PEM_BYTES_MAX} bytes`);
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(`${key} ${path} cannot be read: ${_reason(error)}`);
  }
  if (expected !== undefined && !expected.marker.test(text)) {
    throw new ConfigError(`${key} ${path} holds no PEM ${expected.what}`);
  }
  return text;
}

function _reason(error: unknown): string {
  return error instanceof Deno.errors.NotFound ? "not found" : (error as Error).message;
}
