/**
 * Microbenchmark of the server's batch scan and of the building blocks a
 * faster scan could use, in ns per bet, on 100-bet batches of generated
 * course-like rows (accented names included), and of the client's scan of
 * the same bets as an agency file (FileBatcher: rows, rules, frames). The options take turns in
 * one process, round after round, and the median of the rounds is
 * reported, so every option meets the same moments of a shared machine.
 * Each round is timed in process CPU time (user + system), not wall time:
 * on a shared machine wall time also counts the moments other programs
 * hold the cores.
 *
 * deno task scan-micro [-- --rounds N] [--batches N] [--baseline DIR]
 *
 * `--baseline DIR` also times the scanBatch and FileBatcher of another checkout (e.g. a
 * `git worktree` of an older commit) in turns with this one. The task runs
 * with --allow-all: Deno grants reads under /proc (the CPU model) only so.
 */

import { cpuUsage } from "node:process";
import { parseArgs } from "node:util";
import { generateAgencyBets } from "../lib/dev/bet_generator.ts";
import { encodeMessage } from "../lib/protocol/message_codec.ts";
import { FRAME_HEADER_BYTES, MessageType } from "../lib/protocol/protocol.ts";
import { readBatchHeader, scanBatch, scanBatchFieldByField } from "../lib/server/batch_scan.ts";
import { copyPlainBatch } from "../lib/server/plain_batch.ts";
import { dateNumber } from "../lib/bet/bet_bytes.ts";
import { DOCUMENT_DIGITS_MAX } from "../lib/limits.ts";
import { addBet, EMPTY_DIGEST, viewOf } from "../lib/protocol/bet_digest.ts";
import { wholeNumberFlag, withoutTaskSeparator } from "../lib/runtime/task_args.ts";
import { formatAgencyRow } from "../lib/bet/bet_csv.ts";
import { FILE_CHUNK_BYTES } from "../lib/limits.ts";
import { FileBatcher } from "../lib/client/file_batcher.ts";
import { StoredPrefixCheck } from "../lib/client/stored_prefix_check.ts";
import { Logger } from "../lib/runtime/log.ts";

/** An option under measurement: works through every batch once, returns a checksum. */
export interface ScanOption {
  name: string;
  run: (batches: Batches) => number;
}

/** The batch bodies, the store rows the scan makes of each, and the same
 * bets as an agency file. */
export interface Batches {
  bodies: readonly Uint8Array[];
  rows: readonly Uint8Array[];
  file: Uint8Array;
}

/** 100-bet batch bodies of generated bets, as agencies send them, and their rows. */
export function makeBatches(batchCount: number, seed = 1): Batches {
  const bets = [...generateAgencyBets({ agency: 1, bets: batchCount * 100, winners: 10, seed })];
  const batches: Uint8Array[] = [];
  for (let index = 0; index < bets.length; index += 100) {
    const wire = bets.slice(index, index + 100).map(({ agency: _, ...bet }) => bet);
    const frame = encodeMessage({ type: MessageType.batch, first: index, bets: wire });
    batches.push(frame.slice(FRAME_HEADER_BYTES));
  }
  const rows = batches.map((body) => scanBatch(body, 1, _TODAY).rows.bytes.slice());
  const file = new TextEncoder().encode(bets.map(formatAgencyRow).join(""));
  return { bodies: batches, rows, file };
}

const _TODAY = dateNumber(new Date());
const _latin1 = new TextDecoder("latin1");
const _utf8Fatal = new TextDecoder("utf-8", { fatal: true });

/**
 * The alternative to the fast path's checks in JavaScript: every rule as one
 * regular expression over the rows, decoded as UTF-8 with `fatal` (which
 * refuses overlong forms, surrogates and code points above U+10FFFF): the
 * agency, two names with no control character (C0, DEL, C1), no `,` or `"`
 * and a character other than a space, a document of digits, a real date and
 * the number.
 */
function _rowsPattern(): RegExp {
  const nameChar = String.raw`[^\x00-\x1f\x7f-\x9f,"]`;
  const visible = String.raw`[^\x00-\x20\x7f-\x9f,"]`;
  const name = `[ ]*${visible}${nameChar}*`;
  const day28 = String.raw`0[1-9]|1\d|2[0-8]`;
  const monthDay = [
    String.raw`(?:0[13578]|1[02])-(?:${day28}|29|3[01])`,
    String.raw`(?:0[469]|11)-(?:${day28}|29|30)`,
    String.raw`02-(?:${day28})`,
  ].join("|");
  const leapYear = String.raw`\d\d(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00`;
  // Year 0000 is not a date.
  const date = String.raw`(?!0000)(?:\d{4}-(?:${monthDay})|(?:${leapYear})-02-29)`;
  const row = String.raw`\d+,${name},${name},\d{1,${DOCUMENT_DIGITS_MAX}},${date},\d+\n`;
  return new RegExp(`^(?:${row})*$`);
}

