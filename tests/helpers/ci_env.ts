/** Whether the tests run under CI, where a missing tool fails its tests instead of skipping them. */

/** Whether CI=true; false without env permission, so a module calling it still loads. */
export function isCi(): boolean {
  try {
    return Deno.env.get("CI") === "true";
  } catch {
    return false;
  }
}
