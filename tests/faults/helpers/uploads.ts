/**
 * In-process agency uploads (lib/agency_upload.ts) against a server under
 * fault: each collects its log lines and can act on them as they come.
 */

import { AgencyUpload, type UploadSummary } from "../../../lib/agency_upload.ts";
import { Logger } from "../../../lib/log.ts";

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
export function countLines(lines: readonly string[], action: string, result = "success"): number {
  const marker = ` action: ${action} | result: ${result}`;
  let count = 0;
  for (const line of lines) if (line.includes(marker)) count += 1;
  return count;
}

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
