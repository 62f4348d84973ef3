/** Temporary directories that are removed whatever the test's outcome. */

/**
 * Runs `body` with a fresh temporary directory and removes it afterwards.
 * @returns what `body` returns
 */
export async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "tp0_test_" });
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
