/**
 * The course's contract: without `--store` (the file store), `deno task
 * compose N` and `--target swarm` write byte for byte what they wrote before
 * the PostgreSQL option existed. The expected files are committed in
 * tests/golden/; the generator runs here on fixed config, data and draw id.
 */

import assert from "node:assert/strict";
import { runCommand } from "../lib/runtime/run_command.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const SCRIPT = new URL("../gen_compose.ts", import.meta.url).pathname;
const GOLDEN = new URL("./golden/", import.meta.url);

/** Fixed inputs: a config change must not move the stack's config versions. */
const SERVER_INI = "[DEFAULT]\nSERVER_PORT = 12345\nSERVER_IP = server\nLOGGING_LEVEL = INFO";
const CLIENT_YAML = 'server:\n  address: "server:12345"\nbatch:\n  maxAmount: 10\n';
const DRAW_ID = "20261201-094200-1a2b";

/** Where the stack file's absolute paths start, in the committed copy. */
const DIR_PLACEHOLDER = "/GOLDEN_DIR";

async function generate(dir: string, args: string[]): Promise<string> {
  await Deno.mkdir(`${dir}/config`);
  await Deno.mkdir(`${dir}/data`);
  await Deno.writeTextFile(`${dir}/config/server.ini`, SERVER_INI);
  await Deno.writeTextFile(`${dir}/config/client.yaml`, CLIENT_YAML);
  for (let agency = 1; agency <= 5; agency += 1) {
    await Deno.writeTextFile(
      `${dir}/data/agency-${agency}.csv`,
      `Ana,Pérez,0000000${agency},1990-01-31,7574\n`,
    );
  }
  const run = await runCommand(
    [Deno.execPath(), "run", "--allow-read", "--allow-write", SCRIPT, ...args],
    { cwd: dir, timeoutMs: 60_000 },
  );
  assert.equal(run.code, 0, run.stderr);
  return run.stdout;
}

Deno.test("gen_compose.ts without --store writes the compose file byte for byte as the committed one", async () => {
  await withTempDir(async (dir) => {
    await generate(dir, ["5", "--draw", DRAW_ID]);
    const written = await Deno.readTextFile(`${dir}/docker-compose-dev.yaml`);
    assert.equal(written, await Deno.readTextFile(new URL("docker-compose-5.yaml", GOLDEN)));
  });
});

Deno.test("gen_compose.ts --target swarm without --store writes the stack file byte for byte as the committed one", async () => {
  await withTempDir(async (dir) => {
    await generate(dir, ["5", "--target", "swarm", "--draw", DRAW_ID]);
    const written = (await Deno.readTextFile(`${dir}/docker-stack.yaml`))
      .replaceAll(await Deno.realPath(dir), DIR_PLACEHOLDER);
    assert.equal(written, await Deno.readTextFile(new URL("docker-stack-5.yaml", GOLDEN)));
  });
});
