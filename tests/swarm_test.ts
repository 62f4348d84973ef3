import assert from "node:assert/strict";
import {
  deployCommand,
  drawsMade,
  hasRegistry,
  jobModeProblem,
  knowsDetachFlag,
  labelCommand,
  missingLabels,
  parseStackPs,
  stackProgress,
} from "../lib/containers/swarm.ts";

const _PS = [
  "tp0_server.1\tRunning 12 seconds ago\tRunning\t",
  "tp0_client1.vg16lc3nymg5l7pfbs2jlee98\tComplete 3 seconds ago\tComplete\t",
  "tp0_client2.vg16lc3nymg5l7pfbs2jlee98\tRunning 9 seconds ago\tComplete\t",
  '\\_ tp0_client2.vg16lc3nymg5l7pfbs2jlee98\tFailed 20 seconds ago\tShutdown\t"task: non-zero exit (1)"',
  "tp0_client3.1\tPending 30 seconds ago\tRunning\tno suitable node (scheduling constraints not satisfied on 1 node)",
  "",
].join("\n");

Deno.test("parseStackPs() reads service, states and error of every task row", () => {
  const rows = parseStackPs(_PS);
  assert.deepEqual(rows.map((row) => row.service), [
    "tp0_server",
    "tp0_client1",
    "tp0_client2",
    "tp0_client2",
    "tp0_client3",
  ]);
  assert.equal(rows[3]!.currentState, "Failed 20 seconds ago");
  assert.equal(rows[3]!.error, '"task: non-zero exit (1)"');
  assert.deepEqual(parseStackPs(""), []);
});

Deno.test("stackProgress() counts an agency done once a task completed, and keeps each service's latest error", () => {
  assert.deepEqual(stackProgress(parseStackPs(_PS), "tp0", 3), {
    serverRunning: true,
    done: [1],
    waiting: [2, 3],
    errors: [
      "client2: task: non-zero exit (1)",
      "client3: no suitable node (scheduling constraints not satisfied on 1 node)",
    ],
  });
  assert.deepEqual(stackProgress([], "tp0", 0), {
    serverRunning: false,
    done: [],
    waiting: [],
    errors: [],
  });
  assert.equal(stackProgress(parseStackPs(_PS), "other", 1).serverRunning, false, "by stack name");
});

Deno.test("missingLabels() and labelCommand() say which labels no node has and how to add them", () => {
  const nodes = [
    { id: "a", hostname: "central", labels: { "tp0.storage": "true" } },
    { id: "b", hostname: "agency", labels: { "tp0.agency.1": "false" } },
  ];
  assert.deepEqual(missingLabels(nodes, ["tp0.storage", "tp0.agency.1"]), ["tp0.agency.1"]);
  assert.deepEqual(missingLabels([], []), []);
  assert.deepEqual(labelCommand(["tp0.agency.1", "tp0.agency.2"], "b"), [
    "docker",
    "node",
    "update",
    "--label-add",
    "tp0.agency.1=true",
    "--label-add",
    "tp0.agency.2=true",
    "b",
  ]);
});

Deno.test("jobModeProblem() needs engine API 1.41 and docker CLI 23.0 for replicated-job stacks", async (t) => {
  const cases: [string, string, RegExp | undefined][] = [
    ["28.2.2", "1.41", undefined],
    ["23.0.0", "1.43", undefined],
    ["20.10.24+dfsg1", "1.41", /docker CLI 20\.10\.24\+dfsg1 cannot deploy replicated-job/],
    ["28.2.2", "1.40", /engine API 1\.40 has no swarm jobs/],
  ];
  for (const [client, serverApi, expected] of cases) {
    await t.step(`CLI ${client}, API ${serverApi}`, () => {
      const problem = jobModeProblem({ client, serverApi });
      if (expected === undefined) assert.equal(problem, undefined);
      else assert.match(problem ?? "", expected);
    });
  }
  assert.equal(knowsDetachFlag({ client: "20.10.24", serverApi: "1.41" }), false);
  assert.equal(knowsDetachFlag({ client: "28.2.2", serverApi: "1.41" }), true);
});

Deno.test("deployCommand() skips the digest lookup for local images and pins registry ones", () => {
  assert.deepEqual(deployCommand("s.yaml", "tp0", { registry: false, detachFlag: true }), [
    ...["docker", "stack", "deploy", "--compose-file", "s.yaml"],
    ...["--resolve-image", "never", "--detach=true", "tp0"],
  ]);
  assert.deepEqual(deployCommand("s.yaml", "tp0", { registry: true, detachFlag: false }), [
    ...["docker", "stack", "deploy", "--compose-file", "s.yaml"],
    ...["--with-registry-auth", "--resolve-image", "always", "tp0"],
  ]);
});

Deno.test("hasRegistry() tells a registry host from a local name", async (t) => {
  const cases: [string, boolean][] = [
    ["tp0-server:latest", false],
    ["tp0-test/server:swarm", false],
    ["registry.example/tp0-server:latest", true],
    ["registry:5000/tp0-server:latest", true],
    ["localhost/tp0-server", true],
  ];
  for (const [image, expected] of cases) {
    await t.step(image, () => assert.equal(hasRegistry(image), expected));
  }
});

Deno.test("drawsMade() counts the sorteo lines that made the draw, not the replicas that learnt it", () => {
  const line = (extra: string) =>
    `2026-12-06 02:48:01 INFO action: sorteo | result: success | draw_id: d | restored: false${extra}`;
  assert.equal(drawsMade([]), 0);
  assert.equal(drawsMade([line("")]), 1);
  assert.equal(
    drawsMade([line(""), line(" | made_by: another central"), line(" | made_by: another central")]),
    1,
  );
  assert.equal(drawsMade(["action: sorteo | result: fail | error: x"]), 0);
  assert.equal(drawsMade([line(""), line("")]), 2, "two draws stay two");
});
