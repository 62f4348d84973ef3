/**
 * Containers, offline images: the stand-ins `deno task images` builds when
 * no registry answers run like the images they replace. Built under test
 * tags, removed afterwards.
 */

import assert from "node:assert/strict";
import { dockerEngineStatus, findComposeCommand, imageId } from "../../lib/containers/docker.ts";
import { runCommand } from "../../lib/runtime/run_command.ts";
import { buildBusyboxStandin, buildDenoStandin, ensureImage } from "../../tools/images.ts";
import { containerTest } from "./_harness.ts";

async function withTestTag(name: string, body: (tag: string) => Promise<void>): Promise<void> {
  const tag = `tp0-test/${name}:${crypto.randomUUID().slice(0, 8)}`;
  try {
    await body(tag);
  } finally {
    await runCommand(["docker", "image", "rm", "--force", tag], { timeoutMs: 60_000 });
  }
}

function dockerRun(...args: string[]) {
  return runCommand(["docker", "run", "--rm", ...args], { timeoutMs: 60_000 });
}

containerTest(
  "dockerEngineStatus() and findComposeCommand() see the engine and a compose binary",
  async () => {
    const engine = await dockerEngineStatus();
    assert.equal(engine.reachable, true);
    const compose = await findComposeCommand();
    assert.ok(compose !== undefined && ["docker-compose", "compose"].includes(compose.at(-1)!));
  },
);

containerTest("busybox stand-in runs sh, echo, cat, nc and timeout", async () => {
  await withTestTag("busybox", async (tag) => {
    await buildBusyboxStandin(tag);
    const script =
      "echo hola | cat; for a in nc timeout sleep; do test -x /bin/$a || echo no $a; done; " +
      "timeout 5 sleep 0 && echo done";
    const run = await dockerRun(tag, "sh", "-c", script);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "hola\ndone\n");
  });
});

containerTest(
  "deno stand-in runs the pinned Deno as user deno with a writable DENO_DIR and the host CA bundle",
  async () => {
    await withTestTag("deno", async (tag) => {
      await buildDenoStandin(tag);
      const script = [
        "const dir = Deno.env.get('DENO_DIR');",
        "Deno.writeTextFileSync(`${dir}probe`, 'x');",
        "console.log(Deno.version.deno, Deno.uid(), dir, Deno.env.get('DENO_CERT') ?? 'none');",
      ].join(" ");
      const run = await dockerRun("--user", "deno", tag, "deno", "eval", script);
      assert.equal(run.code, 0, run.stderr);
      const [version, uid, dir, cert] = run.stdout.trim().split(" ");
      assert.equal(version, Deno.version.deno);
      assert.equal(uid, "1993");
      assert.equal(dir, "/deno-dir/");
      const hostHasCa = await Deno.stat("/etc/ssl/certs/ca-certificates.crt").then(
        () => true,
        () => false,
      );
      assert.equal(cert, hostHasCa ? "/etc/ssl/certs/ca-certificates.crt" : "none");
    });
  },
);

containerTest("ensureImage() keeps a present image without pulling or building", async () => {
  await withTestTag("present", async (tag) => {
    await buildBusyboxStandin(tag);
    const before = await imageId(tag);
    const lines: string[] = [];
    const source = await ensureImage(
      tag,
      () => Promise.reject(new Error("must not build")),
      1_000,
      (line) => lines.push(line),
    );
    assert.equal(source, "present");
    assert.deepEqual(lines, [`${tag}: present`]);
    assert.equal(await imageId(tag), before);
  });
});
