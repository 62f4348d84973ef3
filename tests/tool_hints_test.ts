/**
 * Every `deno task NAME [flags]` a tool tells its user to run (in its
 * `--help`, and in a "Then:" or "next:" line after a successful run) names a
 * task of deno.json, and that task's own parser accepts every flag the hint
 * gives it. Scripts are found through deno.json's task commands (and the
 * entry scripts beside them), so the test follows a script that moves.
 */

import assert from "node:assert/strict";
import { withTempDir } from "./helpers/temp_dir.ts";

const _ROOT = new URL("..", import.meta.url);

/** A `deno task` command a tool names, with the flags it gives. */
interface TaskHint {
  /** The task names (`up|down|logs` names three). */
  names: string[];
  /** The flags in order, each with its value when the hint gives one. */
  flags: { flag: string; value?: string }[];
  /** The hint as the tool printed it, for messages. */
  text: string;
}

/** A placeholder or value token: `N`, `<N>`, `DIR`, `5`, `30s`, `swarm`, `a|b`. */
const _VALUE = /^(<[A-Za-z]+>|[A-Za-z0-9][\w.:/-]*(\|[\w-]+)*)$/;
/** A positional placeholder: `N`, `[N]`, `<N>`, `5`, `[SERVICE...]`, `OPTIONS]`. */
const _POSITIONAL = /^\[?(<[A-Za-z]+>|[A-Z0-9][A-Z0-9_]*)(\.\.\.)?\]?(\.\.\.)?$/;

/**
 * Finds the `deno task` commands in a tool's output. A command runs from
 * `deno task NAME` over its placeholders, flags and flag values, and stops
 * at prose (a lowercase word that is no flag's value, an opening
 * parenthesis) or after a token ending a clause (`,` `.` `;` `)`). A line
 * that starts with `[` continues the usage line above it.
 */
function taskHints(output: string): TaskHint[] {
  const lines: string[] = [];
  for (const line of output.split("\n")) {
    if (/^\s*\[/.test(line) && lines.length > 0) lines[lines.length - 1] += ` ${line.trim()}`;
    else lines.push(line);
  }
  const hints: TaskHint[] = [];
  for (const line of lines) {
    const mention = /deno task ([a-z][\w-]*(?:\|[a-z][\w-]*)*)(.*?)(?=deno task|$)/g;
    for (const match of line.matchAll(mention)) {
      hints.push(_hint(match[1]!, match[2]!));
    }
  }
  return hints;
}

function _hint(names: string, rest: string): TaskHint {
  const flags: { flag: string; value?: string }[] = [];
  let text = `deno task ${names}`;
  // Set while the last flag may still take the next token as its value.
  let open: { flag: string; value?: string } | undefined;
  for (const raw of rest.trim().split(/\s+/)) {
    if (raw === "") break;
    const ends = /[,.;)`]$/.test(raw) && !raw.endsWith("...");
    const token = raw.replace(/[,.;)`]+$/, "");
    if (raw.startsWith("(")) break;
    text += ` ${token}`;
    if (token === "--" || token === "[--" || token === "|") {
      open = undefined;
    } else if (/^\[?--?[a-z]/.test(token)) {
      const flag = /--?[a-z][\w-]*/.exec(token)![0];
      const entry: { flag: string; value?: string } = { flag };
      flags.push(entry);
      open = token.endsWith("]") ? undefined : entry;
    } else if (open !== undefined && _VALUE.test(token.replace(/\]?(\.\.\.)?$/, ""))) {
      open.value = token.replace(/\]?(\.\.\.)?$/, "");
      open = undefined;
    } else if (_POSITIONAL.test(token)) {
      open = undefined;
    } else {
      text = text.slice(0, -(token.length + 1));
      break;
    }
    if (ends) break;
  }
  return { names: names.split("|"), flags, text };
}

interface _Run {
  code: number;
  output: string;
}

async function _run(args: string[], cwd = _ROOT): Promise<_Run> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

/** deno.json's tasks: name → command. */
async function _tasks(): Promise<Record<string, string>> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", _ROOT)));
  return config.tasks;
}

/** The script a task runs and the arguments it gives it first, if it runs one. */
function _scriptOf(command: string): { script: string; preset: string[] } | undefined {
  const tokens = command.split(/\s+/);
  if (tokens[0] !== "deno" || tokens[1] !== "run") return undefined;
  const at = tokens.findIndex((token) => token.endsWith(".ts"));
  if (at === -1) return undefined;
  return { script: tokens[at]!, preset: tokens.slice(at + 1) };
}

/** Whether a script prints a usage text on --help (through runProgram). */
async function _hasUsage(path: string): Promise<boolean> {
  const source = await Deno.readTextFile(new URL(path, _ROOT));
  return source.includes("Usage:") && source.includes("import.meta.main") &&
    source.includes("runProgram(");
}

/** Entry scripts with a usage text that no task runs (healthcheck.ts, bench helpers). */
async function _otherEntryScripts(covered: Set<string>): Promise<string[]> {
  const scripts: string[] = [];
  for (const folder of ["", "bench/", "tools/"]) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(new URL(folder || ".", _ROOT)));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    for (const entry of entries) {
      const path = `${folder}${entry.name}`;
      if (!entry.isFile || !path.endsWith(".ts") || covered.has(path)) continue;
      if (await _hasUsage(path)) scripts.push(path);
    }
  }
  return scripts.sort();
}

