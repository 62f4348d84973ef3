/**
 * Containers, draws: what the exercise's black-box suite does between its
 * cases. `down`, new agency files, a newly generated compose file and `up`
 * are a new lottery: every agency uploads its whole new file and learns the
 * new data's winners, and the earlier draw stays in the storage volume.
 */

import assert from "node:assert/strict";
import { fieldOf, linesOf } from "../../lib/dev/local_cluster.ts";
import { BUSYBOX_IMAGE } from "../../lib/containers/images.ts";
import { runCommand } from "../../lib/runtime/run_command.ts";
import { type AgencySpec, containerTest, type TestProject, withProject } from "./_harness.ts";

/** Runs the project's agencies to their end; returns each one's logs. */
async function runAgencies(project: TestProject, agencies: readonly AgencySpec[]) {
  await project.composeOk("up", "--detach", "--no-build");
  const exitCodes = await Promise.all(
    agencies.map((_, index) => project.exitCode(`client${index + 1}`)),
  );
  assert.deepEqual(exitCodes, agencies.map(() => 0), `client exit codes in draw ${project.drawId}`);
  return Promise.all(agencies.map((_, index) => project.logs(`client${index + 1}`)));
}

containerTest(
  "down, new agency files, a new compose file and up: a new draw, every file uploaded whole, the new winners, the old draw kept",
  async () => {
    const first: AgencySpec[] = [{ bets: 250, winners: 2 }, { bets: 120, winners: 1 }];
    const second: AgencySpec[] = [{ bets: 300, winners: 3 }, { bets: 90, winners: 0 }];
    await withProject({ label: "draws", mode: "lottery", agencies: first }, async (project) => {
      const firstDraw = project.drawId;
      await runAgencies(project, first);
      await project.composeOk("down", "--timeout", "2");

      await project.deploy(second, 23);
      assert.notEqual(project.drawId, firstDraw, "a new compose file is a new draw");
      const logs = await runAgencies(project, second);
      for (const [index, spec] of second.entries()) {
        const summary = linesOf(logs[index]!, "carga_finalizada")[0] ?? "";
        assert.equal(fieldOf(summary, "draw_id"), project.drawId);
        assert.equal(fieldOf(summary, "bets_sent"), String(spec.bets), `client${index + 1} sent`);
        assert.equal(fieldOf(summary, "resumed_at"), "0", `client${index + 1} resumed nothing`);
        const told = linesOf(logs[index]!, "consulta_ganadores")[0] ?? "";
        assert.equal(fieldOf(told, "cant_ganadores"), String(spec.winners));
      }
      const server = await project.logs("server");
      const restores = linesOf(server, "restore");
      assert.equal(fieldOf(restores.at(-1)!, "draw_id"), project.drawId);
      assert.equal(fieldOf(restores.at(-1)!, "bets"), "0", "the new draw starts empty");
      const draws = linesOf(server, "sorteo").filter((line) =>
        fieldOf(line, "draw_id") === project.drawId
      );
      assert.equal(draws.length, 1);
      assert.equal(fieldOf(draws[0]!, "restored"), "false");

      const listing = await runCommand([
        "docker",
        "run",
        "--rm",
        "--volume",
        `${project.storageVolume}:/storage:ro`,
        BUSYBOX_IMAGE,
        "ls",
        "/storage/draws",
      ], { timeoutMs: 60_000 });
      assert.equal(listing.code, 0, listing.stderr);
      assert.deepEqual(
        listing.stdout.split("\n").filter(Boolean).sort(),
        [firstDraw, project.drawId].sort(),
      );
    });
  },
);
