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

/** Which credentials a generated file hands out, from one `deno task certs` directory. */
export interface CredentialChoice {
  /** The credentials directory, as the compose or stack file names it. */
  dir: string;
  /** Hello secrets: the server's SECRETS_FILE, each agency's CLI_SECRET_FILE. */
  secrets: boolean;
  /** Agencies reach the server's TLS port and verify it against the CA. */
  tls: boolean;
  /** The server requires agency certificates (TLS_CLIENT_CA); needs tls. */
  clientCerts: boolean;
}

/** One file a service gets: a secret (in /run/secrets/) or a public file. */
export interface FileGrant {
  /** Its key in the file's top-level `secrets:` or `configs:`. */
  key: string;
  /** Path on the host that deploys, inside the credentials directory. */
  source: string;
  /** Where the service reads it: a name under /run/secrets/ for a secret,
   * an absolute path for a public file. */
  target: string;
  secret: boolean;
}

/** What a service needs for its credentials: environment and files. */
export interface ServiceCredentials {
  environment: Record<string, string>;
  files: FileGrant[];
}

/** Where the public TLS files land inside the containers. */
const TLS_CONFIG_DIR = "/config/tls";

/** Directory of secrets inside every container (compose and swarm). */
export const SECRETS_DIR = "/run/secrets";

function _join(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}

/**
 * The server's credentials: SECRETS_FILE, and the TLS port's certificate,
 * key and (with client certificates) CA.
 */
export function serverCredentials(choice: CredentialChoice, tlsPort: number): ServiceCredentials {
  const environment: Record<string, string> = {};
  const files: FileGrant[] = [];
  if (choice.secrets) {
    files.push({
      key: "agency_secrets",
      source: _join(choice.dir, CREDENTIAL_FILES.serverSecrets),
      target: "agency_secrets",
      secret: true,
    });
    environment["SECRETS_FILE"] = `${SECRETS_DIR}/agency_secrets`;
  }
  if (choice.tls) {
    files.push(
      {
        key: "server_tls_cert",
        source: _join(choice.dir, CREDENTIAL_FILES.serverCert),
        target: `${TLS_CONFIG_DIR}/server.crt`,
        secret: false,
      },
      {
        key: "server_tls_key",
        source: _join(choice.dir, CREDENTIAL_FILES.serverKey),
        target: "server_tls_key",
        secret: true,
      },
    );
    Object.assign(environment, {
      TLS_PORT: String(tlsPort),
      TLS_CERT_FILE: `${TLS_CONFIG_DIR}/server.crt`,
      TLS_KEY_FILE: `${SECRETS_DIR}/server_tls_key`,
    });
  }
  if (choice.clientCerts) {
    files.push(_caGrant(choice));
    environment["TLS_CLIENT_CA"] = `${TLS_CONFIG_DIR}/ca.crt`;
  }
  return { environment, files };
}

function _caGrant(choice: CredentialChoice): FileGrant {
  return {
    key: "tls_ca",
    source: _join(choice.dir, CREDENTIAL_FILES.ca),
    target: `${TLS_CONFIG_DIR}/ca.crt`,
    secret: false,
  };
}

/**
 * Agency k's credentials: its hello secret, the CA it verifies the server
 * with and the server's TLS address, its certificate and key.
 * @param serverHost the server's name on the network (its certificate names it)
 */
export function agencyCredentials(
  choice: CredentialChoice,
  agency: number,
  serverHost: string,
  tlsPort: number,
): ServiceCredentials {
  const environment: Record<string, string> = {};
  const files: FileGrant[] = [];
  if (choice.secrets) {
    files.push({
      key: `agency_${agency}_secret`,
      source: _join(choice.dir, agencySecretFile(agency)),
      target: "agency_secret",
      secret: true,
    });
    environment["CLI_SECRET_FILE"] = `${SECRETS_DIR}/agency_secret`;
  }
  if (choice.tls) {
    files.push(_caGrant(choice));
    environment["CLI_SERVER_ADDRESS"] = `${serverHost}:${tlsPort}`;
    environment["CLI_SERVER_TLS_CA"] = `${TLS_CONFIG_DIR}/ca.crt`;
  }
  if (choice.clientCerts) {
    files.push(
      {
        key: `agency_${agency}_tls_cert`,
        source: _join(choice.dir, agencyCertFile(agency)),
        target: `${TLS_CONFIG_DIR}/agency.crt`,
        secret: false,
      },
      {
        key: `agency_${agency}_tls_key`,
        source: _join(choice.dir, agencyKeyFile(agency)),
        target: "agency_tls_key",
        secret: true,
      },
    );
    environment["CLI_SERVER_TLS_CERT"] = `${TLS_CONFIG_DIR}/agency.crt`;
    environment["CLI_SERVER_TLS_KEY"] = `${SECRETS_DIR}/agency_tls_key`;
  }
  return { environment, files };
}

/**
 * Every file a choice hands out to a server and agencies 1..agencies, for
 * checking they exist before a file is generated.
 */
export function credentialFiles(choice: CredentialChoice, agencies: number): string[] {
  const sources = new Set(serverCredentials(choice, TLS_PORT_DEFAULT).files.map((f) => f.source));
  for (let agency = 1; agency <= agencies; agency += 1) {
    for (const file of agencyCredentials(choice, agency, "server", TLS_PORT_DEFAULT).files) {
      sources.add(file.source);
    }
  }
  return [...sources];
}
