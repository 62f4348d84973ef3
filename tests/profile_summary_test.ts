import assert from "node:assert/strict";
import { type CpuProfile, processKind, summarizeProfiles } from "../bench/profile_summary.ts";
import { profiledArgs } from "../bench/scenario_run.ts";

/** A profile of three functions: idle 5 ms, scan 3 ms, GC 2 ms (timeDeltas in µs). */
function profile(): CpuProfile {
  const frame = (functionName: string, url = "") => ({ functionName, url, lineNumber: 9 });
  return {
    nodes: [
      { id: 1, callFrame: frame("(idle)") },
      { id: 2, callFrame: frame("scanBatch", "file:///repo/lib/server/batch_scan.ts") },
      { id: 3, callFrame: frame("(garbage collector)") },
    ],
    samples: [1, 2, 3, 2, 1],
    timeDeltas: [4000, 1000, 2000, 2000, 1000],
  };
}

Deno.test("summarizeProfiles() adds self time per function and per file, idle left out, per profile", () => {
  const summary = summarizeProfiles([profile(), profile()]);
  assert.equal(summary.profiles, 2);
  assert.equal(summary.busyMs, 5);
  assert.deepEqual(summary.functions, [
    ["scanBatch lib/server/batch_scan.ts:10", 3],
    ["(garbage collector)", 2],
  ]);
  assert.deepEqual(summary.files, [["lib/server/batch_scan.ts", 3], ["(garbage collector)", 2]]);
});

Deno.test("summarizeProfiles() of no profile is empty", () => {
  assert.deepEqual(summarizeProfiles([]), { profiles: 0, busyMs: 0, functions: [], files: [] });
});

Deno.test("processKind() groups the processes of a run by what they are", () => {
  assert.equal(processKind("server"), "server");
  assert.equal(processKind("client-3"), "client");
  assert.equal(processKind("load-1-500"), "load");
  assert.equal(processKind("floor-sender-2-2"), "floor-sender");
});

Deno.test("profiledArgs() adds the profile flags after run, only with a folder", () => {
  const options = { args: ["run", "--allow-net", "server.ts"], env: {}, cwd: "." };
  assert.deepEqual(profiledArgs(options, "server", "p/a-run1").args, [
    "run",
    "--cpu-prof",
    "--cpu-prof-dir=p/a-run1/server",
    "--allow-net",
    "server.ts",
  ]);
  assert.equal(profiledArgs(options, "server", undefined), options);
});
