/**
 * The bundled PostgreSQL image for `--store postgres`, built without a
 * registry: Debian's PostgreSQL 15 binaries from this machine with the
 * libraries they link, its share files, time zones, a static busybox for the
 * entrypoint script, and a non-root `postgres` user (initdb and postgres
 * refuse root). The entrypoint makes a cluster on an empty data directory,
 * sets the password at every start, allows logins from the networks the
 * container is on, and execs postgres on every interface.
 */

import { join } from "node:path";
import { copyWithLibraries, makeTmp, writeAccounts } from "./standin_image.ts";
import {
  POSTGRES_DATA_DIR,
  POSTGRES_HEALTHCHECK_COMMAND,
  POSTGRES_MAJOR,
  POSTGRES_PORT,
} from "./images.ts";

/** Where Debian's `postgresql-15` keeps its programs, on the host and in the image. */
export const POSTGRES_BIN_DIR = `/usr/lib/postgresql/${POSTGRES_MAJOR}/bin`;

/** Its loadable modules (plpgsql, encoding conversions, text search). */
const _POSTGRES_LIB_DIR = `/usr/lib/postgresql/${POSTGRES_MAJOR}/lib`;

/** Its share files (initdb's catalogs, time zone sets, text search data). */
const _POSTGRES_SHARE_DIR = `/usr/share/postgresql/${POSTGRES_MAJOR}`;

/** Debian builds PostgreSQL against the system's time zone database. */
const _ZONEINFO_DIR = "/usr/share/zoneinfo";

/** The programs the image runs: the server, initdb, the health check and psql. */
export const POSTGRES_PROGRAMS = ["postgres", "initdb", "pg_ctl", "pg_isready", "psql"] as const;

/** The image's `postgres` user and group; owns the data directory. */
export const POSTGRES_UID = 999;

/** The entrypoint script's path in the image. */
const _ENTRYPOINT = "/usr/local/bin/tp0-postgres-entrypoint";

/**
 * The entrypoint, run by busybox sh as the postgres user. POSTGRES_USER and
 * POSTGRES_DB are lowercase names, POSTGRES_PASSWORD URL-safe characters, so
 * they go into SQL and into STORE_URL without quoting.
 */
export const POSTGRES_ENTRYPOINT_SCRIPT = `#!/bin/sh
# tp0-postgres: initdb on an empty data directory, the password set at every
# start, logins (scram-sha-256) from the networks this container is on, then
# postgres as PID 1 on every interface.
set -eu
say() { echo "tp0-postgres: $*" >&2; }
user="\${POSTGRES_USER:-tp0}"
db="\${POSTGRES_DB:-$user}"
password="\${POSTGRES_PASSWORD:-}"
data="\${PGDATA:-${POSTGRES_DATA_DIR}}"
case "$user" in ""|[!a-z_]*|*[!a-z0-9_]*) say "POSTGRES_USER \\"$user\\" is not a lowercase name"; exit 2;; esac
case "$db" in ""|[!a-z_]*|*[!a-z0-9_]*) say "POSTGRES_DB \\"$db\\" is not a lowercase name"; exit 2;; esac
case "$password" in ""|*[!A-Za-z0-9._~-]*) say "POSTGRES_PASSWORD must be 1 or more of A-Z a-z 0-9 . _ ~ -"; exit 2;; esac
if [ ! -s "$data/PG_VERSION" ]; then
  say "initdb: a new cluster in $data (user $user, database $db)"
  umask 077
  printf '%s\\n' "$password" > /tmp/tp0-pwfile
  initdb --pgdata="$data" --username="$user" --pwfile=/tmp/tp0-pwfile \\
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C >/dev/null
  rm -f /tmp/tp0-pwfile
  echo "CREATE DATABASE \\"$db\\"" | postgres --single -D "$data" postgres >/dev/null
fi
echo "ALTER ROLE \\"$user\\" PASSWORD '$password'" | postgres --single -D "$data" postgres >/dev/null
networks=$(ip -o -4 addr show | awk '$2 != "lo" { print $4 }')
{
  echo "# Written by the entrypoint at every start: the socket in /tmp for psql"
  echo "# inside the container, passwords from loopback and the container's networks."
  echo "local all all trust"
  echo "host all all 127.0.0.1/32 scram-sha-256"
  for network in $networks; do echo "host all all $network scram-sha-256"; done
} > "$data/pg_hba.conf"
say "starting: database $db, user $user, logins from" $networks
exec postgres -D "$data" -c listen_addresses='*' -c port=${POSTGRES_PORT} \\
  -c unix_socket_directories=/tmp -c jit=off
`;

