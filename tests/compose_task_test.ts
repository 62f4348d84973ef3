import assert from "node:assert/strict";
import { composeSteps, parseComposeTaskArgs, STOP_TIMEOUT_SECONDS } from "../tools/compose_task.ts";

Deno.test("parseComposeTaskArgs() defaults to docker-compose-dev.yaml in project tp0", () => {
  assert.deepEqual(parseComposeTaskArgs(["up"]), {
    action: "up",
    file: "docker-compose-dev.yaml",
    project: "tp0",
    volumes: false,
    services: [],
  });
  assert.deepEqual(parseComposeTaskArgs(["logs", "server", "client1"]), {
    action: "logs",
    file: "docker-compose-dev.yaml",
    project: "tp0",
    volumes: false,
    services: ["server", "client1"],
  });
});

Deno.test("parseComposeTaskArgs() rejects an unknown action, flag or stray service", async (t) => {
  const cases: [string[], RegExp][] = [
    [[], /unknown action ""/],
    [["start"], /unknown action "start"/],
    [["up", "server"], /up takes no service names, got "server"/],
    [["down", "--force"], /Unknown option '--force'/],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" ") || "(nothing)", () => {
      assert.throws(() => parseComposeTaskArgs(args), { message });
    });
  }
});

Deno.test("composeSteps() starts detached without building, for either compose binary", () => {
  const args = {
    action: "up",
    file: "f.yaml",
    project: "tp0",
    volumes: false,
    services: [],
  } as const;
  assert.deepEqual(composeSteps(["docker-compose"], args), [
    ["docker-compose", "--project-name", "tp0", "--file", "f.yaml", "up", "--detach", "--no-build"],
  ]);
  assert.deepEqual(composeSteps(["docker", "compose"], args)[0]!.slice(0, 3), [
    "docker",
    "compose",
    "--project-name",
  ]);
});

Deno.test("composeSteps() stops with stop -t 10 before down, and removes volumes only when asked", () => {
  const base = { action: "down", file: "f.yaml", project: "tp0", services: [] } as const;
  const prefix = ["docker-compose", "--project-name", "tp0", "--file", "f.yaml"];
  assert.equal(STOP_TIMEOUT_SECONDS, 10);
  assert.deepEqual(composeSteps(["docker-compose"], { ...base, volumes: false }), [
    [...prefix, "stop", "--timeout", "10"],
    [...prefix, "down"],
  ]);
  assert.deepEqual(composeSteps(["docker-compose"], { ...base, volumes: true })[1], [
    ...prefix,
    "down",
    "--volumes",
  ]);
});

Deno.test("composeSteps() follows the logs of all or the named services", () => {
  const args = {
    action: "logs",
    file: "f.yaml",
    project: "p",
    volumes: false,
    services: ["server"],
  } as const;
  assert.deepEqual(composeSteps(["docker-compose"], args), [
    ["docker-compose", "--project-name", "p", "--file", "f.yaml", "logs", "--follow", "server"],
  ]);
});

Deno.test("parseComposeTaskArgs() ignores the -- that deno task passes along", () => {
  const args = parseComposeTaskArgs(["down", "--", "--volumes"]);
  assert.ok(args !== "help" && args.volumes);
});
