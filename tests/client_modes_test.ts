/**
 * client.ts loads each mode's modules only when that mode runs: a process
 * pays at start for every module it evaluates, so the echo loop must not
 * evaluate the upload's, nor a plain client the TLS files' reader.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

/** Specifiers of the value imports a module evaluates before its own code (not `import type`). */
function staticImports(source: string): string[] {
  const pattern = /^import\s+(?!type\b)[^;]*?\bfrom\s*"([^"]+)"/gms;
  return [...source.matchAll(pattern)].map((match) => match[1]!);
}

/** Specifiers of `import("…")` calls. */
function dynamicImports(source: string): string[] {
  return [...source.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)].map((match) => match[1]!);
}

Deno.test("client.ts imports each mode's modules only when that mode runs", async () => {
  const source = await Deno.readTextFile(`${ROOT}client.ts`);
  const modes = [
    "./lib/client/agency_upload.ts",
    "./lib/client/single_bet.ts",
    "./lib/config/bet_env.ts",
    "./lib/client/echo_client.ts",
  ];
  const eager = staticImports(source);
  assert.ok(eager.includes("./lib/config/client_config.ts"), "the static imports were read");
  assert.deepEqual(modes.filter((module) => eager.includes(module)), []);
  assert.deepEqual(modes.filter((module) => !dynamicImports(source).includes(module)), []);
});

Deno.test("the client's config loads the PEM reader only for TLS", async () => {
  const source = await Deno.readTextFile(`${ROOT}lib/config/client_config.ts`);
  assert.ok(staticImports(source).includes("./config_source.ts"), "the static imports were read");
  assert.ok(!staticImports(source).includes("./pem_file.ts"));
  assert.deepEqual(dynamicImports(source), ["./pem_file.ts"]);
});
