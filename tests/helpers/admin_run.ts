/**
 * Shared by the tests that watch a real run from outside (a browser, a
 * Prometheus): agency files with known winners, tools that may be missing,
 * and where a test's output (screenshots) goes.
 */

import { type DataOptions, writeAgencyFile } from "../../lib/dev/agency_file.ts";

/**
 * Writes agency-1..N.csv into `dir`, agency k with `winners[k - 1]` winners.
 * @returns the files' paths, in agency order
 */
export async function writeAgencies(
  dir: string,
  bets: number,
  winners: readonly number[],
): Promise<string[]> {
  const files: string[] = [];
  for (const [index, count] of winners.entries()) {
    const options: DataOptions = {
      agencies: winners.length,
      bets,
      seed: 7,
      winners: count,
      out: dir,
    };
    files.push(await writeAgencyFile(options, index + 1));
  }
  return files;
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
