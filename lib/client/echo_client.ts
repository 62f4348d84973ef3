/** The exercise's original client loop: numbered messages echoed back. */

import { BufferedReader } from "../protocol/buffered_reader.ts";
import { writeAll } from "../runtime/write_all.ts";
import { connectOptionsOf, type ServerEndpoint, sleep, usingConnection } from "./connect_retry.ts";
import { ECHO_LINE_BYTES_MAX } from "../limits.ts";

/** What the loop needs. */
export interface EchoLoopOptions extends ServerEndpoint {
  clientId: number;
  amount: number;
  periodMs: number;
}

const _encoder = new TextEncoder();
const _decoder = new TextDecoder();

/**
 * Sends `amount` messages, one connection each, `periodMs` apart, logging
 * every answer, then `loop_finished`.
 * @returns false when stopped by the signal before the end
 * @throws {Error} when the server cannot be reached or answers nothing
 */
export async function runEchoLoop(options: EchoLoopOptions): Promise<boolean> {
  const { clientId, logger, signal } = options;
  for (let index = 1; index <= options.amount; index += 1) {
    let connected = false;
    const answered = await usingConnection(connectOptionsOf(options, clientId), async (conn) => {
      connected = true;
      await writeAll(conn, _encoder.encode(`[CLIENT ${clientId}] Message N°${index}\n`));
      const line = await new BufferedReader(conn).readLine(ECHO_LINE_BYTES_MAX);
      if (line === null) {
        throw new Error("server closed the connection without answering");
      }
      logger.info("receive_message", "success", {
        client_id: clientId,
        msg: _decoder.decode(line).replace(/\r?\n$/, ""),
      });
      return true;
    });
    if (answered === undefined) {
      // Stopped by the signal: under way on a connection, or still connecting.
      if (connected) logger.info("close_connection", "success", { client_id: clientId });
      return false;
    }
    if (index < options.amount) await sleep(options.periodMs, signal);
    if (signal.aborted) return false;
  }
  logger.info("loop_finished", "success", { client_id: clientId });
  return true;
}
