/**
 * The repository's Markdown files are manuals: they name no issue number and
 * no commit hash (a reader cannot look either up), and the benchmark's run
 * log and history are not committed (runs write under bench/out/).
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

/** Folders (besides the root's README.md) whose Markdown files are checked. */
const _DOC_DIRS = ["docs", "bench"];

/** The benchmark's run log and run history: runs write under bench/out/ instead. */
const _RUN_LOGS = ["bench/results.md", "bench/HISTORY.md"];

/** "issue 11", "issues 4 and 14". */
const _ISSUE_WORD = /\bissues? \d+/gi;

/** "#14" as an issue reference. `owner/repo#14` names a public upstream issue
 * anyone can open, and `&#123;` is an HTML entity: neither counts. */
const _ISSUE_HASH = /(?<![\w/&])#\d+\b/g;

/** A word of 7 to 40 lowercase hex digits, as git abbreviates commits. Words
 * joined by `-` or `:` (UUIDs, draw ids, `sha256:` digests) are not hashes. */
const _HEX_WORD = /(?<![\w:-])[0-9a-f]{7,40}(?![\w:-])/g;

/**
 * Where a Markdown text names an issue number or a commit hash.
 * @param text the Markdown source
 * @returns one `line N: "match"` entry per hit, in order
 */
function _markdownViolations(text: string): string[] {
  const found: string[] = [];
  text.split("\n").forEach((line, index) => {
    const hits = [
      ...line.matchAll(_ISSUE_WORD),
      ...line.matchAll(_ISSUE_HASH),
      ...[...line.matchAll(_HEX_WORD)].filter(([word]) => /\d/.test(word) && /[a-f]/.test(word)),
    ].sort((a, b) => a.index - b.index);
    for (const [match] of hits) found.push(`line ${index + 1}: "${match}"`);
  });
  return found;
}

/** README.md and the Markdown files of docs/ and bench/, relative to the root. */
async function _markdownFiles(): Promise<string[]> {
  const files = ["README.md"];
  for (const dir of _DOC_DIRS) {
    for await (const entry of Deno.readDir(`${ROOT}${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isFile && entry.name.endsWith(".md") && !_RUN_LOGS.includes(path)) {
        files.push(path);
      }
    }
  }
  return files.sort();
}

/** Which of `paths` git tracks; without git (an exported tree), which exist. */
async function _tracked(paths: string[]): Promise<string[]> {
  try {
    const output = await new Deno.Command("git", {
      args: ["ls-files", "--", ...paths],
      cwd: ROOT,
      stderr: "null",
    }).output();
    if (output.success) {
      return new TextDecoder().decode(output.stdout).split("\n").filter((line) => line !== "");
    }
  } catch {
    // No git on this machine: fall back to the files on disk.
  }
  const present: string[] = [];
  for (const path of paths) {
    if (await Deno.stat(`${ROOT}${path}`).then(() => true, () => false)) present.push(path);
  }
  return present;
}

Deno.test("_markdownViolations() finds issue numbers and commit hashes, not look-alikes", async (t) => {
  const cases: [string, string, string[]][] = [
    ["issue word", "fixed in issue 11.", ['line 1: "issue 11"']],
    ["issues word", "The benchmark (issues 4 and 14)", ['line 1: "issues 4"']],
    ["hash sign", "see #14 and (#7)", ['line 1: "#14"', 'line 1: "#7"']],
    ["short hash", "at 22dd352, medians", ['line 1: "22dd352"']],
    ["full hash", "commit 0123456789abcdef0123456789abcdef01234567", [
      'line 1: "0123456789abcdef0123456789abcdef01234567"',
    ]],
    ["line number", "a\nb (098efb3)", ['line 2: "098efb3"']],
    ["upstream issue", "engine 20.10 (moby/moby#41284, docker/cli#2712)", []],
    ["anchor", "[results](#current-results)", []],
    ["digits only", "`FRAME_BYTES_MAX` `1048576`", []],
    ["letters only", "a deadbeef or a facade", []],
    ["sha256 digest", "image@sha256:0123456789abcdef0123456789abcdef", []],
    ["uuid and draw id", "3f2a1b4c-1d2e-4f50-8a9b-0c1d2e3f4a5b, 20261201-094200-1a2b", []],
    ["hex literal", "marker `0xFA`, 0x248bfa47", []],
  ];
  for (const [name, text, expected] of cases) {
    await t.step(name, () => assert.deepEqual(_markdownViolations(text), expected));
  }
});

Deno.test("README.md, docs/ and bench/ name no issue number and no commit hash", async () => {
  const files = await _markdownFiles();
  assert.ok(files.includes("bench/README.md") && files.includes("docs/PROTOCOL.md"));
  const found: string[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(`${ROOT}${file}`);
    found.push(..._markdownViolations(text).map((hit) => `${file} ${hit}`));
  }
  assert.deepEqual(found, []);
});

Deno.test("bench/results.md and bench/HISTORY.md are not in the repository", async () => {
  assert.deepEqual(await _tracked(_RUN_LOGS), []);
});