const _plainRows = _rowsPattern();

/** Every byte as one character: exactly the bytes, one-byte string. */
function _bytesString(bytes: Uint8Array): string {
  let text = "";
  for (let at = 0; at < bytes.length; at += 8192) {
    text += String.fromCharCode.apply(
      null,
      bytes.subarray(at, at + 8192) as unknown as number[],
    );
  }
  return text;
}

/** A row pattern with a capture group per field: what taking the fields
 * out of a match would cost. */
const _ROW_CAPTURES = new RegExp(
  String.raw`(\d+),([^,\n]+),([^,\n]+),(\d{1,12}),(\d{4})-(\d\d)-(\d\d),(\d+)\n`,
  "g",
);

function _sum(items: readonly Uint8Array[], each: (item: Uint8Array) => number): number {
  let sum = 0;
  for (const item of items) sum += each(item);
  return sum;
}

/** The client's modules that FileBatcher needs: this checkout's or another's. */
export interface ClientModules {
  FileBatcher: typeof FileBatcher;
  StoredPrefixCheck: typeof StoredPrefixCheck;
  Logger: typeof Logger;
}

/** Another checkout's scanBatch and client modules, for `--baseline`. */
export interface Baseline {
  scanBatch: typeof scanBatch;
  client: ClientModules;
}

/**
 * Runs an agency file through FileBatcher as an upload does: chunks of
 * FILE_CHUNK_BYTES read into one buffer, each batch taken back once built.
 * @returns the bets batched
 */
function _batchFile(modules: ClientModules, file: Uint8Array): number {
  const logger = new modules.Logger("INFO", () => {});
  const batcher = new modules.FileBatcher(
    { agency: 1, dataFile: "agency-1.csv", drawId: "micro", batchMaxAmount: 100, logger },
    new modules.StoredPrefixCheck(0, 0, []),
  );
  const buffer = new Uint8Array(FILE_CHUNK_BYTES);
  let bets = 0;
  const take = (batches: { count: number }[]) => {
    for (const batch of batches) {
      bets += batch.count;
      batcher.recycle(batch as Parameters<FileBatcher["recycle"]>[0]);
    }
  };
  for (let at = 0; at < file.length; at += FILE_CHUNK_BYTES) {
    const piece = file.subarray(at, at + FILE_CHUNK_BYTES);
    buffer.set(piece);
    take(batcher.push(buffer.subarray(0, piece.length)));
  }
  take(batcher.end());
  return bets;
}

/** The options: the scan and its fallback, then the pieces of the alternatives. */
export function scanOptions(baseline?: Baseline): ScanOption[] {
  const out = new Uint8Array(64 * 1024);
  const options: ScanOption[] = [
    {
      name: "scanBatch (fast path)",
      run: ({ bodies }) => _sum(bodies, (body) => scanBatch(body, 1, _TODAY).rows.bytes.length),
    },
    {
      name: "scanBatchFieldByField (the fallback)",
      run: ({ bodies }) =>
        _sum(bodies, (body) => scanBatchFieldByField(body, 1, _TODAY).rows.bytes.length),
    },
    {
      name: "copyPlainBatch (the fast path alone)",
      run: ({ bodies }) =>
        _sum(bodies, (body) => {
          const { first, count } = readBatchHeader(body);
          return copyPlainBatch(body, first, count, 1, out, _TODAY);
        }),
    },
    {
      name: "rows: latin1 TextDecoder (windows-1252 in Deno)",
      run: ({ rows }) => _sum(rows, (bytes) => _latin1.decode(bytes).length),
    },
    {
      name: "rows: String.fromCharCode.apply (exact bytes)",
      run: ({ rows }) => _sum(rows, (bytes) => _bytesString(bytes).length),
    },
    {
      name: "rows: fatal UTF-8 TextDecoder",
      run: ({ rows }) => _sum(rows, (bytes) => _utf8Fatal.decode(bytes).length),
    },
    {
      name: "rows: fatal UTF-8 TextDecoder + every rule as one regex",
      run: ({ rows }) => _sum(rows, (bytes) => _plainRows.test(_utf8Fatal.decode(bytes)) ? 1 : 0),
    },
    {
      name: "rows: fatal UTF-8 TextDecoder + a regex with 8 captures per row",
      run: ({ rows }) =>
        _sum(rows, (bytes) => {
          let fields = 0;
          for (const match of _utf8Fatal.decode(bytes).matchAll(_ROW_CAPTURES)) {
            fields += match.length;
          }
          return fields;
        }),
    },
    {
      name: "body: copy (Uint8Array.prototype.set)",
      run: ({ bodies }) =>
        _sum(bodies, (body) => {
          out.set(body, 0);
          return out[7]!;
        }),
    },
    {
      name: "body: copy byte by byte in JavaScript",
      run: ({ bodies }) =>
        _sum(bodies, (body) => {
          for (let index = 0; index < body.length; index += 1) out[index] = body[index]!;
          return out[7]!;
        }),
    },
    {
      name: "body: digest as a second pass (murmur3 per bet)",
      run: ({ bodies }) => _sum(bodies, _digestOnly),
    },
    {
      name: "client: FileBatcher over the agency file (rows, rules, frames)",
      run: ({ file }) => _batchFile({ FileBatcher, StoredPrefixCheck, Logger }, file),
    },
  ];
  if (baseline !== undefined) {
    options.splice(1, 0, {
      name: "scanBatch of --baseline",
      run: ({ bodies }) =>
        _sum(bodies, (body) => baseline.scanBatch(body, 1, _TODAY).rows.bytes.length),
    });
    options.push({
      name: "client: FileBatcher of --baseline",
      run: ({ file }) => _batchFile(baseline.client, file),
    });
  }
  return options;
}

