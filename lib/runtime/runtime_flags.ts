/**
 * Deno flags every server and client process runs with (tasks, Dockerfiles,
 * local clusters, the benchmark; a test checks they all agree).
 *
 * V8's young generation grows to 16 MiB semi-spaces by default; the ingest
 * allocates short-lived frames and rows fast, so the heap would sit near its
 * cap. 2 MiB semi-spaces keep client and server memory about half as high,
 * at the same or better speed.
 */
export const V8_FLAGS = "--v8-flags=--max-semi-space-size=2";

/** A permission set in deno.json's `permissions`, one per process kind. */
export type PermissionSetName = "server" | "client";

/**
 * Deno flags that grant a process its permission set from deno.json:
 * `server` (net, read, write, env) or `client` (net, read, env). Deno finds
 * deno.json from the script's folder, whatever the working directory. An
 * `--allow-<kind>` flag given as well replaces the set's entry for that kind
 * (the benchmark narrows net and paths that way).
 *
 * With `--quiet`: Deno 2.9 prints "Permissions in the config file is an
 * experimental feature" to stderr at every start with a set, and a spawned
 * process's output is read as its log. Uncaught errors still print.
 * @param name the set's key in deno.json
 * @returns the flags, to put before the script
 * @example permissionSetFlags("server") // ["--quiet", "--permission-set=server"]
 */
export function permissionSetFlags(name: PermissionSetName): string[] {
  return ["--quiet", `--permission-set=${name}`];
}
