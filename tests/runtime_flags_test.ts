import assert from "node:assert/strict";
import { V8_FLAGS } from "../lib/runtime/runtime_flags.ts";

const ROOT = new URL("../", import.meta.url);

Deno.test("V8_FLAGS is in the server and client tasks and in both Dockerfiles' entrypoints", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).tasks;
  for (const task of ["server", "client"]) {
    assert.ok(tasks[task].startsWith(`deno run ${V8_FLAGS} `), `task ${task}: ${tasks[task]}`);
  }
  for (const file of ["Dockerfile.server", "Dockerfile.client"]) {
    const entrypoint = (await Deno.readTextFile(new URL(file, ROOT)))
      .split("\n").find((line) => line.startsWith("ENTRYPOINT"));
    assert.ok(
      entrypoint?.startsWith(`ENTRYPOINT ["deno", "run", "${V8_FLAGS}", `),
      `${file}: ${entrypoint}`,
    );
  }
});