/** Runs up to `limit` jobs at a time. */
async function _eachLimited<T, R>(items: T[], limit: number, job: (item: T) => Promise<R>) {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await job(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

Deno.test("taskHints() reads the task, its flags and their values, and stops at prose", () => {
  assert.deepEqual(
    taskHints(
      "Then: deno task compose N --secrets-dir DIR --tls [--client-certs] (see docs/DEPLOY.md).",
    ),
    [{
      names: ["compose"],
      flags: [{ flag: "--secrets-dir", value: "DIR" }, { flag: "--tls" }, {
        flag: "--client-certs",
      }],
      text: "deno task compose N --secrets-dir DIR --tls [--client-certs]",
    }],
  );
  assert.deepEqual(
    taskHints("Usage: deno task up|down|logs [--file FILE] [--volumes] [SERVICE...]")
      .map(({ names, flags }) => ({ names, flags })),
    [{
      names: ["up", "down", "logs"],
      flags: [{ flag: "--file", value: "FILE" }, { flag: "--volumes" }],
    }],
  );
  assert.deepEqual(
    taskHints("Then: deno task up, deno task logs, deno task down\n(swarm: deno task deploy).")
      .map(({ names, flags }) => [names.join("|"), flags.length]),
    [["up", 0], ["logs", 0], ["down", 0], ["deploy", 0]],
  );
  assert.deepEqual(
    taskHints("Usage: deno task compose <N> [--target compose|swarm]\n    [--mode lottery|bet]")
      .map(({ flags }) => flags),
    [[{ flag: "--target", value: "compose|swarm" }, { flag: "--mode", value: "lottery|bet" }]],
  );
  assert.deepEqual(
    taskHints("a deno task certs directory: hello; --stack NAME; deno task deploy reads it")
      .map(({ names, flags }) => [names[0], flags.length]),
    [["certs", 0], ["deploy", 0]],
  );
});

Deno.test("every deno task command a tool's --help or success line names is a task that accepts its flags", async (t) => {
  const tasks = await _tasks();
  // One --help per script, through the first task that runs it.
  const viaTask = new Map<string, string>();
  for (const [name, command] of Object.entries(tasks)) {
    const script = _scriptOf(command)?.script;
    if (script !== undefined && !viaTask.has(script) && await _hasUsage(script)) {
      viaTask.set(script, name);
    }
  }
  const others = await _otherEntryScripts(new Set(viaTask.keys()));
  assert.ok(viaTask.size >= 9, `scripts with a usage found through tasks: ${[...viaTask.keys()]}`);

  const outputs: { source: string; output: string }[] = [];
  const helps = await _eachLimited(
    [
      ...[...viaTask].map(([script, task]) => ({ script, args: ["task", "-q", task, "--help"] })),
      ...others.map((script) => ({ script, args: ["run", "-A", script, "--help"] })),
    ],
    8,
    async ({ script, args }) => ({ script, run: await _run(args) }),
  );
  await t.step("each script with a usage text prints it on --help", () => {
    for (const { script, run } of helps) {
      assert.equal(run.code, 0, `${script} --help: ${run.output}`);
      assert.match(run.output, /^Usage: /, `${script} --help`);
      outputs.push({ source: `${script} --help`, output: run.output });
    }
  });
  await withTempDir(async (dir) => {
    // Successful runs that end with a "next:" hint: the compose generator's.
    for (const target of ["compose", "swarm"]) {
      const output = `${dir}/${target}.yaml`;
      const run = await _run([
        "task",
        "-q",
        "compose",
        "2",
        "--target",
        target,
        "--output",
        output,
      ]);
      assert.equal(run.code, 0, `compose --target ${target}: ${run.output}`);
      outputs.push({ source: `compose 2 --target ${target}`, output: run.output });
    }
  });

  const hints = outputs.flatMap(({ source, output }) =>
    taskHints(output).map((hint) => ({ source, hint }))
  );
  const nextSteps = outputs.flatMap(({ output }) =>
    output.split("\n").filter((line) => /\b(then|next):/i.test(line))
  );
  assert.ok(nextSteps.length >= 3, `"Then:" / "next:" lines found: ${nextSteps.length}`);
  assert.ok(hints.length >= 20, `deno task commands found: ${hints.length}`);

  // Each distinct command once: the task's own parser reads the hint's flags
  // and --help, so nothing runs; an unknown flag or a missing value fails.
  const checks = new Map<string, { name: string; args: string[]; hint: string; source: string }>();
  for (const { source, hint } of hints) {
    for (const name of hint.names) {
      const args = hint.flags.flatMap(({ flag, value }) =>
        value === undefined ? [flag] : [flag, value]
      );
      const key = [name, ...args].join(" ");
      if (!checks.has(key)) checks.set(key, { name, args, hint: hint.text, source });
    }
  }
  const results = await _eachLimited([...checks.values()], 8, async (check) => ({
    check,
    run: check.name in tasks && _scriptOf(tasks[check.name]!) !== undefined
      ? await _run(["task", "-q", check.name, ...check.args, "--help"])
      : undefined,
  }));
  for (const { check, run } of results) {
    await t.step(`${check.hint} (from ${check.source}): deno task ${check.name} accepts it`, () => {
      assert.ok(check.name in tasks, `${check.name} is not a task of deno.json`);
      assert.ok(run !== undefined, `task ${check.name} runs no script`);
      assert.equal(run.code, 0, `deno task ${check.name} ${check.args.join(" ")}: ${run.output}`);
      assert.match(run.output, /^Usage: /);
    });
  }
});
