/**
 * Per-agency secrets: which agency may say hello as which. The server reads
 * them from SECRETS_FILE (e.g. a file mounted with compose `secrets:`), one
 * agency per line:
 *
 * ```text
 * # agency=secret; blank lines and lines starting with # are ignored
 * 1=k3j4-9xq2-…
 * 2=7d1f-…
 * ```
 *
 * The agency is a whole number, the secret everything after the first `=`
 * (surrounding spaces trimmed), 1 to 255 UTF-8 bytes (it travels as an s8
 * field of hello). An agency without a line cannot say hello at all.
 * Messages never quote a secret, only its file and line.
 */

import { ConfigError, readConfigFile } from "../config/config_source.ts";
import { AGENCIES_MAX, SECRET_BYTES_MAX } from "../limits.ts";

const _encoder = new TextEncoder();

/**
 * Parses a secrets file.
 * @param file the file's path, for messages
 * @returns each agency's secret
 * @throws {ConfigError} naming the file and line of a bad or repeated entry
 */
export function parseAgencySecrets(text: string, file: string): Map<number, string> {
  const secrets = new Map<number, string>();
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `${file} line ${index + 1}`;
    const equals = line.indexOf("=");
    const agencyText = equals === -1 ? "" : line.slice(0, equals).trim();
    const secret = equals === -1 ? "" : line.slice(equals + 1).trim();
    const agency = Number(agencyText);
    if (!/^\d+$/.test(agencyText) || agency < 1 || agency > AGENCIES_MAX) {
      throw new ConfigError(`${where} is not agency=secret with an agency in 1..${AGENCIES_MAX}`);
    }
    const bytes = _encoder.encode(secret).length;
    if (bytes === 0 || bytes > SECRET_BYTES_MAX) {
      throw new ConfigError(
        `${where}: the secret of agency ${agency} must be 1 to ${SECRET_BYTES_MAX} bytes`,
      );
    }
    if (secrets.has(agency)) throw new ConfigError(`${where}: agency ${agency} appears twice`);
    secrets.set(agency, secret);
  }
  return secrets;
}

/**
 * Reads and parses a secrets file.
 * @throws {ConfigError} when it cannot be read or a line is bad
 */
export async function loadAgencySecrets(path: string): Promise<Map<number, string>> {
  return parseAgencySecrets(await readConfigFile(path), path);
}

async function _digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", _encoder.encode(text)));
}

/**
 * Compares a secret given by a peer with the expected one in constant time:
 * both are hashed first, so neither their contents nor their lengths change
 * how long the comparison takes.
 * @param expected the agency's secret, undefined when it has none (never matches)
 * @param given what the peer sent, undefined when it sent none (never matches)
 */
export async function secretMatches(
  expected: string | undefined,
  given: string | undefined,
): Promise<boolean> {
  const [want, have] = await Promise.all([_digest(expected ?? ""), _digest(given ?? "")]);
  let difference = 0;
  for (let index = 0; index < want.length; index += 1) difference |= want[index]! ^ have[index]!;
  return difference === 0 && expected !== undefined && expected !== "" && given !== undefined;
}
