/**
 * What the compose and stack files share for `--store postgres`: the bundled
 * PostgreSQL service's name, network, volume, environment and health check,
 * and the STORE_URL the server gets to reach it.
 */

import { POSTGRES_DATA_DIR, POSTGRES_HEALTHCHECK_COMMAND, POSTGRES_PORT } from "./images.ts";
import { storeUrlViolation } from "../config/store_url.ts";

/** The database service's name: the server reaches it as `postgres`. */
export const DATABASE_SERVICE = "postgres";

/** The bundled cluster's login and database (both `tp0`). */
export const DATABASE_NAME = "tp0";

/** The network only the server and the database join; `<project>_store_net`. */
export const STORE_NETWORK_KEY = "store_net";

/** The database's named volume; `<project>_postgres_data`. */
export const DATABASE_VOLUME_KEY = "postgres_data";

/** The PostgreSQL store's choices (the file store has none): the bundled
 * database service, or a database elsewhere that STORE_URL names. */
export type DatabaseChoice = BundledDatabase | ExternalDatabase;

/** A PostgreSQL service in the file, from the image `deno task images` builds. */
export interface BundledDatabase {
  /** The `tp0` login's password: 16 to 64 of `A-Z a-z 0-9 . _ ~ -`, so
   * STORE_URL needs no escaping. The image sets it at every start. */
  password: string;
}

/** A managed or replicated PostgreSQL the operator runs: no service in the file. */
export interface ExternalDatabase {
  /** The server's STORE_URL, `postgres://user:password@host:port/database`. */
  url: string;
}

/** Whether a choice names a database outside the file. */
export function isExternalDatabase(choice: DatabaseChoice): choice is ExternalDatabase {
  return "url" in choice;
}

/** Characters of a password that go into a URL and into SQL unquoted. */
const _PASSWORD = /^[A-Za-z0-9._~-]{16,64}$/;

/**
 * A new random password: 32 hex digits.
 * @example newDatabasePassword() // "3f9c…" (32 characters)
 */
export function newDatabasePassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Checks a database choice.
 * @throws {TypeError} when the password is not 16 to 64 URL-safe characters,
 *   or the URL is no PostgreSQL URL
 */
export function validateDatabaseChoice(choice: DatabaseChoice): void {
  if (isExternalDatabase(choice)) {
    const problem = storeUrlViolation(choice.url);
    if (problem !== undefined) throw new TypeError(`Cannot compose STORE_URL: it ${problem}`);
    return;
  }
  if (!_PASSWORD.test(choice.password)) {
    throw new TypeError(
      "Cannot compose the database password: expected 16 to 64 of A-Z a-z 0-9 . _ ~ -",
    );
  }
}

/**
 * The server's STORE_URL: the bundled database's, or the one given.
 * @example storeUrl({ password: "p" }) // "postgres://tp0:p@postgres:5432/tp0"
 */
export function storeUrl(choice: DatabaseChoice): string {
  if (isExternalDatabase(choice)) return choice.url;
  return `postgres://${DATABASE_NAME}:${choice.password}@${DATABASE_SERVICE}:${POSTGRES_PORT}/${DATABASE_NAME}`;
}

/** The database container's environment, as its entrypoint reads it. */
export function databaseEnvironment(choice: BundledDatabase): Record<string, string> {
  return {
    POSTGRES_USER: DATABASE_NAME,
    POSTGRES_DB: DATABASE_NAME,
    POSTGRES_PASSWORD: choice.password,
  };
}

/** The database's data volume mount. */
export const DATABASE_MOUNT = {
  type: "volume",
  source: DATABASE_VOLUME_KEY,
  target: POSTGRES_DATA_DIR,
} as const;

/** The database's health check: pg_isready every 2 s, up to a minute of tries. */
export const DATABASE_HEALTHCHECK = {
  test: ["CMD", ...POSTGRES_HEALTHCHECK_COMMAND],
  interval: "2s",
  timeout: "5s",
  retries: 30,
  start_period: "10s",
} as const;

/** SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client to
 * leave); 30 s lets it write its checkpoint. */
export const DATABASE_STOP = { stop_signal: "SIGINT", stop_grace_period: "30s" } as const;
