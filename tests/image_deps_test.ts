import assert from "node:assert/strict";
import { type DenoConfig, type DenoLock, trimDenoConfig } from "../tools/image_deps.ts";

const ROOT = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))) as DenoConfig;
const lock = JSON.parse(await Deno.readTextFile(new URL("deno.lock", ROOT))) as DenoLock;
const nameOf = (key: string) => key.slice(0, key.indexOf("@", 1));

Deno.test("trimDenoConfig() keeps the named imports and their lock entries, nothing else", () => {
  const trimmed = trimDenoConfig(config, lock, ["confbox"]);
  assert.deepEqual(trimmed.config.imports, { confbox: config.imports!.confbox });
  assert.deepEqual(trimmed.config.tasks, config.tasks, "other keys stay");
  assert.deepEqual(Object.keys(trimmed.lock.npm!).map(nameOf), ["confbox"]);
  assert.deepEqual(Object.keys(trimmed.lock.specifiers!), [config.imports!.confbox]);
  assert.deepEqual(trimmed.lock.workspace?.dependencies, [config.imports!.confbox]);
  assert.ok(Object.keys(lock.npm!).some((key) => nameOf(key) === "playwright-core"));
});

Deno.test("trimDenoConfig() keeps a package's dependencies with their integrity", () => {
  const trimmed = trimDenoConfig(config, lock, ["js-yaml"]);
  assert.deepEqual(Object.keys(trimmed.lock.npm!).map(nameOf), ["argparse", "js-yaml"]);
  for (const [key, entry] of Object.entries(trimmed.lock.npm!)) {
    assert.deepEqual(entry, lock.npm![key]);
  }
  assert.deepEqual(Object.keys(trimDenoConfig(config, lock, []).lock.npm!), []);
});

Deno.test("trimDenoConfig() rejects a name that is not an npm import of deno.json", () => {
  assert.throws(
    () => trimDenoConfig(config, lock, ["left-pad"]),
    /"left-pad" is not an npm import of deno\.json/,
  );
  assert.throws(
    () => trimDenoConfig({ imports: { x: "npm:x@1.0.0" } }, { specifiers: {} }, ["x"]),
    /deno\.lock has no "npm:x@1\.0\.0": run deno install/,
  );
});
