/** The single-bet mode: one bet from the environment, sent and confirmed. */

import type { Bet } from "../bet/bet.ts";
import { BufferedReader } from "../protocol/buffered_reader.ts";
import { writeAll } from "../runtime/write_all.ts";
import { connectOptionsOf, type ServerEndpoint, usingConnection } from "./connect_retry.ts";
import { SINGLE_BET_REPLY_BYTES_MAX } from "../limits.ts";
import { decodeMessage, encodeMessage, helloFrame } from "../protocol/message_codec.ts";
import { errorCodeName, MessageType } from "../protocol/protocol.ts";

/** What a single-bet run needs. */
export interface SingleBetOptions extends ServerEndpoint {
  agency: number;
  /** Sent in hello when the server checks agency secrets. */
  secret?: string;
  bet: Bet;
}

/**
 * Sends one bet and waits for the server to confirm it stored.
 * @throws {Error} when the server refuses it or cannot be reached
 */
export async function sendSingleBet(options: SingleBetOptions): Promise<void> {
  const { agency, bet, logger } = options;
  let connected = false;
  try {
    await usingConnection(connectOptionsOf(options, agency), async (conn) => {
      connected = true;
      const reader = new BufferedReader(conn);
      await writeAll(conn, helloFrame(agency, options.secret));
      const hello = await reader.readFrame(SINGLE_BET_REPLY_BYTES_MAX);
      if (hello === null) throw new Error("server closed the connection after hello");
      const helloAck = decodeMessage(hello);
      if (helloAck.type !== MessageType.helloAck) {
        throw new Error(`server refused hello (message type ${helloAck.type})`);
      }
      // Always position 0: a restarted bet-mode client is then a duplicate, not a
      // second bet (and a different bet already stored there is refused).
      await writeAll(conn, encodeMessage({ type: MessageType.batch, first: 0, bets: [bet] }));
      const frame = await reader.readFrame(SINGLE_BET_REPLY_BYTES_MAX);
      if (frame === null) throw new Error("server closed the connection before confirming the bet");
      const reply = decodeMessage(frame);
      if (reply.type === MessageType.batchNack) {
        throw new Error(`bet refused: ${errorCodeName(reply.code)}: ${reply.reason}`);
      }
      if (reply.type !== MessageType.batchAck) {
        throw new Error(`unexpected answer to the bet (message type ${reply.type})`);
      }
      logger.info("apuesta_enviada", "success", { dni: bet.document, numero: bet.number });
    });
  } finally {
    if (connected) logger.info("close_connection", "success", { client_id: agency });
  }
}
