/**
 * One round trip of the plain-text echo health check: send a line, expect the
 * same bytes back, all within a deadline. Used by the server image's
 * HEALTHCHECK (healthcheck.ts).
 */

import { BufferedReader } from "./buffered_reader.ts";
import { writeAll } from "../runtime/write_all.ts";
import { closeQuietly } from "../runtime/close_quietly.ts";
import { ECHO_LINE_BYTES_MAX } from "../limits.ts";

/** Where and what to probe. */
export interface EchoProbeOptions {
  hostname: string;
  port: number;
  /** One line of text, without a line break. */
  message: string;
  /** Bound on the whole round trip, connect included. */
  timeoutMs: number;
}

/** The probe's verdict; `reason` says what went wrong. */
export type EchoProbeResult = { ok: true } | { ok: false; reason: string };

const _encoder = new TextEncoder();
const _decoder = new TextDecoder();

/**
 * Tells whether `answer` is exactly `message` followed by a line break.
 * @example echoAnswerMismatch("hi", "hi\n") // undefined
 */
export function echoAnswerMismatch(
  message: string,
  answer: string | null,
): string | undefined {
  if (answer === null) return "the server closed the connection without answering";
  if (answer === `${message}\n`) return undefined;
  return `expected ${JSON.stringify(`${message}\n`)}, got ${JSON.stringify(answer)}`;
}

/**
 * Sends `message` and a line break and checks the echoed line byte for byte.
 * @returns ok, or the reason it failed (refused, timed out, wrong answer)
 * @throws {TypeError} when the message contains a line break
 */
export async function probeEcho(
  options: EchoProbeOptions,
): Promise<EchoProbeResult> {
  if (/[\r\n]/.test(options.message)) {
    throw new TypeError(
      `Cannot probe with message ${JSON.stringify(options.message)}: it must be one line`,
    );
  }
  // A plain timer, cleared below: an AbortSignal.timeout with a listener
  // would keep the process alive until it fires.
  const deadline = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      deadline.abort();
      resolve("timeout");
    }, options.timeoutMs);
  });
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({
      hostname: options.hostname,
      port: options.port,
      signal: deadline.signal,
    });
    const reading = (async () => {
      await writeAll(conn, _encoder.encode(`${options.message}\n`));
      return await new BufferedReader(conn).readLine(ECHO_LINE_BYTES_MAX);
    })();
    const line = await Promise.race([reading, timedOut]);
    if (line === "timeout") throw new Error("timed out");
    const mismatch = echoAnswerMismatch(
      options.message,
      line === null ? null : _decoder.decode(line),
    );
    if (mismatch === undefined) return { ok: true };
    return { ok: false, reason: `${options.hostname}:${options.port}: ${mismatch}` };
  } catch (error) {
    const reason = deadline.signal.aborted
      ? `no answer within ${options.timeoutMs} ms`
      : (error as Error).message;
    return { ok: false, reason: `${options.hostname}:${options.port}: ${reason}` };
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}
