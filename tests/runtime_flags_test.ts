import assert from "node:assert/strict";
import { permissionSetFlags, V8_FLAGS } from "../lib/runtime/runtime_flags.ts";

const ROOT = new URL("../", import.meta.url);

/** The two processes: their entry file, permission set and Dockerfile. */
const PROCESSES = [
  { script: "server.ts", set: "server", dockerfile: "Dockerfile.server" },
  { script: "client.ts", set: "client", dockerfile: "Dockerfile.client" },
] as const;

interface DenoJson {
  tasks: Record<string, string>;
  permissions: Record<string, Record<string, unknown>>;
}

async function _denoJson(): Promise<DenoJson> {
  return JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
}

/** Permission kinds a command line grants: `--allow-net=…` gives `net`. */
function _allowedKinds(args: readonly string[]): string[] {
  return args.flatMap((arg) => /^--allow-(\w+)/.exec(arg)?.[1] ?? []).sort();
}

/** Permission kinds a deno.json set grants. */
function _setKinds(set: Record<string, unknown>): string[] {
  return Object.entries(set).filter(([, value]) => value !== false).map(([kind]) => kind).sort();
}

Deno.test("deno.json has a permission set per process: server net, read, write, env; client net, read, env", async () => {
  const { permissions } = await _denoJson();
  assert.deepEqual(_setKinds(permissions.server ?? {}), ["env", "net", "read", "write"]);
  assert.deepEqual(_setKinds(permissions.client ?? {}), ["env", "net", "read"]);
});

Deno.test("every task that runs server.ts or client.ts uses V8_FLAGS and that script's permission set, no --allow flag", async () => {
  const { tasks } = await _denoJson();
  for (const { script, set } of PROCESSES) {
    const running = Object.entries(tasks).filter(([, command]) =>
      new RegExp(`^deno run .*\\b${script.replace(".", "\\.")}\\b`).test(command)
    );
    assert.ok(running.length > 0, `no task runs ${script}`);
    for (const [name, command] of running) {
      const args = command.split(" ");
      assert.ok(args.includes(V8_FLAGS), `task ${name}: ${command}`);
      assert.ok(
        args.includes(`-P=${set}`) || args.includes(`--permission-set=${set}`),
        `task ${name}: ${command}`,
      );
      assert.deepEqual(_allowedKinds(args), [], `task ${name}: ${command}`);
      assert.ok(!args.includes("-A"), `task ${name}: ${command}`);
    }
  }
});

Deno.test("permissionSetFlags() names a set deno.json has", async () => {
  const { permissions } = await _denoJson();
  for (const { set } of PROCESSES) {
    const flags = permissionSetFlags(set);
    assert.ok(flags.includes(`--permission-set=${set}`), flags.join(" "));
    assert.ok(permissions[set] !== undefined, `deno.json has no permission set ${set}`);
  }
});

Deno.test("both Dockerfiles' entrypoints use V8_FLAGS and grant exactly the kinds of their permission set", async () => {
  const { permissions } = await _denoJson();
  for (const { set, dockerfile } of PROCESSES) {
    const entrypoint = (await Deno.readTextFile(new URL(dockerfile, ROOT)))
      .split("\n").find((line) => line.startsWith("ENTRYPOINT"));
    assert.ok(entrypoint !== undefined, `${dockerfile} has no ENTRYPOINT`);
    const args = JSON.parse(entrypoint.slice("ENTRYPOINT".length)) as string[];
    assert.deepEqual(args.slice(0, 3), ["deno", "run", V8_FLAGS], `${dockerfile}: ${entrypoint}`);
    assert.deepEqual(
      _allowedKinds(args),
      _setKinds(permissions[set] ?? {}),
      `${dockerfile}: ${entrypoint}`,
    );
  }
});
