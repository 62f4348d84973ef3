/**
 * Reads the relative imports of lib/, the entry files (the root's and tools/)
 * and bench/, and checks them against the folders' allowed directions
 * (tests/architecture_test.ts).
 */

/** One import: the importing and the imported file, relative to the repository root. */
export interface ImportEdge {
  from: string;
  to: string;
}

/**
 * What each folder may import besides itself. `limits` is lib/limits.ts,
 * `entry` the programs at the repository root and in tools/ (nothing may
 * import them),
 * `bench` the benchmark. Product folders never import dev/.
 */
const _DEV_MAY_IMPORT = [
  "containers",
  "admin",
  "server",
  "store",
  "client",
  "protocol",
  "bet",
  "config",
  "runtime",
  "limits",
] as const;

export const LAYER_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  limits: [],
  runtime: ["limits"],
  bet: ["runtime", "limits"],
  config: ["bet", "runtime", "limits"],
  protocol: ["bet", "runtime", "limits"],
  store: ["protocol", "bet", "runtime", "limits"],
  server: ["store", "protocol", "bet", "config", "runtime", "limits"],
  client: ["protocol", "bet", "config", "runtime", "limits"],
  containers: ["protocol", "bet", "config", "runtime", "limits"],
  admin: ["server", "store", "protocol", "config", "runtime", "limits"],
  dev: _DEV_MAY_IMPORT,
  bench: ["dev", ..._DEV_MAY_IMPORT],
  entry: ["dev", ..._DEV_MAY_IMPORT],
};

const _SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.\.?\/[^"']+)["']/g;

/** The folder of the map a repository path belongs to, or undefined. */
export function layerOf(path: string): string | undefined {
  if (path === "lib/limits.ts") return "limits";
  if (!path.includes("/")) return "entry";
  const [top, folder] = path.split("/");
  if (top === "tools" && path.split("/").length === 2) return "entry";
  if (top === "bench") return "bench";
  if (top === "lib" && folder !== undefined && path.split("/").length === 3) return folder;
  return undefined;
}

async function* _sources(root: string, dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(`${root}${dir}`)) {
    const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory && ["lib", "bench", "tools"].includes(path.split("/")[0]!)) {
      yield* _sources(root, path);
    } else if (entry.isFile && path.endsWith(".ts")) {
      if (path.includes("/") || dir === "") yield path;
    }
  }
}

/**
 * Every relative import (static, re-export or dynamic with a literal) of the
 * .ts files under lib/, bench/ and tools/ and at the root.
 * @param root the repository root, ending in `/`
 */
export async function readImportGraph(root: string): Promise<ImportEdge[]> {
  const edges: ImportEdge[] = [];
  for await (const from of _sources(root, "")) {
    const text = await Deno.readTextFile(`${root}${from}`);
    for (const match of text.matchAll(_SPECIFIER)) {
      const url = new URL(match[1]!, `file:///${from}`);
      edges.push({ from, to: url.pathname.slice(1) });
    }
  }
  return edges;
}

function _cycles(edges: readonly ImportEdge[]): string[] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to]);
  const done = new Set<string>();
  const path: string[] = [];
  const found: string[] = [];
  const visit = (file: string): void => {
    const open = path.indexOf(file);
    if (open >= 0) {
      found.push(`import cycle: ${[...path.slice(open), file].join(" -> ")}`);
      return;
    }
    if (done.has(file)) return;
    path.push(file);
    for (const to of next.get(file) ?? []) visit(to);
    path.pop();
    done.add(file);
  };
  for (const file of next.keys()) visit(file);
  return found;
}

/**
 * The edges that break the map, and every cycle, as one sentence each.
 * @returns an empty list when the graph follows the map
 */
export function importViolations(
  edges: readonly ImportEdge[],
  allowed: Readonly<Record<string, readonly string[]>>,
): string[] {
  const violations: string[] = [];
  const unmapped = new Set<string>();
  for (const { from, to } of edges) {
    const fromLayer = layerOf(from);
    const toLayer = layerOf(to);
    for (const [path, layer] of [[from, fromLayer], [to, toLayer]] as const) {
      if ((layer === undefined || allowed[layer] === undefined) && !unmapped.has(path)) {
        unmapped.add(path);
        violations.push(`${path} is in no folder of the map`);
      }
    }
    if (fromLayer === undefined || toLayer === undefined) continue;
    if (toLayer === "entry") {
      violations.push(`${from} imports ${to}: nothing may import an entry file`);
    } else if (fromLayer !== toLayer && !(allowed[fromLayer] ?? []).includes(toLayer)) {
      violations.push(`${from} imports ${to}: ${fromLayer} may not import ${toLayer}`);
    }
  }
  return [...violations, ..._cycles(edges)];
}
