/**
 * Deno child processes watched the way the benchmark needs: every output
 * line stamped with the time it arrived, and the peak RSS (VmHWM) and CPU
 * time read from /proc every {@link POLL_INTERVAL_MS} until the process exits
 * (Deno grants /proc/<pid>/ reads only with --allow-all).
 */

import { readLines } from "../lib/bet/csv.ts";

/** How often /proc/<pid>/status and /proc/<pid>/stat are read. VmHWM only
 * grows, so a process loses at most its last interval's growth. */
export const POLL_INTERVAL_MS = 50;

/** For this long after the start the polls come every {@link _POLL_EARLY_INTERVAL_MS}
 * so that a process that lives for less than one interval is still measured. */
const _POLL_EARLY_MS = 500;
const _POLL_EARLY_INTERVAL_MS = 10;

/** Longest output line read; a longer one fails the watch. */
const _LINE_BYTES_MAX = 1024 * 1024;
/** Niceness of the measured processes, relative to the watcher's 0. */
const _WATCHED_NICENESS = 5;

/** Last output lines kept whatever the filter, for failure reports. */
const _TAIL_LINES_MAX = 100;

/** Kernel clock ticks per second in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const _CLOCK_TICKS_PER_S = 100;

/** Milliseconds since the epoch, sub-millisecond, comparable across processes. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** An output line and when the watcher read it. */
export interface StampedLine {
  /** Epoch milliseconds (see {@link nowMs}). */
  atMs: number;
  text: string;
}

/** What to start. */
export interface WatchOptions {
  /** Arguments of `deno`, e.g. `["run", "--allow-net", "server.ts"]`. */
  args: string[];
  /** Variables added to the inherited environment. */
  env: Record<string, string>;
  cwd: string;
  /** Which lines to keep in `lines`; the others are only counted. Default: all. */
  keep?: (text: string) => boolean;
}

/** What a watched process did, once it exited. */
export interface ProcessReport {
  pid: number;
  code: number;
  /** Highest VmHWM seen, in bytes. */
  peakRssBytes: number;
  /** User + system CPU time last seen, in milliseconds. */
  cpuMs: number;
  startedMs: number;
  exitedMs: number;
  /** Every line `keep` accepted, stdout and stderr, in arrival order. */
  lines: StampedLine[];
  lineCount: number;
  /** The last lines, kept or not. */
  tail: string[];
}

/**
 * Reads the peak RSS and CPU time of a live process.
 * @returns undefined once the process is gone (or a zombie without memory)
 */
async function _readProc(pid: number): Promise<{ hwmBytes: number; cpuMs: number } | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    if (hwm === null) return undefined;
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // Fields after the command name, which may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { hwmBytes: Number(hwm[1]) * 1024, cpuMs: (ticks * 1000) / _CLOCK_TICKS_PER_S };
  } catch {
    return undefined;
  }
}

/** Processes started and not yet exited, for {@link killAllWatched}. */
const _live = new Set<WatchedProcess>();

/** Sends a signal to every watched process still running (e.g. on Ctrl-C). */
export function killAllWatched(signal: Deno.Signal = "SIGKILL"): void {
  for (const process of _live) process.kill(signal);
}

/** A running `deno` child process under watch. */
export class WatchedProcess {
  readonly pid: number;
  readonly startedMs: number;
  /** Kept lines so far; grows while the process runs. */
  readonly lines: StampedLine[] = [];
  /** Resolves once the process exited and its output is drained. */
  readonly report: Promise<ProcessReport>;
  readonly #child: Deno.ChildProcess;
  readonly #keep: (text: string) => boolean;
  readonly #tail: string[] = [];
  readonly #waiters = new Set<(line: StampedLine) => void>();
  #lineCount = 0;
  #peakRssBytes = 0;
  #cpuMs = 0;

  /** Starts `deno` with the given arguments. */
  constructor(options: WatchOptions) {
    this.#keep = options.keep ?? (() => true);
    this.startedMs = nowMs();
    // Measured processes run at a lower priority than this watcher, so the
    // moment a line arrives is stamped when it arrives, not when the 2 cores
    // are next free of servers and clients (nice execs deno: same pid).
    this.#child = new Deno.Command("nice", {
      args: ["-n", String(_WATCHED_NICENESS), Deno.execPath(), ...options.args],
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    _live.add(this);
    this.report = this.#watch().finally(() => _live.delete(this));
  }

  async #watch(): Promise<ProcessReport> {
    let polling: Promise<void> | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = () => {
      polling ??= this.#poll().finally(() => polling = undefined);
      const early = nowMs() - this.startedMs < _POLL_EARLY_MS;
      timer = setTimeout(poll, early ? _POLL_EARLY_INTERVAL_MS : POLL_INTERVAL_MS);
    };
    poll();
    const output = Promise.all([
      this.#collect(this.#child.stdout),
      this.#collect(this.#child.stderr),
    ]);
    let status: Deno.CommandStatus;
    try {
      status = await this.#child.status;
    } finally {
      clearTimeout(timer);
    }
    const exitedMs = nowMs();
    await Promise.all([output, polling]);
    return {
      pid: this.pid,
      code: status.code,
      peakRssBytes: this.#peakRssBytes,
      cpuMs: this.#cpuMs,
      startedMs: this.startedMs,
      exitedMs,
      lines: this.lines,
      lineCount: this.#lineCount,
      tail: this.#tail,
    };
  }

  async #poll(): Promise<void> {
    const sample = await _readProc(this.pid);
    if (sample === undefined) return;
    this.#peakRssBytes = Math.max(this.#peakRssBytes, sample.hwmBytes);
    this.#cpuMs = Math.max(this.#cpuMs, sample.cpuMs);
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const { text } of readLines(stream, _LINE_BYTES_MAX)) {
      const line = { atMs: nowMs(), text };
      this.#lineCount += 1;
      this.#tail.push(text);
      if (this.#tail.length > _TAIL_LINES_MAX) this.#tail.shift();
      if (!this.#keep(text)) continue;
      this.lines.push(line);
      for (const waiter of this.#waiters) waiter(line);
    }
  }

  /**
   * Waits for a kept line that matches.
   * @throws {Error} when the process exits or `timeoutMs` passes first
   */
  async waitForLine(matches: (text: string) => boolean, timeoutMs: number): Promise<StampedLine> {
    const found = this.lines.find((line) => matches(line.text));
    if (found !== undefined) return found;
    const { promise, resolve, reject } = Promise.withResolvers<StampedLine>();
    const waiter = (line: StampedLine) => {
      if (matches(line.text)) resolve(line);
    };
    this.#waiters.add(waiter);
    const timer = setTimeout(
      () => reject(new Error(`pid ${this.pid}: no expected line within ${timeoutMs} ms`)),
      timeoutMs,
    );
    this.report.then(
      (report) =>
        reject(
          new Error(
            `pid ${this.pid} exited with code ${report.code} first:\n${report.tail.join("\n")}`,
          ),
        ),
      reject,
    );
    try {
      return await promise;
    } finally {
      clearTimeout(timer);
      this.#waiters.delete(waiter);
    }
  }

  /** Sends a signal; a process that already exited is left alone. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.#child.kill(signal);
    } catch {
      // already exited
    }
  }
}
