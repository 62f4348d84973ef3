/**
 * lib/'s public surface stays what its users need: every exported function,
 * class, constant or variable is imported and named by another file (lib/,
 * an entry file, bench/ or a test). Exported types are left out: an
 * exported function's option and result types belong to its signature.
 */

import assert from "node:assert/strict";

const _ROOT = new URL("../", import.meta.url).pathname;
const _SKIPPED_DIRS = new Set([".git", "node_modules", "storage", "out"]);

async function _sourceFiles(dir: string, files: string[] = []): Promise<string[]> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && !_SKIPPED_DIRS.has(entry.name)) await _sourceFiles(path, files);
    else if (entry.isFile && entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

/** Value exports (not types) declared in `text`. */
function valueExports(text: string): string[] {
  const declared =
    /^export\s+(?:async\s+)?(?:function\*?|class|const|let|enum)\s+([A-Za-z0-9_$]+)/gm;
  return [...text.matchAll(declared)].map((match) => match[1]!);
}

/** Files named by a static or dynamic relative import in `text`, resolved from `file`. */
function importedFiles(file: string, text: string): string[] {
  const specifiers = /(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+\.ts)["']/g;
  return [...text.matchAll(specifiers)].map((match) =>
    new URL(match[1]!, `file://${file}`).pathname
  );
}

/** `file: name` for each value export of lib/ that no importer of its file names. */
async function unusedValueExports(): Promise<string[]> {
  const texts = new Map<string, string>();
  for (const file of await _sourceFiles(_ROOT.replace(/\/$/, ""))) {
    texts.set(new URL(`file://${file}`).pathname, await Deno.readTextFile(file));
  }
  const importers = new Map<string, string[]>();
  for (const [file, text] of texts) {
    for (const imported of importedFiles(file, text)) {
      importers.set(imported, [...importers.get(imported) ?? [], file]);
    }
  }
  const unused: string[] = [];
  for (const [file, text] of texts) {
    if (!file.startsWith(`${_ROOT}lib/`)) continue;
    for (const name of valueExports(text)) {
      const named = new RegExp(`\\b${name.replaceAll("$", "\\$")}\\b`);
      const users = importers.get(file) ?? [];
      if (!users.some((user) => named.test(texts.get(user)!))) {
        unused.push(`${file.slice(_ROOT.length)}: ${name}`);
      }
    }
  }
  return unused.sort();
}

Deno.test("valueExports() finds functions, classes and constants, not types", () => {
  const text = [
    "export function parse() {}",
    "export async function load() {}",
    "export class Store {}",
    "export const LIMIT = 1;",
    "export interface Options {}",
    "export type Kind = 1;",
    "function _private() {}",
  ].join("\n");
  assert.deepEqual(valueExports(text), ["parse", "load", "Store", "LIMIT"]);
});

Deno.test("importedFiles() resolves static and dynamic relative imports", () => {
  const text = 'import { a } from "./a.ts";\nconst b = () => import("../lib/b.ts");\n' +
    'import x from "npm:x";';
  assert.deepEqual(importedFiles("/repo/tools/t.ts", text), ["/repo/tools/a.ts", "/repo/lib/b.ts"]);
});

Deno.test("every value lib/ exports is imported and named by another file", async () => {
  assert.deepEqual(await unusedValueExports(), []);
});
