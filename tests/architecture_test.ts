/**
 * The map of the code: which folder of lib/ may import which, kept true by
 * reading every import of lib/, the entry files (root and tools/) and bench/.
 */

import assert from "node:assert/strict";
import {
  type ImportEdge,
  importViolations,
  LAYER_IMPORTS,
  readImportGraph,
} from "./helpers/import_graph.ts";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("every import of lib/, the entry files and bench/ follows the allowed directions", async () => {
  const edges = await readImportGraph(ROOT);
  assert.ok(edges.length > 100, `read only ${edges.length} imports`);
  assert.deepEqual(importViolations(edges, LAYER_IMPORTS), []);
});

Deno.test("the root holds the programs and the course's scripts; other entry files are in tools/", async () => {
  const root: string[] = [];
  for await (const entry of Deno.readDir(ROOT)) {
    if (entry.isFile && entry.name.endsWith(".ts")) root.push(entry.name);
  }
  assert.deepEqual(root.sort(), [
    "client.ts",
    "gen_compose.ts",
    "healthcheck.ts",
    "server.ts",
    "validate_echo.ts",
  ]);
});

Deno.test("importViolations() names a forbidden edge, an import of an entry file and a cycle", async (t) => {
  const edge = (from: string, to: string): ImportEdge => ({ from, to });
  await t.step("server -> client is forbidden", () => {
    assert.deepEqual(
      importViolations([edge("lib/server/a.ts", "lib/client/b.ts")], LAYER_IMPORTS),
      ["lib/server/a.ts imports lib/client/b.ts: server may not import client"],
    );
  });
  await t.step("server -> admin is forbidden (admin reads the server, not the other way)", () => {
    assert.deepEqual(
      importViolations([edge("lib/server/a.ts", "lib/admin/b.ts")], LAYER_IMPORTS),
      ["lib/server/a.ts imports lib/admin/b.ts: server may not import admin"],
    );
  });
  await t.step("a product folder -> dev/ is forbidden", () => {
    assert.deepEqual(
      importViolations([edge("lib/store/a.ts", "lib/dev/b.ts")], LAYER_IMPORTS),
      ["lib/store/a.ts imports lib/dev/b.ts: store may not import dev"],
    );
  });
  await t.step("anything -> an entry file is forbidden", () => {
    assert.deepEqual(
      importViolations([edge("bench/a.ts", "gen_compose.ts")], LAYER_IMPORTS),
      ["bench/a.ts imports gen_compose.ts: nothing may import an entry file"],
    );
    assert.deepEqual(
      importViolations([edge("lib/dev/a.ts", "tools/gen_data.ts")], LAYER_IMPORTS),
      ["lib/dev/a.ts imports tools/gen_data.ts: nothing may import an entry file"],
    );
  });
  await t.step("a file outside every folder is named", () => {
    assert.deepEqual(
      importViolations([edge("lib/x.ts", "lib/limits.ts")], LAYER_IMPORTS),
      ["lib/x.ts is in no folder of the map"],
    );
  });
  await t.step("a cycle inside one folder is named", () => {
    assert.deepEqual(
      importViolations(
        [edge("lib/bet/a.ts", "lib/bet/b.ts"), edge("lib/bet/b.ts", "lib/bet/a.ts")],
        LAYER_IMPORTS,
      ),
      ["import cycle: lib/bet/a.ts -> lib/bet/b.ts -> lib/bet/a.ts"],
    );
  });
  await t.step("allowed edges pass", () => {
    assert.deepEqual(
      importViolations(
        [
          edge("server.ts", "lib/server/a.ts"),
          edge("tools/demo.ts", "lib/dev/local_cluster.ts"),
          edge("lib/server/a.ts", "lib/store/b.ts"),
          edge("bench/a.ts", "lib/dev/c.ts"),
          edge("lib/dev/c.ts", "lib/limits.ts"),
        ],
        LAYER_IMPORTS,
      ),
      [],
    );
  });
});

Deno.test("the README's layout map names every folder of lib/ with exactly the imports the map allows", async () => {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const rows = [...readme.matchAll(/^\| `lib\/([a-z_]+)(?:\/|\.ts)` +\|[^|]*\| ([^|]*?) +\|$/gm)]
    .map((match) => [match[1]!, match[2]!] as const);
  const folders: string[] = [];
  for await (const entry of Deno.readDir(`${ROOT}lib`)) {
    if (entry.isDirectory) folders.push(entry.name);
  }
  assert.deepEqual(
    rows.map(([folder]) => folder).filter((folder) => folder !== "limits").sort(),
    folders.sort(),
    "one README row per folder of lib/",
  );
  for (const [folder, text] of rows) {
    if (text === "every product folder" || text === "nothing") continue;
    assert.deepEqual(
      text.split(", ").sort(),
      [...LAYER_IMPORTS[folder]!].sort(),
      `README row of lib/${folder}/`,
    );
  }
});
