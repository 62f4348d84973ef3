/**
 * Reads the V8 CPU profiles a `deno task bench -- --cpu-prof DIR` run wrote
 * and prints where each kind of process spent its time: self time per
 * function and per file, in ms per process, idle left out.
 *
 * deno run --allow-read bench/profile_summary.ts DIR [--top N]
 *
 * DIR holds `<run>/<process>/*.cpuprofile`; processes are grouped by kind
 * (`client-3` and `client-4` are `client`), and a kind's figures are the
 * mean over its profiles.
 */

import { parseArgs } from "node:util";
import { wholeNumberFlag, withoutTaskSeparator } from "../lib/runtime/task_args.ts";

/** The parts of a `.cpuprofile` read here. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  /** Microseconds before each sample. */
  timeDeltas: number[];
}

/** Where a kind of process spent its time, in ms per profile. */
export interface ProfileSummary {
  profiles: number;
  /** Sampled time that was not idle. */
  busyMs: number;
  /** Self time per function (`name file:line`), largest first. */
  functions: [string, number][];
  /** Self time per file (or V8 category: GC, program), largest first. */
  files: [string, number][];
}

/** `lib/server/plain_batch.ts` for a file URL of the repository, the npm package for npm's. */
function _file(url: string): string {
  const repository = /\/(lib|bench|tools)\/.+$/.exec(url);
  if (repository !== null) return repository[0].slice(1);
  const npm = /\/npm\/registry\.npmjs\.org\/(.+)$/.exec(url);
  if (npm !== null) return `npm:${npm[1]}`;
  return url.replace(/^file:\/\/.*\//, "");
}

function _sorted(totals: Map<string, number>, profiles: number): [string, number][] {
  return [...totals].map(([key, us]): [string, number] => [key, us / profiles / 1000])
    .sort((one, other) => other[1] - one[1]);
}

/**
 * Adds up self time over profiles of one kind of process.
 * @returns the mean per profile; idle time is counted in no figure
 */
export function summarizeProfiles(profiles: readonly CpuProfile[]): ProfileSummary {
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  let busyUs = 0;
  for (const profile of profiles) {
    const nodes = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
    profile.samples.forEach((id, index) => {
      const frame = nodes.get(id);
      const us = profile.timeDeltas[index] ?? 0;
      if (frame === undefined || frame.functionName === "(idle)") return;
      const file = frame.url === "" ? frame.functionName : _file(frame.url);
      const name = frame.url === ""
        ? frame.functionName
        : `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
      functions.set(name, (functions.get(name) ?? 0) + us);
      files.set(file, (files.get(file) ?? 0) + us);
      busyUs += us;
    });
  }
  const count = Math.max(1, profiles.length);
  return {
    profiles: profiles.length,
    busyMs: busyUs / count / 1000,
    functions: _sorted(functions, count),
    files: _sorted(files, count),
  };
}

/** The kind of a process folder: `client-3` → `client`, `load-1-500` → `load`. */
export function processKind(folder: string): string {
  return folder.replace(/(-\d+)+$/, "");
}

/** Reads DIR/<run>/<process>/*.cpuprofile, grouped by process kind. */
async function _readProfiles(dir: string): Promise<Map<string, CpuProfile[]>> {
  const kinds = new Map<string, CpuProfile[]>();
  for await (const run of Deno.readDir(dir)) {
    if (!run.isDirectory && !run.isSymlink) continue;
    for await (const process of Deno.readDir(`${dir}/${run.name}`)) {
      if (!process.isDirectory) continue;
      const folder = `${dir}/${run.name}/${process.name}`;
      for await (const file of Deno.readDir(folder)) {
        if (!file.name.endsWith(".cpuprofile")) continue;
        const profile = JSON.parse(await Deno.readTextFile(`${folder}/${file.name}`));
        const kind = processKind(process.name);
        kinds.set(kind, [...(kinds.get(kind) ?? []), profile as CpuProfile]);
      }
    }
  }
  return kinds;
}

function _table(title: string, rows: [string, number][], busyMs: number, top: number): string[] {
  return [
    `| ${title} | ms | share of busy |`,
    "| --- | ---: | ---: |",
    ...rows.slice(0, top).map(([name, ms]) =>
      `| ${name} | ${ms.toFixed(1)} | ${(100 * ms / busyMs).toFixed(0)} % |`
    ),
  ];
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: withoutTaskSeparator(Deno.args),
    options: { top: { type: "string" } },
    allowPositionals: true,
  });
  const dir = positionals[0];
  if (dir === undefined) {
    console.error("Usage: deno run --allow-read bench/profile_summary.ts DIR [--top N]");
    Deno.exitCode = 2;
    return;
  }
  const top = wholeNumberFlag(values.top, "--top", 15, 1, 1000);
  const kinds = [...(await _readProfiles(dir))].sort(([one], [other]) => one.localeCompare(other));
  for (const [kind, profiles] of kinds) {
    const summary = summarizeProfiles(profiles);
    console.log(
      `\n## ${kind}: ${summary.profiles} profiles, ${summary.busyMs.toFixed(0)} ms busy each\n`,
    );
    console.log(_table("file", summary.files, summary.busyMs, top).join("\n"));
    console.log("");
    console.log(_table("function (self time)", summary.functions, summary.busyMs, top).join("\n"));
  }
}

if (import.meta.main) await main();
