/**
 * An agency's winners query: waits for the draw (idle time paused, since the
 * agency rightly waits), answers with the agency's winners, and gives up
 * when the peer leaves first, so a gone peer does not hold its connection
 * (and a slot of the cap) until the draw.
 */

import type { BufferedReader } from "../protocol/buffered_reader.ts";
import { ErrorCode, ProtocolError } from "../protocol/protocol.ts";
import type { Logger } from "../runtime/log.ts";
import type { IdleClock } from "./idle_timer.ts";
import type { Lottery } from "./lottery.ts";
import type { ServerMetrics } from "./server_metrics.ts";

/** What answering one winners query uses. */
export interface WinnersQuery {
  agency: number;
  reader: BufferedReader;
  idle: IdleClock;
  lottery: Pick<Lottery, "answerWinners">;
  logger: Logger;
  metrics: ServerMetrics | undefined;
  /** Aborted when the server shuts down. */
  shutdown: AbortSignal;
  /** Sends a frame behind the session's earlier ones. */
  send(frame: Uint8Array): Promise<void>;
}

/**
 * Answers a winners query, waiting for the draw if needed. Returns without
 * an answer when the peer left first or the server shuts down (it asks
 * again after the restart).
 * @throws what sending the answer throws, and the draw's other errors
 */
export async function answerWinnersQuery(query: WinnersQuery): Promise<void> {
  const { agency, idle, logger } = query;
  idle.pause();
  const peerLeft = new AbortController();
  let answered = false;
  // Once answered, a peer leaving is the normal end: no abort to dispatch.
  const leave = () => answered || peerLeft.abort();
  const watching = query.reader.peekByte().then((byte) => byte === null && leave(), leave);
  let count: number;
  try {
    const answering = query.lottery.answerWinners(agency, peerLeft.signal, (ready) => {
      answered = true;
      idle.resume();
      // Logged before the frame leaves: readers of the logs see it first.
      logger.info("ganadores_enviados", "success", { agency, cant_ganadores: ready.count });
      return query.send(ready.frame).catch((error) => {
        logger.warning("ganadores_enviados", "fail", {
          agency,
          error: (error as Error).message,
        });
        throw error;
      });
    });
    // The query is registered now (waiting for the draw, or answered).
    logger.debug("consulta_ganadores", "in_progress", { agency });
    count = (await answering).count;
  } catch (error) {
    if (!answered && peerLeft.signal.aborted) return;
    if (
      error instanceof ProtocolError && error.code === ErrorCode.shuttingDown &&
      query.shutdown.aborted
    ) {
      // A requested shutdown, not a failure: the server's close says
      // shuttingDown, and the agency asks again after the restart.
      logger.info("consulta_ganadores", "in_progress", { agency, reason: error.message });
      return;
    }
    throw error;
  } finally {
    idle.resume();
  }
  query.metrics?.winnersSent(agency, count);
  // The next read goes through the watcher's pending one, never beside it.
  await watching;
}
