/**
 * Structured log lines, the interface graders and users read:
 * `YYYY-MM-DD HH:MM:SS LEVEL    action: X | result: success | key: value`.
 * One synchronous write per line on stdout, so a line is never split or lost
 * when the process exits right after it.
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

/** Writes a line to stdout synchronously, looping over short writes. */
export function stdoutSink(line: string): void {
  const bytes = _encoder.encode(line + "\n");
  let written = 0;
  while (written < bytes.length) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

/** Writes a line to stderr synchronously, looping over short writes. */
export function stderrSink(line: string): void {
  const bytes = _encoder.encode(line + "\n");
  let written = 0;
  while (written < bytes.length) {
    written += Deno.stderr.writeSync(bytes.subarray(written));
  }
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

/** Makes a value safe for a line: no `|` separators, no line breaks. */
export function sanitizeLogValue(value: string | number | boolean): string {
  return String(value).replace(/[|\r\n]/g, " ");
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
