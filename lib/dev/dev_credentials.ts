/**
 * Development credentials made with openssl: a CA, a server certificate,
 * one client certificate per agency (`CN=agency-<k>`) and one hello secret
 * per agency, in the layout of lib/containers/credentials.ts. Private keys
 * and secrets are written with mode 0600 in a 0700 directory.
 */

import {
  agencyCertFile,
  agencyKeyFile,
  agencySecretFile,
  CREDENTIAL_FILES,
} from "../containers/credentials.ts";
import { firstLine, runCommand } from "../runtime/run_command.ts";

/** What to make. */
export interface DevCredentialOptions {
  /** Directory to write into; created when missing. */
  dir: string;
  /** Agencies 1..agencies get a certificate and a secret. */
  agencies: number;
  /** DNS names and IP addresses the server certificate is valid for. */
  serverNames: readonly string[];
  /** Validity of every certificate, in days. */
  days: number;
}

/** Names the server certificate holds unless told otherwise: the compose
 * and stack service name, and loopback for local processes. */
export const SERVER_NAMES_DEFAULT = ["server", "localhost", "127.0.0.1"] as const;

/** Validity of development certificates unless told otherwise. */
export const CERT_DAYS_DEFAULT = 30;

/** Most agencies one run makes credentials for (each costs two openssl runs). */
export const CREDENTIAL_AGENCIES_MAX = 1000;

/** Bound on one openssl run. */
const _OPENSSL_TIMEOUT_MS = 30_000;

/** Key type of every certificate: P-256 keeps handshakes cheap. */
const _KEY_ARGS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** Bytes of randomness in a hello secret (43 base64url characters). */
const _SECRET_BYTES = 32;

async function _openssl(args: string[], cwd: string): Promise<void> {
  const result = await runCommand(["openssl", ...args], { timeoutMs: _OPENSSL_TIMEOUT_MS, cwd });
  if (result.code === 127) {
    throw new Error("openssl is not installed (apt-get install openssl)");
  }
  if (result.code !== 0) {
    throw new Error(
      `openssl ${args[0]} failed: ${firstLine(result.stderr) || `exit ${result.code}`}`,
    );
  }
}

/** `subjectAltName` value for names that are IP addresses or DNS names. */
export function subjectAltName(names: readonly string[]): string {
  return names.map((name) =>
    /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(":") ? `IP:${name}` : `DNS:${name}`
  ).join(",");
}

function _randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(_SECRET_BYTES));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

async function _writePrivate(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  await Deno.chmod(path, 0o600);
}

/** One certificate to issue: its files, subject and X.509v3 extensions. */
interface _Issue {
  cert: string;
  key: string;
  subject: string;
  extensions: string;
}

/** Makes a key and a certificate request, and signs it with the CA. */
async function _issue(dir: string, { cert, key, subject, extensions }: _Issue, days: number) {
  const name = cert.replace(/\.crt$/, "");
  await _openssl(
    ["req", ..._KEY_ARGS, "-keyout", key, "-out", `${name}.csr`, "-subj", subject],
    dir,
  );
  await Deno.chmod(`${dir}/${key}`, 0o600);
  await Deno.writeTextFile(`${dir}/${name}.ext`, extensions);
  try {
    await _openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      CREDENTIAL_FILES.ca,
      "-CAkey",
      CREDENTIAL_FILES.caKey,
      "-CAcreateserial",
      "-days",
      String(days),
      "-extfile",
      `${name}.ext`,
      "-out",
      cert,
    ], dir);
  } finally {
    await Deno.remove(`${dir}/${name}.csr`).catch(() => {});
    await Deno.remove(`${dir}/${name}.ext`).catch(() => {});
  }
}

/**
 * Makes a CA, the server's certificate, and a certificate and a secret for
 * each agency, replacing what the directory held under those names.
 * @returns the files written, relative to `dir`
 * @throws {RangeError} on a bad agency count, day count or an empty name list
 * @throws {Error} when openssl is missing or fails
 */
export async function makeDevCredentials(options: DevCredentialOptions): Promise<string[]> {
  const { dir, agencies, serverNames, days } = options;
  if (!Number.isInteger(agencies) || agencies < 0 || agencies > CREDENTIAL_AGENCIES_MAX) {
    throw new RangeError(
      `Cannot make credentials for ${agencies} agencies: expected 0..${CREDENTIAL_AGENCIES_MAX}`,
    );
  }
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    throw new RangeError(`Cannot make certificates valid for ${days} days: expected 1..3650`);
  }
  const badName = serverNames.find((name) => !/^[A-Za-z0-9.:-]+$/.test(name));
  if (serverNames.length === 0 || badName !== undefined) {
    throw new RangeError(
      `Cannot name the server certificate ${JSON.stringify(badName ?? "")}: ` +
        "expected DNS names or IP addresses",
    );
  }
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(dir, 0o700);
  await _openssl([
    "req",
    "-x509",
    ..._KEY_ARGS,
    "-keyout",
    CREDENTIAL_FILES.caKey,
    "-out",
    CREDENTIAL_FILES.ca,
    "-days",
    String(days),
    "-subj",
    // Named apart from every other run's CA: a verifier tells them by name first.
    `/CN=tp0 development CA ${crypto.randomUUID().slice(0, 8)}`,
  ], dir);
  await Deno.chmod(`${dir}/${CREDENTIAL_FILES.caKey}`, 0o600);
  const written: string[] = [CREDENTIAL_FILES.ca, CREDENTIAL_FILES.caKey];
  await _issue(dir, {
    cert: CREDENTIAL_FILES.serverCert,
    key: CREDENTIAL_FILES.serverKey,
    subject: `/CN=${serverNames[0]}`,
    extensions: `subjectAltName=${subjectAltName(serverNames)}\nextendedKeyUsage=serverAuth\n`,
  }, days);
  written.push(CREDENTIAL_FILES.serverCert, CREDENTIAL_FILES.serverKey);
  const secretLines = ["# agency=secret, made by deno task certs; the server's SECRETS_FILE"];
  for (let agency = 1; agency <= agencies; agency += 1) {
    await _issue(dir, {
      cert: agencyCertFile(agency),
      key: agencyKeyFile(agency),
      subject: `/CN=agency-${agency}`,
      extensions: "extendedKeyUsage=clientAuth\n",
    }, days);
    const secret = _randomSecret();
    await _writePrivate(`${dir}/${agencySecretFile(agency)}`, `${secret}\n`);
    secretLines.push(`${agency}=${secret}`);
    written.push(agencyCertFile(agency), agencyKeyFile(agency), agencySecretFile(agency));
  }
  await _writePrivate(`${dir}/${CREDENTIAL_FILES.serverSecrets}`, `${secretLines.join("\n")}\n`);
  written.push(CREDENTIAL_FILES.serverSecrets);
  await Deno.remove(`${dir}/ca.srl`).catch(() => {});
  return written;
}
