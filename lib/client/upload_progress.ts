/** The upload's `progreso` lines: every PROGRESS_INTERVAL_MS or tenth of the file. */

import { PROGRESS_INTERVAL_MS } from "../limits.ts";
import type { Logger } from "../runtime/log.ts";

/** Decides when an upload reports its progress, and writes the line. */
export class UploadProgress {
  readonly #logger: Logger;
  readonly #agency: number;
  readonly #fileBytes: number;
  readonly #startedMs: number;
  #lastMs: number;
  #lastTenth = 0;

  constructor(logger: Logger, agency: number, fileBytes: number, startedMs: number) {
    this.#logger = logger;
    this.#agency = agency;
    this.#fileBytes = fileBytes;
    this.#startedMs = startedMs;
    this.#lastMs = startedMs;
  }

  /**
   * Logs `progreso` when PROGRESS_INTERVAL_MS passed or another tenth of the
   * file was read since the last line.
   */
  report(confirmedBets: number, bytesRead: number, nowMs: number = Date.now()): void {
    const tenth = this.#fileBytes === 0 ? 10 : Math.floor((bytesRead * 10) / this.#fileBytes);
    if (nowMs - this.#lastMs < PROGRESS_INTERVAL_MS && tenth <= this.#lastTenth) return;
    this.#lastMs = nowMs;
    this.#lastTenth = tenth;
    const seconds = Math.max((nowMs - this.#startedMs) / 1000, 0.001);
    this.#logger.info("progreso", "in_progress", {
      client_id: this.#agency,
      bets_confirmed: confirmedBets,
      percent_read: this.#fileBytes === 0
        ? 100
        : Math.min(100, Math.round((bytesRead * 100) / this.#fileBytes)),
      bets_per_s: Math.round(confirmedBets / seconds),
    });
  }
}
