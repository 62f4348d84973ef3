/**
 * Containers, admin side: the server image's admin port is published on the
 * host's loopback only and answers there (/readyz, /metrics with the bets the
 * agencies stored); the image's HEALTHCHECK uses /readyz, so health checks
 * leave no echo lines in the server log; the agencies' network reaches the
 * lottery port but not the admin port.
 */

import assert from "node:assert/strict";
import { ADMIN_PORT_DEFAULT } from "../../lib/containers/compose_document.ts";
import { BUSYBOX_IMAGE } from "../../lib/containers/images.ts";
import { linesOf } from "../../lib/dev/local_cluster.ts";
import { runCommand } from "../../lib/runtime/run_command.ts";
import { containerTest, withProject } from "./_harness.ts";

/** Bound on the server container turning healthy: the first check runs 10 s after the start. */
const _HEALTHY_WITHIN_MS = 90_000;

containerTest(
  "admin port: published on 127.0.0.1 only, /readyz is the HEALTHCHECK, /metrics counts the stored bets, agencies cannot reach it",
  async () => {
    await withProject({
      label: "admin",
      mode: "lottery",
      agencies: [{ bets: 150, winners: 2 }, { bets: 70, winners: 0 }],
    }, async (project) => {
      await project.composeOk("up", "--detach", "--no-build");
      assert.deepEqual(
        await Promise.all([project.exitCode("client1"), project.exitCode("client2")]),
        [0, 0],
      );
      const address = await project.publishedAddress("server", ADMIN_PORT_DEFAULT);
      assert.match(address, /^127\.0\.0\.1:\d+$/, "published on the host's loopback only");

      const ready = await fetch(`http://${address}/readyz`);
      assert.equal(ready.status, 200);
      assert.equal(await ready.text(), "ready\n");
      const metrics = await (await fetch(`http://${address}/metrics`)).text();
      assert.match(metrics, /^tp0_bets_stored 220$/m);
      assert.match(metrics, /^tp0_draw_state\{state="drawn",draw_id="[^"]+"\} 1$/m);

      const deadline = Date.now() + _HEALTHY_WITHIN_MS;
      let health = "";
      while (Date.now() < deadline) {
        health = await project.inspect("server", "{{.State.Health.Status}}");
        if (health === "healthy") break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      assert.equal(health, "healthy", "the HEALTHCHECK (GET /readyz) passes");
      const server = await project.logs("server");
      assert.equal(linesOf(server, "receive_message").length, 0, "no echo line from health checks");

      // From the agencies' network: the lottery port echoes, the admin port is not there.
      const probe = await runCommand([
        "docker",
        "run",
        "--rm",
        "--network",
        project.network,
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        `echo hola | timeout 5 nc server 12345; ` +
        `if wget -T 3 -qO- http://server:${ADMIN_PORT_DEFAULT}/healthz; then echo ADMIN_REACHED; ` +
        `else echo admin_unreachable; fi`,
      ], { timeoutMs: 60_000 });
      assert.equal(probe.code, 0, probe.stderr);
      assert.deepEqual(probe.stdout.trim().split("\n"), ["hola", "admin_unreachable"]);
    });
  },
);
