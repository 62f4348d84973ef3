/**
 * Trims deno.json and deno.lock (in the working directory) to the npm
 * packages one image's program imports, so `deno install --frozen` in the
 * image's dependency layer installs only those. `deno install`, even with
 * `--entrypoint`, installs every npm import of deno.json (the lockfile's
 * workspace list), and `deno run` then expects all of them cached: the
 * server would carry the tests' playwright-core. Each Dockerfile names its
 * packages; tests/images_test.ts checks them against `deno info`.
 *
 * deno run --no-config --no-lock --allow-read=deno.json,deno.lock \
 *   --allow-write=deno.json,deno.lock tools/image_deps.ts NAME...
 *
 * It runs before the sources are copied, so it imports nothing: editing
 * lib/ keeps the dependency layer cached. Lock entries are copied as they
 * are (integrity included); only what the packages do not need is dropped.
 */

/** The parts of deno.json this reads; every other key is kept as it is. */
export interface DenoConfig {
  imports?: Record<string, string>;
  [key: string]: unknown;
}

/** The parts of a version 5 deno.lock this reads. */
export interface DenoLock {
  specifiers?: Record<string, string>;
  npm?: Record<string, { dependencies?: string[]; [key: string]: unknown }>;
  workspace?: { dependencies?: string[]; [key: string]: unknown };
  [key: string]: unknown;
}

/** The npm lock key (`name@version`) a lock dependency entry names. */
function _npmKey(npm: Readonly<Record<string, unknown>>, dependency: string): string {
  if (dependency in npm) return dependency;
  const keys = Object.keys(npm).filter((key) => key.startsWith(`${dependency}@`));
  if (keys.length !== 1) {
    throw new SyntaxError(`deno.lock names npm package "${dependency}" ${keys.length} times`);
  }
  return keys[0]!;
}

/**
 * Keeps the imports `names` of deno.json and, of deno.lock, their
 * specifiers, their npm packages and those packages' dependencies.
 * @param names import names of deno.json (e.g. "confbox")
 * @returns the trimmed config and lock; the inputs are not changed
 * @throws {TypeError} when a name is not an npm import of deno.json
 * @example trimDenoConfig(config, lock, ["confbox"]).lock.npm // { "confbox@0.3.2": … }
 */
export function trimDenoConfig(
  config: DenoConfig,
  lock: DenoLock,
  names: readonly string[],
): { config: DenoConfig; lock: DenoLock } {
  const imports: Record<string, string> = {};
  for (const name of names) {
    const target = config.imports?.[name];
    if (target === undefined || !target.startsWith("npm:")) {
      throw new TypeError(`"${name}" is not an npm import of deno.json`);
    }
    imports[name] = target;
  }
  const targets = new Set(Object.values(imports));
  const npm = lock.npm ?? {};
  const kept: Record<string, NonNullable<DenoLock["npm"]>[string]> = {};
  const pending = [...targets].map((target) => {
    const version = lock.specifiers?.[target];
    if (version === undefined) {
      throw new TypeError(`deno.lock has no "${target}": run deno install`);
    }
    const spec = target.slice("npm:".length);
    const at = spec.indexOf("@", 1);
    return `${at === -1 ? spec : spec.slice(0, at)}@${version}`;
  });
  while (pending.length > 0) {
    const key = _npmKey(npm, pending.pop()!);
    if (key in kept) continue;
    kept[key] = npm[key]!;
    pending.push(...(npm[key]!.dependencies ?? []));
  }
  const specifiers = Object.fromEntries(
    Object.entries(lock.specifiers ?? {}).filter(([specifier]) => targets.has(specifier)),
  );
  const workspace = lock.workspace === undefined ? undefined : {
    ...lock.workspace,
    dependencies: (lock.workspace.dependencies ?? []).filter((target) => targets.has(target)),
  };
  return {
    config: { ...config, imports },
    lock: {
      ...lock,
      specifiers,
      npm: Object.fromEntries(Object.entries(kept).sort(([a], [b]) => a < b ? -1 : 1)),
      ...(workspace === undefined ? {} : { workspace }),
    },
  };
}

if (import.meta.main) {
  const config = JSON.parse(await Deno.readTextFile("deno.json")) as DenoConfig;
  const lock = JSON.parse(await Deno.readTextFile("deno.lock")) as DenoLock;
  const trimmed = trimDenoConfig(config, lock, Deno.args);
  await Deno.writeTextFile("deno.json", `${JSON.stringify(trimmed.config, null, 2)}\n`);
  await Deno.writeTextFile("deno.lock", `${JSON.stringify(trimmed.lock, null, 2)}\n`);
  console.log(
    `deno.json and deno.lock trimmed to ${Object.keys(trimmed.lock.npm ?? {}).join(", ")}`,
  );
}
