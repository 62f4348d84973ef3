/**
 * Container image pins and names, in one place. Dockerfiles default their
 * `DENO_VERSION` build ARG to the same value (a test keeps them in sync), and
 * every build passes it explicitly.
 */

/** The Deno version the whole project pins (CI, images, stand-ins). */
export const DENO_VERSION = "2.9.6";

/** BusyBox tag used for the netcat echo check. 1.35 is what Debian bookworm's
 * busybox-static ships, so an offline stand-in carries the version it names. */
const BUSYBOX_VERSION = "1.35";

/** Base image of both application images. */
export const DENO_IMAGE = `denoland/deno:${DENO_VERSION}`;

/** Throw-away image that runs `nc` on the compose network. */
export const BUSYBOX_IMAGE = `busybox:${BUSYBOX_VERSION}`;

/** One application image: its tag and the Dockerfile that builds it. */
export interface AppImage {
  /** `name:tag` the build produces and compose files reference. */
  tag: string;
  /** Dockerfile path relative to the build context (the repository root). */
  dockerfile: string;
}

/** The lottery central's image. */
export const SERVER_IMAGE: AppImage = {
  tag: "tp0-server:latest",
  dockerfile: "Dockerfile.server",
};

/** The agency client's image. */
export const CLIENT_IMAGE: AppImage = {
  tag: "tp0-client:latest",
  dockerfile: "Dockerfile.client",
};

/** Build arguments every application image build receives. */
export const APP_BUILD_ARGS: Readonly<Record<string, string>> = {
  DENO_VERSION,
};

/** The server's health check, as the image's HEALTHCHECK and the stack's
 * `healthcheck:` run it: one echo round trip on the port its config names. */
export const HEALTHCHECK_COMMAND: readonly string[] = [
  "deno",
  "run",
  "--cached-only",
  "--frozen",
  "--allow-net",
  "--allow-read=/config",
  "--allow-env",
  "healthcheck.ts",
];

/** PostgreSQL's major version in the bundled database image: Debian 12's. */
export const POSTGRES_MAJOR = "15";

/** The bundled database for `--store postgres`: built by `deno task images`
 * from this machine's Debian `postgresql` package (no registry has it). */
export const POSTGRES_IMAGE = `tp0-postgres:${POSTGRES_MAJOR}`;

/** Where the database image keeps its cluster (environment PGDATA). */
export const POSTGRES_DATA_DIR = "/var/lib/postgresql/data";

/** PostgreSQL's port inside the store network. */
export const POSTGRES_PORT = 5432;

/** The database image's health check: the server accepts connections on
 * its TCP port (no login needed to say so). */
export const POSTGRES_HEALTHCHECK_COMMAND: readonly string[] = [
  "pg_isready",
  "--quiet",
  "--host",
  "127.0.0.1",
  "--port",
  String(POSTGRES_PORT),
];
