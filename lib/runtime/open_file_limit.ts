/**
 * The process's open-file limit (RLIMIT_NOFILE) and what it leaves for
 * connections. Deno raises its soft limit to the hard one at start by
 * itself; no API sets it further, so the server reads what it got from
 * /proc/self/limits, logs it, and serves no more connections than it can
 * open descriptors for.
 */

import { OPEN_FILES_RESERVED } from "../limits.ts";

/** Soft and hard open-file limits; `Infinity` for unlimited. */
export interface OpenFileLimit {
  soft: number;
  hard: number;
}

/**
 * Reads the open-file limits from the text of /proc/<pid>/limits.
 * @example parseOpenFileLimit("Max open files  1024  4096  files\n") // { soft: 1024, hard: 4096 }
 * @returns undefined when the text has no such line
 */
export function parseOpenFileLimit(limitsText: string): OpenFileLimit | undefined {
  const match = /^Max open files\s+(\S+)\s+(\S+)\s+files\s*$/m.exec(limitsText);
  if (match === null) return undefined;
  const value = (text: string) => text === "unlimited" ? Infinity : Number(text);
  const soft = value(match[1]!);
  const hard = value(match[2]!);
  if (Number.isNaN(soft) || Number.isNaN(hard)) return undefined;
  return { soft, hard };
}

/**
 * This process's open-file limits.
 * @returns undefined when /proc/self/limits cannot be read (not Linux, or
 *   no read permission for it)
 */
export function readOpenFileLimit(): OpenFileLimit | undefined {
  try {
    return parseOpenFileLimit(Deno.readTextFileSync("/proc/self/limits"));
  } catch {
    return undefined;
  }
}

/**
 * The connections a server may hold with this limit: the configured
 * number, or fewer when its descriptors plus OPEN_FILES_RESERVED would pass
 * the soft limit (so an extra connection gets the normal connection-limit
 * refusal instead of failing accept with EMFILE).
 * @param configured CONNECTIONS_MAX
 * @param limit the process's limits; undefined: unknown, the configured number stands
 * @returns the connection cap, at least 1
 */
export function connectionsWithin(
  configured: number,
  limit: OpenFileLimit | undefined,
): number {
  if (limit === undefined || configured + OPEN_FILES_RESERVED <= limit.soft) return configured;
  return Math.max(1, limit.soft - OPEN_FILES_RESERVED);
}