/** The digest of a batch's bets, walking the length prefixes: the scan's second pass. */
function _digestOnly(body: Uint8Array): number {
  const { first, count } = readBatchHeader(body);
  const view = viewOf(body);
  let digest = EMPTY_DIGEST;
  let position = 6;
  for (let bet = 0; bet < count; bet += 1) {
    const start = position;
    for (let field = 0; field < 4; field += 1) position += 1 + body[position]!;
    position += 2;
    digest = addBet(digest, view, start, position, first + bet);
  }
  return digest;
}

/** Median of a list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((one, other) => one - other);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Times each option over the batches, `rounds` times, taking turns.
 * @returns each option's median ns per bet
 */
export function measure(
  options: readonly ScanOption[],
  batches: Batches,
  rounds: number,
): { name: string; nsPerBet: number; spread: [number, number] }[] {
  let bets = 0;
  for (const body of batches.bodies) bets += readBatchHeader(body).count;
  const samples = options.map(() => [] as number[]);
  for (let round = 0; round < rounds + 1; round += 1) {
    options.forEach((option, index) => {
      const start = cpuUsage();
      option.run(batches);
      const used = cpuUsage(start);
      const ns = (used.user + used.system) * 1e3 / bets;
      // The first round warms the JIT up and is not counted.
      if (round > 0) samples[index]!.push(ns);
    });
  }
  return options.map((option, index) => ({
    name: option.name,
    nsPerBet: median(samples[index]!),
    spread: [Math.min(...samples[index]!), Math.max(...samples[index]!)],
  }));
}

/** What a run measures. */
export interface ScanMicroArgs {
  rounds: number;
  batches: number;
  /** Another checkout whose scanBatch takes turns with this one's. */
  baseline?: string;
}

/**
 * Parses the command line, `deno task scan-micro -- …` included.
 * @throws {RangeError} when a count is not a whole number in its range
 * @throws {TypeError} on an unknown flag
 */
export function parseScanMicroArgs(args: readonly string[]): ScanMicroArgs {
  const { values } = parseArgs({
    args: withoutTaskSeparator(args),
    options: {
      rounds: { type: "string" },
      batches: { type: "string" },
      baseline: { type: "string" },
    },
  });
  return {
    rounds: wholeNumberFlag(values.rounds, "--rounds", 9, 1, 10_000),
    batches: wholeNumberFlag(values.batches, "--batches", 2000, 1, 1_000_000),
    ...(values.baseline === undefined ? {} : { baseline: values.baseline }),
  };
}

async function _loadBaseline(dir: string): Promise<Baseline> {
  const root = `file://${Deno.realPathSync(dir)}`;
  const load = (path: string) => import(new URL(`${root}/${path}`).href);
  return {
    scanBatch: (await load("lib/server/batch_scan.ts")).scanBatch,
    client: {
      FileBatcher: (await load("lib/client/file_batcher.ts")).FileBatcher,
      StoredPrefixCheck: (await load("lib/client/stored_prefix_check.ts")).StoredPrefixCheck,
      Logger: (await load("lib/runtime/log.ts")).Logger,
    },
  };
}

async function main(): Promise<void> {
  const args = parseScanMicroArgs(Deno.args);
  // Another checkout's scans (e.g. a worktree of the base commit), timed in turns with this one's.
  const baseline = args.baseline === undefined ? undefined : await _loadBaseline(args.baseline);
  const rounds = args.rounds;
  const batches = makeBatches(args.batches);
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown CPU";
  console.log(
    `CPU: ${model}; Deno ${Deno.version.deno} (V8 ${Deno.version.v8}); ` +
      `${batches.bodies.length} batches of 100 bets; median of ${rounds} rounds`,
  );
  console.log("");
  console.log(`| option (CPU: ${model}) | ns/bet | min–max |`);
  console.log("| --- | --- | --- |");
  for (const row of measure(scanOptions(baseline), batches, rounds)) {
    console.log(
      `| ${row.name} | ${row.nsPerBet.toFixed(0)} | ${row.spread[0].toFixed(0)}–${
        row.spread[1].toFixed(0)
      } |`,
    );
  }
}

if (import.meta.main) await main();
