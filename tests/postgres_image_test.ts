import assert from "node:assert/strict";
import {
  POSTGRES_BIN_DIR,
  POSTGRES_ENTRYPOINT_SCRIPT,
  POSTGRES_PROGRAMS,
  POSTGRES_UID,
  writePostgresRootfs,
} from "../lib/containers/postgres_image.ts";
import { POSTGRES_DATA_DIR, POSTGRES_HEALTHCHECK_COMMAND } from "../lib/containers/images.ts";
import { runCommand } from "../lib/runtime/run_command.ts";
import { ensurePostgresImage, hostPostgresBinDir } from "../tools/images.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const BUSYBOX = "/bin/busybox";
const hasBusybox = await Deno.stat(BUSYBOX).then((info) => info.isFile, () => false);
const hostPostgres = await hostPostgresBinDir();

/** Runs the entrypoint with busybox sh and `environment` only. */
async function runEntrypoint(environment: Record<string, string>) {
  return await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/entrypoint`, POSTGRES_ENTRYPOINT_SCRIPT);
    const output = await new Deno.Command(BUSYBOX, {
      args: ["sh", `${dir}/entrypoint`],
      env: { PATH: "/nonexistent", PGDATA: `${dir}/data`, ...environment },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
  });
}

Deno.test({
  name: "the database entrypoint is valid sh for busybox",
  ignore: !hasBusybox,
  fn: async () => {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/entrypoint`, POSTGRES_ENTRYPOINT_SCRIPT);
      const result = await runCommand([BUSYBOX, "sh", "-n", `${dir}/entrypoint`], {
        timeoutMs: 10_000,
      });
      assert.equal(result.code, 0, result.stderr);
    });
  },
});

Deno.test({
  name: "the database entrypoint refuses a bad user, database or password before running anything",
  ignore: !hasBusybox,
  fn: async (t) => {
    const good = { POSTGRES_USER: "tp0", POSTGRES_DB: "tp0", POSTGRES_PASSWORD: "a".repeat(16) };
    const cases: [Record<string, string>, RegExp][] = [
      [{ ...good, POSTGRES_USER: "Tp0" }, /POSTGRES_USER "Tp0" is not a lowercase name/],
      [{ ...good, POSTGRES_USER: "0tp" }, /POSTGRES_USER "0tp" is not a lowercase name/],
      [{ ...good, POSTGRES_DB: "tp0; drop" }, /POSTGRES_DB "tp0; drop" is not a lowercase name/],
      [{ ...good, POSTGRES_PASSWORD: "" }, /POSTGRES_PASSWORD must be 1 or more of/],
      [{ ...good, POSTGRES_PASSWORD: "it's" }, /POSTGRES_PASSWORD must be 1 or more of/],
    ];
    for (const [environment, message] of cases) {
      await t.step(JSON.stringify(environment), async () => {
        const result = await runEntrypoint(environment);
        assert.equal(result.code, 2);
        assert.match(result.stderr, message);
        assert.equal(result.stderr.trim().split("\n").length, 1, "one line");
      });
    }
  },
});

Deno.test({
  name:
    "writePostgresRootfs() lays out the programs with their libraries, the share files, busybox, the entrypoint and the postgres user",
  ignore: hostPostgres === undefined || !hasBusybox,
  fn: async () => {
    await withTempDir(async (root) => {
      const changes = await writePostgresRootfs(root, {
        binDir: POSTGRES_BIN_DIR,
        busybox: BUSYBOX,
      });
      for (const program of POSTGRES_PROGRAMS) {
        assert.ok((await Deno.stat(`${root}${POSTGRES_BIN_DIR}/${program}`)).isFile, program);
      }
      assert.ok((await Deno.stat(`${root}/usr/lib/postgresql/15/lib/plpgsql.so`)).isFile);
      assert.ok((await Deno.stat(`${root}/usr/share/postgresql/15/postgres.bki`)).isFile);
      assert.ok((await Deno.stat(`${root}/usr/share/zoneinfo/UTC`)).isFile);
      assert.ok((await Deno.lstat(`${root}/bin/sh`)).isSymlink);
      const libc = [
        `${root}/lib/x86_64-linux-gnu/libc.so.6`,
        `${root}/usr/lib/x86_64-linux-gnu/libc.so.6`,
      ];
      assert.ok(
        (await Promise.all(libc.map((path) => Deno.stat(path).then(() => true, () => false))))
          .some(Boolean),
        "the C library postgres links",
      );
      const entrypoint = await Deno.stat(`${root}/usr/local/bin/tp0-postgres-entrypoint`);
      assert.equal(entrypoint.mode! & 0o111, 0o111, "executable");
      assert.match(
        await Deno.readTextFile(`${root}/etc/passwd`),
        new RegExp(`^postgres:x:${POSTGRES_UID}:${POSTGRES_UID}:`, "m"),
      );
      assert.equal((await Deno.stat(`${root}${POSTGRES_DATA_DIR}`)).mode! & 0o777, 0o700);
      assert.ok(changes.includes(`USER ${POSTGRES_UID}:${POSTGRES_UID}`), "never root");
      assert.ok(changes.includes(`ENV PGDATA=${POSTGRES_DATA_DIR}`));
      assert.ok(
        changes.some((change) =>
          change.startsWith("HEALTHCHECK ") &&
          change.endsWith(`CMD ${JSON.stringify(POSTGRES_HEALTHCHECK_COMMAND)}`)
        ),
      );
    });
  },
});

Deno.test("ensurePostgresImage() without PostgreSQL on the host builds nothing and says in one line what to install", async () => {
  const lines: string[] = [];
  const made = await ensurePostgresImage((line) => lines.push(line), {
    tag: "tp0-test/postgres-never-built:none",
    binDir: "/nonexistent/postgresql/15/bin",
  });
  assert.equal(made, false);
  assert.deepEqual(lines, [
    "tp0-test/postgres-never-built:none: not built, no PostgreSQL 15 in /nonexistent/postgresql/15/bin (for --store postgres: apt-get install -y postgresql)",
  ]);
});
