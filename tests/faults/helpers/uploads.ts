/**
 * In-process agency uploads (lib/client/agency_upload.ts) against a server under
 * fault: each collects its log lines and can act on them as they come.
 */

import assert from "node:assert/strict";
import { AgencyUpload, type UploadSummary } from "../../../lib/client/agency_upload.ts";
import type { Bet } from "../../../lib/bet/bet.ts";
import { Logger } from "../../../lib/runtime/log.ts";
import { winnersOf } from "./agency_data.ts";

/** A running upload. */
export interface RunningUpload {
  agency: number;
  /** Its log lines so far, DEBUG included. */
  lines: string[];
  /** Resolves with the summary (undefined when aborted). */
  done: Promise<UploadSummary | undefined>;
  /** Stops it (as SIGTERM would). */
  abort(): void;
}

/** What an upload under test needs. */
export interface UploadSpec {
  agency: number;
  port: number;
  dataFile: string;
  batchMaxAmount: number;
  batchWindow: number;
  /** Called with each log line (after it is recorded). */
  onLine?: (line: string) => void;
  reconnectBudgetMs?: number;
}

/** Starts an upload of one agency's file to 127.0.0.1. */
export function startUpload(spec: UploadSpec): RunningUpload {
  const lines: string[] = [];
  const stop = new AbortController();
  const onLine = spec.onLine ?? (() => {});
  const upload = new AgencyUpload({
    agency: spec.agency,
    hostname: "127.0.0.1",
    port: spec.port,
    dataFile: spec.dataFile,
    batchMaxAmount: spec.batchMaxAmount,
    batchWindow: spec.batchWindow,
    reconnectBudgetMs: spec.reconnectBudgetMs ?? 20_000,
    signal: stop.signal,
    logger: new Logger("DEBUG", (line) => {
      lines.push(line);
      onLine(line);
    }),
  });
  return { agency: spec.agency, lines, done: upload.run(), abort: () => stop.abort() };
}

/** Counts the lines of a log with `action: <action> | result: <result>`. */
export { countLines } from "../../helpers/log_lines.ts";

/**
 * Waits until `condition` holds, checking every few milliseconds.
 * @throws {Error} naming `what` when it does not hold within `timeoutMs`
 */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Starts one upload per data file: agency k uploads `files[k - 1]`. */
export function startUploads(
  files: readonly string[],
  spec: Omit<UploadSpec, "agency" | "dataFile">,
): RunningUpload[] {
  return files.map((dataFile, index) => startUpload({ ...spec, agency: index + 1, dataFile }));
}

/**
 * Waits for every upload, then asserts that each finished (a batch refused
 * for good fails the upload), counted every bet of its file as stored, and was told
 * exactly its agency's winners.
 * @param bets every bet of every file (writeAgencyData)
 */
export async function assertUploadsExact(
  uploads: readonly RunningUpload[],
  bets: readonly Bet[],
): Promise<void> {
  const summaries = await Promise.all(uploads.map((upload) => upload.done));
  for (const [index, summary] of summaries.entries()) {
    const agency = uploads[index]!.agency;
    assert.ok(summary !== undefined, `agency ${agency} finished its upload`);
    const own = bets.filter((bet) => bet.agency === agency).length;
    assert.equal(summary.betsConfirmed, own, `agency ${agency}: bets confirmed`);
    assert.deepEqual([...summary.winners].sort(), winnersOf(bets, agency));
  }
}
