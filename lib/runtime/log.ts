/**
 * Structured log lines, the interface graders and users read:
 * `YYYY-MM-DD HH:MM:SS LEVEL    action: X | result: success | key: value`.
 * Lines logged in one turn of the event loop reach stdout in one synchronous
 * write when that turn's microtasks run, or earlier when bytes are about to
 * leave for a peer ({@link flushLogLines}): a line is never split, a burst of
 * lines costs one syscall, a line is out before the reply that follows from
 * it, and a process that exits right after a line still writes it.
 */

/** Log levels, ordered by severity. */
export const LOG_LEVELS = [
  "DEBUG",
  "INFO",
  "WARNING",
  "ERROR",
  "CRITICAL",
] as const;
export type LogLevel = typeof LOG_LEVELS[number];

/** Outcome of the logged operation. `in_progress` is an attempt that will be
 * retried; `fail` is definitive. */
export type LogResult = "success" | "fail" | "in_progress";

/** Extra `key: value` pairs of a line, in insertion order. */
export type LogFields = Record<string, string | number | boolean>;

/**
 * Parses a level name, case-insensitively.
 * @param text level name from config, e.g. `info`
 * @returns the canonical level
 * @throws {RangeError} when the name is not a known level
 */
export function parseLogLevel(text: string): LogLevel {
  const upper = text.trim().toUpperCase();
  const level = LOG_LEVELS.find((known) => known === upper);
  if (level === undefined) {
    throw new RangeError(
      `unknown log level "${text}" (expected one of ${LOG_LEVELS.join(", ")})`,
    );
  }
  return level;
}

/** Where log lines go; tests pass a collector instead of stdout. */
export type LogSink = (line: string) => void;

const _encoder = new TextEncoder();

function _writeSync(stream: typeof Deno.stdout | typeof Deno.stderr, text: string): void {
  const bytes = _encoder.encode(text);
  let written = 0;
  while (written < bytes.length) {
    written += stream.writeSync(bytes.subarray(written));
  }
}

/** Lines waiting for the end of this turn's microtasks. */
let _stdoutPending = "";
let _flushOnUnload = false;

/**
 * Writes the lines queued for stdout now. Called before bytes leave for a
 * peer, so a line is on stdout before any reply that follows from it.
 */
export function flushLogLines(): void {
  const text = _stdoutPending;
  _stdoutPending = "";
  if (text !== "") _writeSync(Deno.stdout, text);
}

/**
 * Queues a line for stdout; the lines of one turn go out in one synchronous
 * write from a microtask, or on `unload` (Deno.exit) if that comes first.
 */
export function stdoutSink(line: string): void {
  if (!_flushOnUnload) {
    _flushOnUnload = true;
    globalThis.addEventListener("unload", flushLogLines);
  }
  if (_stdoutPending === "") queueMicrotask(flushLogLines);
  _stdoutPending += line + "\n";
}

/** Writes a line to stderr synchronously (fatal errors, right before exit). */
export function stderrSink(line: string): void {
  _writeSync(Deno.stderr, line + "\n");
}

function _pad2(value: number): string {
  return value < 10 ? `0${value}` : `${value}`;
}

/** Formats a date as `YYYY-MM-DD HH:MM:SS` in local time. */
export function formatTimestamp(date: Date): string {
  return `${date.getFullYear()}-${_pad2(date.getMonth() + 1)}-${_pad2(date.getDate())} ${
    _pad2(date.getHours())
  }:${_pad2(date.getMinutes())}:${_pad2(date.getSeconds())}`;
}

/** What a logged value may not hold as it is: the separator, line breaks,
 * and the other C0 and C1 control characters (ESC starts terminal escapes). */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const _UNSAFE = /[|\u0000-\u001f\u007f-\u009f]/g;

function _escape(character: string): string {
  if (character === "|" || character === "\n" || character === "\r") return " ";
  return `\\x${character.charCodeAt(0).toString(16).padStart(2, "0")}`;
}

/**
 * Makes a value safe for a line: `|` and line breaks become spaces, every
 * other control character is written as `\xNN`, so no peer can split a line
 * or put terminal escapes into the logs.
 * @example sanitizeLogValue("a\u001b[31mb") // "a\\x1b[31mb"
 */
export function sanitizeLogValue(value: string | number | boolean): string {
  return String(value).replace(_UNSAFE, _escape);
}

/**
 * Formats one log line.
 * @example
 * formatLogLine(new Date(2024, 0, 2, 3, 4, 5), "INFO", "sorteo", "success", {})
 * // "2024-01-02 03:04:05 INFO     action: sorteo | result: success"
 */
export function formatLogLine(
  date: Date,
  level: LogLevel,
  action: string,
  result: LogResult,
  fields: LogFields,
): string {
  let line = `${formatTimestamp(date)} ${level.padEnd(8)} action: ${action} | result: ${result}`;
  for (const [key, value] of Object.entries(fields)) {
    line += ` | ${key}: ${sanitizeLogValue(value)}`;
  }
  return line;
}

/** A logger bound to a minimum level and a sink. */
export class Logger {
  readonly #threshold: number;
  readonly #sink: LogSink;

  constructor(level: LogLevel, sink: LogSink = stdoutSink) {
    this.#threshold = LOG_LEVELS.indexOf(level);
    this.#sink = sink;
  }

  /** True when lines of `level` are written; guards costly DEBUG loops. */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#threshold;
  }

  log(
    level: LogLevel,
    action: string,
    result: LogResult,
    fields: LogFields = {},
  ): void {
    if (!this.enabled(level)) return;
    this.#sink(formatLogLine(new Date(), level, action, result, fields));
  }

  debug(action: string, result: LogResult, fields: LogFields = {}): void {
    this.log("DEBUG", action, result, fields);
  }

  info(action: string, result: LogResult, fields: LogFields = {}): void {
    this.log("INFO", action, result, fields);
  }

  warning(action: string, result: LogResult, fields: LogFields = {}): void {
    this.log("WARNING", action, result, fields);
  }

  error(action: string, result: LogResult, fields: LogFields = {}): void {
    this.log("ERROR", action, result, fields);
  }
}
