import assert from "node:assert/strict";
import {
  DEPLOY_TIMEOUT_MS_DEFAULT,
  parseStackTaskArgs,
  readStackMeta,
} from "../tools/stack_task.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

Deno.test("parseStackTaskArgs() reads deploy and undeploy with their own flags", async (t) => {
  await t.step("defaults", () => {
    assert.deepEqual(parseStackTaskArgs(["deploy"]), {
      action: "deploy",
      file: "docker-stack.yaml",
      detach: false,
      timeoutMs: DEPLOY_TIMEOUT_MS_DEFAULT,
      volumes: false,
    });
  });
  await t.step("flags", () => {
    const args = parseStackTaskArgs([
      "deploy",
      "--",
      "--file",
      "s.yaml",
      "--detach",
      "--timeout",
      "90s",
    ]);
    assert.deepEqual(args, {
      action: "deploy",
      file: "s.yaml",
      detach: true,
      timeoutMs: 90_000,
      volumes: false,
    });
    assert.equal(
      (parseStackTaskArgs(["undeploy", "--volumes"]) as { volumes: boolean }).volumes,
      true,
    );
    assert.equal(parseStackTaskArgs(["--help"]), "help");
  });
  const refusals: [string[], RegExp][] = [
    [[], /expected deploy or undeploy/],
    [["up"], /expected deploy or undeploy, got "up"/],
    [["deploy", "--volumes"], /--volumes is for undeploy/],
    [["undeploy", "--detach"], /are for deploy/],
  ];
  for (const [args, pattern] of refusals) {
    await t.step(`refuses ${args.join(" ") || "nothing"}`, () => {
      assert.throws(() => parseStackTaskArgs(args), pattern);
    });
  }
});

Deno.test("readStackMeta() names a missing file, or one gen_compose did not write", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      readStackMeta(`${dir}/none.yaml`),
      /none\.yaml not found: generate it first/,
    );
    await Deno.writeTextFile(`${dir}/compose.yaml`, 'version: "3.8"\nservices: {}\n');
    await assert.rejects(readStackMeta(`${dir}/compose.yaml`), /no x-tp0 field/);
  });
});

Deno.test("readStackMeta() reads a --store postgres file's database image and volumes, which deploy and undeploy use", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/config`);
    await Deno.mkdir(`${dir}/data`);
    await Deno.writeTextFile(`${dir}/config/server.ini`, "[DEFAULT]\n");
    await Deno.writeTextFile(`${dir}/config/client.yaml`, "{}\n");
    await Deno.writeTextFile(`${dir}/data/agency-1.csv`, "Ana,Pérez,30000001,1980-05-01,7574\n");
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        ...[
          "run",
          "--allow-read",
          "--allow-write",
          new URL("../gen_compose.ts", import.meta.url).pathname,
        ],
        ...[
          "1",
          "--target",
          "swarm",
          "--store",
          "postgres",
          "--replicas",
          "2",
          "--output",
          "s.yaml",
        ],
      ],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    const meta = await readStackMeta(`${dir}/s.yaml`);
    assert.equal(meta.databaseImage, "tp0-postgres:15");
    assert.deepEqual(meta.volumes, ["postgres_data"]);
    assert.deepEqual(meta.labels, ["tp0.storage", "tp0.agency.1"]);
  });
});
