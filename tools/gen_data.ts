/**
 * Writes seeded synthetic agency files: data/agency-<k>.csv.
 *
 * deno task data -- --agencies 5 --bets 2000 --seed 1 [--winners 4] [--out data] [--crlf]
 */

import { parseArgs } from "node:util";
import { wholeNumberFlag, withoutTaskSeparator } from "../lib/runtime/task_args.ts";
import { type DataOptions, writeAgencyFile } from "../lib/dev/agency_file.ts";
import { runProgram } from "../lib/runtime/program.ts";

const _USAGE =
  `Usage: deno task data -- [--agencies N] [--bets M] [--seed S] [--winners W] [--out DIR] [--crlf]
Writes DIR/agency-1.csv .. agency-N.csv with M bets each, W of which play 7574;
--crlf ends lines with CRLF, as the course's dataset files do.
Defaults: --agencies 5 --bets 2000 --seed 1 --winners M/500 rounded up --out data`;

/** Largest value of a count flag (agencies, bets, winners, seed). */
const _COUNT_MAX = 2 ** 31;

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
      crlf: { type: "boolean" },
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
    ...(values.crlf ? { crlf: true } : {}),
  };
}

async function _generate(options: DataOptions): Promise<number> {
  for (let agency = 1; agency <= options.agencies; agency += 1) {
    const path = await writeAgencyFile(options, agency);
    console.log(`wrote ${path}: ${options.bets} bets, ${options.winners} winners`);
  }
  return 0;
}

if (import.meta.main) await runProgram("gen_data", _USAGE, parseDataArgs, _generate);
