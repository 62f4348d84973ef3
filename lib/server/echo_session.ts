/**
 * The plain-text health check: every line received is sent back unchanged,
 * so `echo hi | nc server 12345` answers `hi`.
 */

import { type BufferedReader } from "../protocol/buffered_reader.ts";
import { type ByteSink, writeAll } from "../runtime/write_all.ts";
import { ECHO_LINE_BYTES_MAX } from "../limits.ts";
import type { Logger } from "../runtime/log.ts";

const _decoder = new TextDecoder();

/**
 * Echoes lines until the peer closes.
 * @param reader the connection's reader (its first byte was not a frame marker)
 * @param sink the connection, for the replies
 * @param ip the peer's address, for the log
 * @param onLine called after each complete line (the idle timer counts from it)
 * @throws {RangeError} when a line exceeds ECHO_LINE_BYTES_MAX
 */
export async function runEchoSession(
  reader: BufferedReader,
  sink: ByteSink,
  ip: string,
  logger: Logger,
  onLine: () => void = () => {},
): Promise<void> {
  while (true) {
    const line = await reader.readLine(ECHO_LINE_BYTES_MAX);
    if (line === null) return;
    onLine();
    const text = _decoder.decode(line).replace(/\r?\n$/, "");
    logger.info("receive_message", "success", { ip, msg: text });
    await writeAll(sink, line);
  }
}
