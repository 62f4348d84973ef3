import assert from "node:assert/strict";
import { CONTAINER_PATHS } from "../lib/containers/compose_document.ts";
import { SECRETS_DIR } from "../lib/containers/credentials.ts";
import {
  APP_BUILD_ARGS,
  CLIENT_IMAGE,
  DENO_IMAGE,
  DENO_VERSION,
  HEALTHCHECK_COMMAND,
  SERVER_IMAGE,
} from "../lib/containers/images.ts";

const ROOT = new URL("../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, ROOT));

/** Each image and the entry files its program runs. `deno info` lists the
 * modules an entry loads with `await import("…")` too (the server's
 * PostgreSQL client), so the checks below cover them. */
const PROGRAMS = [
  { image: SERVER_IMAGE, entries: ["server.ts", "healthcheck.ts"] },
  { image: CLIENT_IMAGE, entries: ["client.ts"] },
];

Deno.test("DENO_VERSION is the version .ci/run installs and the running Deno", async () => {
  assert.match(
    await read(".ci/run"),
    new RegExp(`^DENO_VERSION="${DENO_VERSION.replaceAll(".", "\\.")}"`, "m"),
  );
  assert.equal(DENO_IMAGE, `denoland/deno:${DENO_VERSION}`);
  assert.deepEqual(APP_BUILD_ARGS, { DENO_VERSION });
});

Deno.test("Dockerfiles default DENO_VERSION to the pin and build FROM the pinned image", async (t) => {
  for (const image of [SERVER_IMAGE, CLIENT_IMAGE]) {
    await t.step(image.dockerfile, async () => {
      const text = await read(image.dockerfile);
      assert.match(
        text,
        new RegExp(`^ARG DENO_VERSION=${DENO_VERSION.replaceAll(".", "\\.")}$`, "m"),
      );
      assert.match(text, /^FROM denoland\/deno:\$\{DENO_VERSION\}$/m);
    });
  }
});

Deno.test("Dockerfiles use only exec form, run as deno and never grant -A", async (t) => {
  for (const image of [SERVER_IMAGE, CLIENT_IMAGE]) {
    await t.step(image.dockerfile, async () => {
      const text = await read(image.dockerfile);
      for (const line of text.split("\n").filter((line) => /^(RUN|CMD|ENTRYPOINT)\b/.test(line))) {
        assert.match(line, /^\w+ \[/, `exec form: ${line}`);
      }
      assert.match(text, /^USER deno$/m);
      assert.doesNotMatch(text, /--allow-all|"-A"/);
      assert.doesNotMatch(text, /^# syntax=|--mount=|^RUN <</m, "no BuildKit-only syntax");
    });
  }
});

Deno.test("Dockerfiles grant Deno exactly the container paths compose mounts", async () => {
  // Continuation lines joined, as the builder reads them.
  const server = (await read(SERVER_IMAGE.dockerfile)).replace(/\\\n\s*/g, " ");
  const client = await read(CLIENT_IMAGE.dockerfile);
  assert.ok(
    server.includes(`"--allow-read=/config,${CONTAINER_PATHS.storageDir},${SECRETS_DIR}"`),
  );
  assert.ok(server.includes(`"--allow-write=${CONTAINER_PATHS.storageDir}"`));
  assert.ok(server.includes(`SERVER_CONFIG=${CONTAINER_PATHS.serverConfig}`));
  assert.ok(server.includes(`STORAGE_DIR=${CONTAINER_PATHS.storageDir}`));
  assert.match(server, /^HEALTHCHECK .*CMD \[.*"healthcheck\.ts"\]$/m);
  const healthcheck = /^HEALTHCHECK .*CMD (\[.*\])$/m.exec(server)?.[1] ?? "[]";
  assert.deepEqual(JSON.parse(healthcheck), HEALTHCHECK_COMMAND, "the stack runs the same check");
  assert.ok(client.includes(`"--allow-read=/config,${CONTAINER_PATHS.dataDir},${SECRETS_DIR}"`));
  assert.ok(client.includes(`CLI_CONFIG=${CONTAINER_PATHS.clientConfig}`));
});

Deno.test(".dockerignore is an allow-list that keeps config, data, tests, storage and .git out", async () => {
  const patterns = (await read(".dockerignore")).split("\n").filter((line) =>
    line !== "" && !line.startsWith("#")
  );
  assert.equal(patterns[0], "*", "everything excluded first");
  const allowed = patterns.slice(1).map((pattern) => {
    assert.ok(pattern.startsWith("!"), `only re-inclusions after *: ${pattern}`);
    return pattern.slice(1).replace(/\/$/, "");
  });
  for (const kept of ["config", "data", "tests", "storage", ".git", "docker-compose-dev.yaml"]) {
    assert.ok(!allowed.includes(kept), `${kept} stays out`);
  }
  for (
    const needed of [
      "deno.json",
      "deno.lock",
      "server.ts",
      "client.ts",
      "healthcheck.ts",
      "tools/image_deps.ts",
      "lib",
    ]
  ) {
    assert.ok(allowed.includes(needed), `${needed} is in the context`);
  }
});

/** Every module specifier `entries` load, as `deno info` sees them. */
async function modulesLoadedBy(entries: string[]): Promise<string[]> {
  const specifiers: string[] = [];
  for (const entry of entries) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
      modules: { specifier: string }[];
    };
    specifiers.push(...graph.modules.map((module) => module.specifier));
  }
  return specifiers;
}

/** The repository folders of lib/ (and lib/limits.ts) that `entries` load. */
async function libFoldersLoadedBy(entries: string[]): Promise<string[]> {
  const folders = new Set<string>();
  for (const specifier of await modulesLoadedBy(entries)) {
    const path = specifier.slice(ROOT.href.length);
    if (!specifier.startsWith(ROOT.href) || !path.startsWith("lib/")) continue;
    folders.add(path === "lib/limits.ts" ? path : `${path.slice(0, path.lastIndexOf("/"))}/`);
  }
  return [...folders].sort();
}

/** The deno.json import names of the npm packages `entries` load (`npm:/confbox@0.3.2/ini` -> confbox). */
async function npmImportsLoadedBy(entries: string[]): Promise<string[]> {
  const imports = (JSON.parse(await read("deno.json")) as { imports: Record<string, string> })
    .imports;
  const names = new Set<string>();
  for (const specifier of await modulesLoadedBy(entries)) {
    const match = /^npm:\/?(@?[^@/]+(?:\/[^@/]+)?@[^/]+)/.exec(specifier);
    if (match === null) continue;
    const name = Object.keys(imports).find((key) => imports[key] === `npm:${match[1]}`);
    assert.ok(name !== undefined, `${specifier} is not an import of deno.json`);
    names.add(name);
  }
  return [...names].sort();
}

Deno.test("Dockerfiles copy exactly the lib/ folders their programs load", async (t) => {
  for (const { image, entries } of PROGRAMS) {
    await t.step(image.dockerfile, async () => {
      const copied = [...(await read(image.dockerfile)).matchAll(/^COPY (lib\/\S*) /gm)]
        .map((match) => match[1]!).sort();
      assert.deepEqual(copied, await libFoldersLoadedBy(entries));
    });
  }
});

Deno.test("Dockerfiles install only the npm packages their programs import", async (t) => {
  for (const { image, entries } of PROGRAMS) {
    await t.step(image.dockerfile, async () => {
      const text = await read(image.dockerfile);
      const steps = text.split("\n").filter((line) =>
        /^RUN \["deno", "(install|run|cache)"/.test(line)
      );
      const trim = steps.findIndex((line) => line.includes('"tools/image_deps.ts"'));
      assert.ok(trim >= 0, "deno.json and deno.lock are trimmed by tools/image_deps.ts");
      assert.equal(steps[trim + 1], 'RUN ["deno", "install", "--frozen"]', "then installed");
      const trimArgs = JSON.parse(steps[trim]!.slice("RUN ".length)) as string[];
      assert.deepEqual(
        trimArgs.slice(trimArgs.indexOf("tools/image_deps.ts") + 1).sort(),
        await npmImportsLoadedBy(entries),
      );
    });
  }
});

Deno.test(".ci/run installs Debian's postgresql when PostgreSQL 15 is missing, before deno task images", async () => {
  const text = await read(".ci/run");
  const install = text.indexOf("apt-get install -y postgresql");
  assert.ok(install > 0, "installs postgresql");
  assert.ok(text.includes("/usr/lib/postgresql/15/bin/postgres"), "checks the program first");
  assert.ok(install < text.indexOf("\ndeno task images"), "before the images are made");
});
