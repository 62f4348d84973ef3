/**
 * What a session answers and logs about a batch or a broken exchange:
 * the nack for a refusal, and the log line each outcome gets. Kept apart
 * from the session so the messages and fields are checked without a
 * connection.
 */

import type { Logger } from "../runtime/log.ts";
import type { Message } from "../protocol/message_codec.ts";
import { decodeMessage } from "../protocol/message_codec.ts";
import { ErrorCode, errorCodeName, MessageType, ProtocolError } from "../protocol/protocol.ts";

/**
 * The nack that refuses a batch.
 * @param expected where the agency's next batch must start
 */
export function nackOf(
  first: number,
  count: number,
  error: ProtocolError,
  expected: number,
): Message {
  return {
    type: MessageType.batchNack,
    first,
    count,
    code: error.code,
    betIndex: error.batch?.betIndex ?? 0,
    field: error.batch?.field ?? "",
    reason: error.message,
    expected,
  };
}

/**
 * A store's rejection as the protocol error the agency is told: protocol
 * errors as they are, anything else (a failed write) as storeFailed.
 */
export function storeRefusal(error: unknown): ProtocolError {
  return error instanceof ProtocolError
    ? error
    : new ProtocolError(ErrorCode.storeFailed, (error as Error).message);
}

/** Logs a refused batch: at INFO when the server shuts down (the agency
 * resends after the restart), else as a WARNING. */
export function logRefusedBatch(
  logger: Logger,
  agency: number,
  first: number,
  count: number,
  expected: number,
  error: ProtocolError,
): void {
  const fields = { cantidad: count, agency, first, expected, code: errorCodeName(error.code) };
  if (error.code === ErrorCode.shuttingDown) {
    logger.info("apuesta_recibida", "in_progress", { ...fields, reason: error.message });
  } else {
    logger.warning("apuesta_recibida", "fail", { ...fields, error: error.message });
  }
}

/**
 * Logs a stored batch (or a duplicate of one), and at DEBUG each of its bets.
 * @param debugBody the batch frame's body, kept only when DEBUG is on
 */
export function logStoredBatch(
  logger: Logger,
  agency: number,
  first: number,
  count: number,
  duplicate: boolean,
  debugBody: Uint8Array | undefined,
): void {
  if (duplicate) {
    logger.info("apuesta_duplicada", "success", { agency, first, cantidad: count });
    return;
  }
  logger.info("apuesta_recibida", "success", { cantidad: count });
  if (debugBody === undefined) return;
  const message = decodeMessage({ type: MessageType.batch, body: debugBody });
  if (message.type !== MessageType.batch) return;
  for (const bet of message.bets) {
    logger.debug("apuesta_almacenada", "success", { dni: bet.document, numero: bet.number });
  }
}

/** Logs the protocol error that ends a session: at INFO for a requested
 * shutdown (normal operation, not a broken peer), else as a WARNING. */
export function logSessionError(
  logger: Logger,
  agency: number,
  error: ProtocolError,
  shuttingDown: boolean,
): void {
  const code = errorCodeName(error.code);
  if (error.code === ErrorCode.shuttingDown && shuttingDown) {
    logger.info("protocol_error", "in_progress", { agency, code, reason: error.message });
  } else {
    logger.warning("protocol_error", "fail", { agency, code, error: error.message });
  }
}
