/**
 * Shared by the tests that watch a real run from outside (a browser, a
 * Prometheus): agency files with known winners, tools that may be missing,
 * and where a test's output (screenshots) goes.
 */

import { writeAgencies } from "./agency_files.ts";
import { type LocalServer, startLocalServer } from "../../lib/dev/local_cluster.ts";

/** A watched run's server and what its agencies will upload. */
export interface WatchedRun {
  /** The admin port's bearer token. */
  token: string;
  /** Agency k's file is `files[k - 1]`. */
  files: string[];
  /** Bets of all the files. */
  total: number;
  server: LocalServer;
}

/**
 * Writes agency files into `dir`/data, agency k with `bets` bets and
 * `winners[k - 1]` winners, and starts a server for them in `dir`, its admin
 * port behind a fresh token.
 */
export async function startWatchedRun(
  dir: string,
  bets: number,
  winners: readonly number[],
): Promise<WatchedRun> {
  const token = crypto.randomUUID();
  const files = await writeAgencies(
    `${dir}/data`,
    winners.map((count) => ({ bets, winners: count })),
  );
  const server = await startLocalServer({
    STORAGE_DIR: dir,
    AGENCIES: String(winners.length),
    ADMIN_TOKEN: token,
  });
  return { token, files, total: bets * winners.length, server };
}

/**
 * Whether a program runs (`--version` exits 0).
 * @returns undefined when it does, else why not, in a few words
 */
export async function missingProgram(path: string): Promise<string | undefined> {
  try {
    const output = await new Deno.Command(path, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return output.success ? undefined : `${path} --version exited ${output.code}`;
  } catch {
    return `${path} is not installed`;
  }
}

/** Where tests write what a person may want to look at (never inside the repository's tracked files). */
export async function testOutputDir(): Promise<string> {
  const dir = Deno.env.get("TP0_TEST_OUTPUT") ??
    `${Deno.env.get("TMPDIR") ?? "/tmp"}/tp0-test-output`;
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Polls `probe` until it returns a value, for conditions only an outside
 * program's API can tell (a Prometheus query).
 * @throws {Error} naming `what` when nothing came within `limitMs`
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  limitMs = 30_000,
  pollMs = 200,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(`${what} not seen within ${limitMs} ms${last ? `: ${last}` : ""}`);
}
