/**
 * Writes seeded synthetic agency files: data/agency-<k>.csv.
 *
 * deno task data -- --agencies 5 --bets 2000 --seed 1 [--winners 4] [--out data]
 */

import { parseArgs } from "node:util";
import { wholeNumberFlag, withoutTaskSeparator } from "./lib/runtime/task_args.ts";
import { formatAgencyRow } from "./lib/bet/bet_csv.ts";
import { generateAgencyBets } from "./lib/dev/bet_generator.ts";
import { writeAll } from "./lib/protocol/buffered_reader.ts";

const _USAGE =
  `Usage: deno task data -- [--agencies N] [--bets M] [--seed S] [--winners W] [--out DIR]
Writes DIR/agency-1.csv .. agency-N.csv with M bets each, W of which play 7574.
Defaults: --agencies 5 --bets 2000 --seed 1 --winners M/500 rounded up --out data`;

/** Largest value of a count flag (agencies, bets, winners, seed). */
const _COUNT_MAX = 2 ** 31;

/** Bets formatted per write, to bound memory on large files. */
const _ROWS_PER_WRITE = 10_000;

/** Options of one data generation run. */
export interface DataOptions {
  agencies: number;
  bets: number;
  seed: number;
  winners: number;
  out: string;
}

/**
 * Writes one agency's file, streaming.
 * @returns the file's path
 */
export async function writeAgencyFile(
  options: DataOptions,
  agency: number,
): Promise<string> {
  await Deno.mkdir(options.out, { recursive: true });
  const path = `${options.out}/agency-${agency}.csv`;
  using file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  const encoder = new TextEncoder();
  let text = "";
  let rows = 0;
  for (
    const bet of generateAgencyBets({
      agency,
      bets: options.bets,
      winners: options.winners,
      seed: options.seed,
    })
  ) {
    text += formatAgencyRow(bet);
    rows += 1;
    if (rows % _ROWS_PER_WRITE === 0) {
      await writeAll(file, encoder.encode(text));
      text = "";
    }
  }
  await writeAll(file, encoder.encode(text));
  return path;
}

/** Parses the command line into options. */
export function parseDataArgs(args: string[]): DataOptions | "help" {
  const { values } = parseArgs({
    args: withoutTaskSeparator(args),
    options: {
      agencies: { type: "string" },
      bets: { type: "string" },
      seed: { type: "string" },
      winners: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return "help";
  const bets = wholeNumberFlag(values.bets, "--bets", 2000, 0, _COUNT_MAX);
  const winners = wholeNumberFlag(values.winners, "--winners", Math.ceil(bets / 500), 0, bets);
  return {
    agencies: wholeNumberFlag(values.agencies, "--agencies", 5, 0, _COUNT_MAX),
    bets,
    seed: wholeNumberFlag(values.seed, "--seed", 1, 0, _COUNT_MAX),
    winners,
    out: values.out ?? "data",
  };
}

async function main(): Promise<void> {
  let options: DataOptions | "help";
  try {
    options = parseDataArgs(Deno.args);
  } catch (error) {
    console.error(`gen_data: ${(error as Error).message}\n${_USAGE}`);
    Deno.exitCode = 2;
    return;
  }
  if (options === "help") {
    console.log(_USAGE);
    return;
  }
  for (let agency = 1; agency <= options.agencies; agency += 1) {
    const path = await writeAgencyFile(options, agency);
    console.log(
      `wrote ${path}: ${options.bets} bets, ${options.winners} winners`,
    );
  }
}

if (import.meta.main) await main();
