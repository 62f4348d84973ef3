/**
 * Containers over time: a config edit takes effect with a restart and no
 * rebuild (the container's image stays, and config is not part of any build),
 * and `stop -t 10` (SIGTERM) ends the server and a busy client gracefully
 * with exit code 0.
 */

import assert from "node:assert/strict";
import { parseINI, stringifyINI } from "confbox/ini";
import { buildImage, imageId } from "../../lib/containers/docker.ts";
import { APP_BUILD_ARGS, SERVER_IMAGE } from "../../lib/containers/images.ts";
import { fieldOf, linesOf } from "../../lib/dev/local_cluster.ts";
import { runCommand } from "../../lib/runtime/run_command.ts";
import { containerTest, ensureTestImages, REPO_DIR, withProject } from "./_harness.ts";

containerTest(
  "config change without rebuild: restart shows the new LOGGING_LEVEL and SERVER_LISTEN_BACKLOG, image id unchanged",
  async () => {
    await withProject({
      label: "config",
      mode: "echo",
      agencies: [],
      serverConfig: (section) => {
        section["LOGGING_LEVEL"] = "INFO";
        section["SERVER_LISTEN_BACKLOG"] = "5";
      },
    }, async (project) => {
      await project.composeOk("up", "--detach", "--no-build");
      await project.waitForLog("server", "action: listen | result: success");
      const before = linesOf(await project.logs("server"), "config");
      assert.equal(fieldOf(before.at(-1)!, "logging_level"), "INFO");
      assert.equal(fieldOf(before.at(-1)!, "listen_backlog"), "5");
      const containerImage = await project.inspect("server", "{{.Image}}");

      // Edit in place (same inode): a single-file bind mount keeps seeing it.
      const path = `${project.dir}/config/server.ini`;
      const config = parseINI<{ DEFAULT: Record<string, string> }>(
        await Deno.readTextFile(path),
      );
      config["DEFAULT"]["LOGGING_LEVEL"] = "DEBUG";
      config["DEFAULT"]["SERVER_LISTEN_BACKLOG"] = "17";
      await Deno.writeTextFile(path, stringifyINI(config));
      await project.composeOk("restart", "--timeout", "10", "server");
      await project.waitForLog("server", "listen_backlog: 17 | logging_level: DEBUG");

      const after = linesOf(await project.logs("server"), "config");
      assert.equal(after.length, before.length + 1, "one more config line");
      assert.equal(fieldOf(after.at(-1)!, "logging_level"), "DEBUG");
      assert.equal(fieldOf(after.at(-1)!, "listen_backlog"), "17");
      assert.equal(await project.inspect("server", "{{.Image}}"), containerImage);
    });
  },
);

/** Copies the repository (without .git and storage) so builds see a tree
 * nobody else is editing. */
async function snapshotRepo(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(REPO_DIR)) {
    if (entry.name === ".git" || entry.name === "storage") continue;
    const copied = await runCommand(["cp", "-R", `${REPO_DIR}/${entry.name}`, dir], {
      timeoutMs: 60_000,
    });
    assert.equal(copied.code, 0, copied.stderr);
  }
}

containerTest(
  "config is outside the build: editing server.ini rebuilds the same image id, editing server.ts does not",
  async () => {
    await ensureTestImages();
    const dir = await Deno.makeTempDir({ prefix: "tp0_e2e_context_" });
    const suffix = crypto.randomUUID().slice(0, 8);
    const tags = [`tp0-test/server:${suffix}-a`, `tp0-test/server:${suffix}-b`];
    try {
      await snapshotRepo(dir);
      const build = async (tag: string) => {
        await buildImage({ ...SERVER_IMAGE, tag }, dir, APP_BUILD_ARGS);
        return await imageId(tag);
      };
      const original = await build(tags[0]!);
      await Deno.writeTextFile(
        `${dir}/config/server.ini`,
        "\nLOGGING_LEVEL = DEBUG\nSERVER_LISTEN_BACKLOG = 17\n",
        { append: true },
      );
      assert.equal(await build(tags[0]!), original, "config edit keeps the image");
      await Deno.writeTextFile(`${dir}/server.ts`, "\n// edited\n", { append: true });
      assert.notEqual(await build(tags[1]!), original, "source edit changes the image");
    } finally {
      for (const tag of tags) {
        await runCommand(["docker", "image", "rm", tag], { timeoutMs: 60_000 });
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** Stops a service with `stop -t 10`; returns how long it took. */
async function stopTimed(
  project: { composeOk(...args: string[]): Promise<unknown> },
  service: string,
): Promise<number> {
  const started = performance.now();
  await project.composeOk("stop", "--timeout", "10", service);
  return performance.now() - started;
}

containerTest(
  "SIGTERM via stop -t 10: a client mid-run and the server log their closes and shutdown, exit code 0",
  async () => {
    await withProject({
      label: "sigterm",
      mode: "echo",
      agencies: [{ bets: 1, winners: 0 }],
      clientConfig: (config) => {
        config["loop"] = { amount: 10_000, period: "200ms" };
      },
    }, async (project) => {
      await project.composeOk("up", "--detach", "--no-build");
      await project.waitForLog("client1", "Message N°3");

      const clientStopMs = await stopTimed(project, "client1");
      assert.ok(
        clientStopMs < 9_000,
        `client stopped by SIGTERM, not SIGKILL (${clientStopMs} ms)`,
      );
      assert.equal(await project.inspect("client1", "{{.State.ExitCode}}"), "0");
      const client = await project.logs("client1");
      assert.equal(linesOf(client, "signal").length, 1, "client signal line");
      assert.ok(linesOf(client, "loop_finished").length === 0, "stopped mid-run");
      assert.match(client.at(-1)!, / action: shutdown \| result: success/);

      const serverStopMs = await stopTimed(project, "server");
      assert.ok(
        serverStopMs < 9_000,
        `server stopped by SIGTERM, not SIGKILL (${serverStopMs} ms)`,
      );
      assert.equal(await project.inspect("server", "{{.State.ExitCode}}"), "0");
      const server = await project.logs("server");
      for (const action of ["signal", "close_listener", "close_store"]) {
        assert.equal(linesOf(server, action).length, 1, `server ${action} line`);
      }
      assert.match(server.at(-1)!, / action: shutdown \| result: success/);
    });
  },
);
