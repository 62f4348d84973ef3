/**
 * A real PostgreSQL server for the tests: Debian's binaries (initdb, pg_ctl)
 * run on a fresh data directory under a free loopback port, and removed
 * afterwards. No mock of the database anywhere. Without the binaries the
 * tests that need one are ignored with one line, except under CI=true, where
 * the missing server fails them (CI installs Debian's `postgresql`).
 */

import { freePort } from "./free_port.ts";
import { isCi } from "./ci_env.ts";

/** Where Debian installs the server binaries, newest version first. */
function _binDir(): string | undefined {
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")]
      .map((entry) => entry.name)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const dir = `/usr/lib/postgresql/${version}/bin`;
      try {
        Deno.statSync(`${dir}/pg_ctl`);
        return dir;
      } catch {
        // This version lacks the server package: try the next.
      }
    }
  } catch {
    // No /usr/lib/postgresql (or no read permission): no server here.
  }
  return undefined;
}

/** The server binaries' folder, or undefined when PostgreSQL is not installed. */
export const POSTGRES_BIN_DIR: string | undefined = _binDir();

/** Bound on initdb, on pg_ctl start and on pg_ctl stop, each. */
const _PG_CTL_TIMEOUT_S = 60;

/** A PostgreSQL server the test started. */
export interface TestPostgres {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust authentication on loopback). */
  url: string;
  port: number;
  /**
   * Stops the server: `fast` (the default) ends open sessions and writes a
   * checkpoint; `immediate` quits at once, as a crash would, and the next
   * start recovers from the write-ahead log.
   */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Creates an empty database; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and removes its data directory. */
  [Symbol.asyncDispose](): Promise<void>;
}

const _isRoot = Deno.uid() === 0;

/** Runs a server binary as the `postgres` user when root (initdb refuses root). */
async function _run(binary: string, args: string[]): Promise<string> {
  const path = `${POSTGRES_BIN_DIR}/${binary}`;
  const command = _isRoot
    ? new Deno.Command("runuser", { args: ["-u", "postgres", "--", path, ...args] })
    : new Deno.Command(path, { args });
  const { code, stdout, stderr } = await command.output();
  const decoder = new TextDecoder();
  if (code !== 0) {
    throw new Error(`${binary} ${args.join(" ")} exited ${code}: ${decoder.decode(stderr).trim()}`);
  }
  return decoder.decode(stdout);
}

/**
 * Starts a fresh server in a temporary directory.
 * @throws when PostgreSQL is not installed, or initdb or pg_ctl fail
 */
export async function startPostgres(): Promise<TestPostgres> {
  if (POSTGRES_BIN_DIR === undefined) throw new Error(_missing());
  const dir = await Deno.makeTempDir({ prefix: "tp0_pg_" });
  if (_isRoot) await new Deno.Command("chown", { args: ["postgres:postgres", dir] }).output();
  const data = `${dir}/data`;
  const port = freePort();
  await _run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  const start = () =>
    _run("pg_ctl", [
      "-D",
      data,
      "-o",
      options,
      "-l",
      `${dir}/server.log`,
      "-t",
      String(_PG_CTL_TIMEOUT_S),
      "-w",
      "start",
    ]).then(() => {});
  const stop = (mode: "fast" | "immediate" = "fast") =>
    _run("pg_ctl", ["-D", data, "-m", mode, "-t", String(_PG_CTL_TIMEOUT_S), "-w", "stop"])
      .then(() => {});
  await start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let running = true;
  return {
    url,
    port,
    start: async () => {
      await start();
      running = true;
    },
    stop: async (mode) => {
      await stop(mode);
      running = false;
    },
    createDatabase: async (name: string) => {
      await _run("psql", [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        "postgres",
        "-c",
        `CREATE DATABASE "${name}"`,
      ]);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    [Symbol.asyncDispose]: async () => {
      if (running) await stop().catch(() => {});
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function _missing(): string {
  return "PostgreSQL's server binaries are not installed (apt-get install -y postgresql)";
}

let _skipAnnounced = false;

/**
 * Registers a test that needs a PostgreSQL server. Without the binaries it is
 * ignored and one line says why, except under CI=true, where it fails.
 */
export function postgresTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  if (POSTGRES_BIN_DIR !== undefined) {
    Deno.test({ name, fn });
    return;
  }
  if (isCi()) {
    Deno.test(name, () => {
      throw new Error(`CI=true requires PostgreSQL: ${_missing()}`);
    });
    return;
  }
  if (!_skipAnnounced) {
    _skipAnnounced = true;
    console.log(`Skipping PostgreSQL tests: ${_missing()}`);
  }
  Deno.test({ name, ignore: true, fn });
}
