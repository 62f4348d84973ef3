/**
 * Containers, echo side: clients in echo mode against the real server image,
 * and validate_echo (busybox netcat on the compose network) against the real
 * server, a server that answers something else, one that answers nothing and
 * nothing at all.
 */

import assert from "node:assert/strict";
import { fieldOf, linesOf } from "../../lib/dev/local_cluster.ts";
import { BUSYBOX_IMAGE } from "../../lib/containers/images.ts";
import { runCommand } from "../../lib/runtime/run_command.ts";
import {
  validateEcho,
  type ValidateOptions,
  VERDICT_FAIL,
  VERDICT_SUCCESS,
} from "../../validate_echo.ts";
import { containerTest, REPO_DIR, type TestProject, withProject } from "./_harness.ts";

const LOOP_AMOUNT = 4;

async function runEchoClients(clients: number): Promise<void> {
  await withProject({
    label: `echo${clients}`,
    mode: "echo",
    agencies: Array.from({ length: clients }, () => ({ bets: 1, winners: 0 })),
    clientConfig: (config) => {
      config["loop"] = { amount: LOOP_AMOUNT, period: "100ms" };
    },
  }, async (project) => {
    await project.composeOk("up", "--detach", "--no-build");
    for (let k = 1; k <= clients; k += 1) {
      const service = `client${k}`;
      assert.equal(await project.exitCode(service), 0, `${service} exit code`);
      const lines = await project.logs(service);
      const messages = linesOf(lines, "receive_message").map((line) => fieldOf(line, "msg"));
      assert.deepEqual(
        messages,
        Array.from({ length: LOOP_AMOUNT }, (_, i) => `[CLIENT ${k}] Message N°${i + 1}`),
      );
      assert.equal(linesOf(lines, "loop_finished").length, 1, `${service} loop_finished`);
    }
    assert.equal(await project.inspect("server", "{{.State.Running}}"), "true");
  });
}

containerTest(
  "echo mode with 1 client: every message echoed, client exits 0, server keeps running",
  async () => {
    await runEchoClients(1);
  },
);

containerTest(
  "echo mode with 5 clients: every message echoed, clients exit 0, server keeps running",
  async () => {
    await runEchoClients(5);
  },
);

function optionsFor(project: TestProject, host: string, timeoutMs = 5_000): ValidateOptions {
  return {
    host,
    port: 12345,
    network: project.network,
    message: "Hola, ¿me escuchás? | 1",
    timeoutMs,
    image: BUSYBOX_IMAGE,
  };
}

/** Runs `deno task validate` as a user would (its permissions too), on the project's network. */
function runValidateCli(project: TestProject, ...flags: string[]) {
  return runCommand(
    [Deno.execPath(), "task", "validate", "--", "--network", project.network, ...flags],
    { timeoutMs: 60_000, cwd: REPO_DIR },
  );
}

/** Starts a busybox container on the project network under `alias`. */
async function startStandIn(project: TestProject, alias: string, script: string): Promise<void> {
  const result = await runCommand([
    "docker",
    "run",
    "--detach",
    "--rm",
    "--name",
    project.container(alias),
    "--network",
    project.network,
    "--network-alias",
    alias,
    BUSYBOX_IMAGE,
    "sh",
    "-c",
    script,
  ], { timeoutMs: 60_000 });
  assert.equal(result.code, 0, result.stderr);
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const listening = await runCommand(
      ["docker", "exec", project.container(alias), "sh", "-c", "netstat -ltn | grep -q ':12345 '"],
      { timeoutMs: 10_000 },
    );
    if (listening.code === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`stand-in ${alias} never listened on 12345`);
}

containerTest(
  "validate_echo passes against the real server and fails against wrong, silent or absent servers",
  async (t) => {
    await withProject({ label: "validate", mode: "echo", agencies: [] }, async (project) => {
      await project.composeOk("up", "--detach", "--no-build");
      await project.waitForLog("server", "action: listen | result: success");
      const standIns = ["liar", "mute", "hangup"];
      try {
        await t.step("success against the real server, printed exactly, exit 0", async () => {
          const run = await runValidateCli(project);
          assert.equal(run.stdout, `${VERDICT_SUCCESS}\n`);
          assert.equal(run.code, 0);
        });
        await t.step("fail with a reason when the server answers something else", async () => {
          await startStandIn(project, "liar", "while true; do echo nope | nc -l -p 12345; done");
          const result = await validateEcho(optionsFor(project, "liar"));
          assert.equal(result.ok, false);
          assert.match(!result.ok ? result.reason : "", /got "nope\\n"/);
        });
        await t.step("fail within the timeout when the server answers nothing", async () => {
          await startStandIn(
            project,
            "mute",
            "while true; do nc -l -p 12345 -e sleep 3600; done",
          );
          const started = performance.now();
          const result = await validateEcho(optionsFor(project, "mute", 2_000));
          assert.equal(result.ok, false);
          assert.match(!result.ok ? result.reason : "", /no answer within 2000 ms/);
          assert.ok(performance.now() - started < 10_000, "bounded by --timeout");
        });
        await t.step("fail when the server hangs up without answering", async () => {
          await startStandIn(project, "hangup", "while true; do nc -l -p 12345 < /dev/null; done");
          const result = await validateEcho(optionsFor(project, "hangup"));
          assert.equal(result.ok, false);
          assert.match(!result.ok ? result.reason : "", /closed the connection without answering/);
        });
        await t.step("fail, printed exactly, exit 1 when nothing listens", async () => {
          const run = await runValidateCli(project, "--port", "12399");
          assert.equal(run.stdout, `${VERDICT_FAIL}\n`);
          assert.match(run.stderr, /^reason: .*refused/m);
          assert.equal(run.code, 1);
        });
      } finally {
        for (const alias of standIns) {
          await runCommand(["docker", "rm", "--force", project.container(alias)], {
            timeoutMs: 60_000,
          });
        }
      }
    });
  },
);
