/**
 * The last words before a close: an error frame (or a TLS close_notify) is
 * written, then the connection is closed once it is out, or after a bounded
 * wait, since a peer that reads nothing would hold the write, and the close
 * behind it, for ever.
 */

import { ERROR_REPLY_WAIT_MS } from "../limits.ts";
import { encodeMessage } from "../protocol/message_codec.ts";
import { type ErrorCode, MessageType } from "../protocol/protocol.ts";
import { closeQuietly } from "../runtime/close_quietly.ts";
import { type ByteSink, writeAll } from "../runtime/write_all.ts";

/**
 * Calls `close` once, when `lastWrite` settles (fulfilled or rejected) or
 * `waitMs` after this call, whichever comes first.
 * @param lastWrite the write that must go out before the close
 * @param close closes the connection
 * @param waitMs the longest wait for `lastWrite`
 * @returns once `close` was called
 */
export function closeAfter(
  lastWrite: Promise<unknown>,
  close: () => void,
  waitMs: number = ERROR_REPLY_WAIT_MS,
): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  const closeOnce = () => {
    clearTimeout(closeAnyway);
    resolve();
  };
  const closeAnyway = setTimeout(closeOnce, waitMs);
  lastWrite.then(closeOnce, closeOnce);
  return promise.then(close);
}

/**
 * Writes an error frame to `conn`, then closes it ({@link closeAfter}); a
 * failed write is ignored.
 * @returns once the connection is closed
 */
export function refuseAndClose(
  conn: ByteSink & { close(): void },
  code: ErrorCode,
  text: string,
): Promise<void> {
  const written = writeAll(conn, encodeMessage({ type: MessageType.error, code, text }));
  return closeAfter(written, () => closeQuietly(conn));
}