/** What {@link writePostgresRootfs} reads from the host. */
export interface PostgresHost {
  /** Debian's PostgreSQL programs; {@link POSTGRES_BIN_DIR} on Debian. */
  binDir: string;
  /** A static busybox for the entrypoint's sh, ip and awk. */
  busybox: string;
}

async function _copyTree(from: string, to: string, skip: (name: string) => boolean) {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (skip(entry.name)) continue;
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory) await _copyTree(source, target, skip);
    else if (entry.isSymlink) await Deno.symlink(await Deno.readLink(source), target);
    else await Deno.copyFile(source, target);
  }
}

/** The host's modules to copy: all but LLVM's JIT (jit=off), which links LLVM. */
async function _modules(): Promise<string[]> {
  const modules: string[] = [];
  for await (const entry of Deno.readDir(_POSTGRES_LIB_DIR)) {
    if (entry.isFile && entry.name.endsWith(".so") && !entry.name.startsWith("llvmjit")) {
      modules.push(join(_POSTGRES_LIB_DIR, entry.name));
    }
  }
  return modules.sort();
}

/**
 * Lays out the database image's root filesystem in `root`.
 * @returns the `docker import --change` instructions for the image config
 * @throws {Error} when ldd cannot resolve a library of a program or module
 */
export async function writePostgresRootfs(root: string, host: PostgresHost): Promise<string[]> {
  const programs = POSTGRES_PROGRAMS.map((name) => join(host.binDir, name));
  await copyWithLibraries(root, [...programs, ...await _modules()]);
  await _copyTree(_POSTGRES_SHARE_DIR, join(root, _POSTGRES_SHARE_DIR), () => false);
  await _copyTree(_ZONEINFO_DIR, join(root, _ZONEINFO_DIR), (name) => name.endsWith(".tab"));
  await Deno.mkdir(join(root, "bin"), { recursive: true });
  await Deno.copyFile(host.busybox, join(root, "bin/busybox"));
  await Deno.chmod(join(root, "bin/busybox"), 0o755);
  for (const applet of ["sh", "ip", "awk", "rm", "cat", "printf"]) {
    await Deno.symlink("busybox", join(root, "bin", applet));
  }
  await Deno.mkdir(join(root, "usr/local/bin"), { recursive: true });
  await Deno.writeTextFile(join(root, _ENTRYPOINT), POSTGRES_ENTRYPOINT_SCRIPT);
  await Deno.chmod(join(root, _ENTRYPOINT), 0o755);
  // initdb asks `locale -a` for collations to import; the image has the C locale only.
  await Deno.writeTextFile(join(root, "usr/local/bin/locale"), "#!/bin/sh\necho C\necho POSIX\n");
  await Deno.chmod(join(root, "usr/local/bin/locale"), 0o755);
  await writeAccounts(root, [["root", 0], ["postgres", POSTGRES_UID]]);
  await Deno.writeTextFile(join(root, "etc/nsswitch.conf"), "passwd: files\ngroup: files\n");
  await Deno.mkdir(join(root, POSTGRES_DATA_DIR), { recursive: true });
  await Deno.chmod(join(root, POSTGRES_DATA_DIR), 0o700);
  await makeTmp(root);
  return [
    `ENV PATH=${host.binDir}:/usr/local/bin:/usr/bin:/bin`,
    `ENV PGDATA=${POSTGRES_DATA_DIR}`,
    // psql and pg_isready inside the container find the socket here.
    "ENV PGHOST=/tmp",
    "ENV TZ=UTC",
    `USER ${POSTGRES_UID}:${POSTGRES_UID}`,
    `EXPOSE ${POSTGRES_PORT}`,
    // docker import takes no STOPSIGNAL: compose and stack files set SIGINT
    // (a fast shutdown; SIGTERM would wait for every client to leave).
    `HEALTHCHECK --interval=2s --timeout=5s --retries=30 CMD ${
      JSON.stringify(POSTGRES_HEALTHCHECK_COMMAND)
    }`,
    `ENTRYPOINT ["${_ENTRYPOINT}"]`,
  ];
}

/** The paths of the root filesystem the postgres user owns, for importRootfs. */
export const POSTGRES_OWNED_PATHS = [
  { path: `.${POSTGRES_DATA_DIR.replace(/\/[^/]+$/, "")}`, uid: POSTGRES_UID },
] as const;
