/**
 * The layout of a credentials directory: what `deno task certs` writes and
 * what the compose and stack generators hand to the server and the agencies
 * (as compose or swarm secrets and configs).
 */

/** File names inside a credentials directory. */
export const CREDENTIAL_FILES = {
  /** The development CA's certificate: agencies verify the server with it,
   * the server verifies agency certificates with it. */
  ca: "ca.crt",
  /** The CA's private key (signs more certificates; never deployed). */
  caKey: "ca.key",
  /** The server's certificate (names: its service name, localhost, 127.0.0.1). */
  serverCert: "server.crt",
  serverKey: "server.key",
  /** The server's SECRETS_FILE: one `agency=secret` line per agency. */
  serverSecrets: "agencies.secrets",
} as const;

/** Agency k's certificate (subject `CN=agency-<k>`). */
export function agencyCertFile(agency: number): string {
  return `agency-${agency}.crt`;
}

/** Agency k's certificate key. */
export function agencyKeyFile(agency: number): string {
  return `agency-${agency}.key`;
}

/** Agency k's hello secret: one line, the client's CLI_SECRET_FILE. */
export function agencySecretFile(agency: number): string {
  return `agency-${agency}.secret`;
}

/** The TLS port the generated files give the server (the plain port stays 12345). */
export const TLS_PORT_DEFAULT = 12346;
