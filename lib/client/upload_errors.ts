/**
 * How an upload's failures are told apart: a refusal for good ends the
 * upload; a transient refusal or a lost connection means reconnect and
 * resend.
 */

import type { Message } from "../protocol/message_codec.ts";
import { ErrorCode, errorCodeName, MessageType, ProtocolError } from "../protocol/protocol.ts";

/** A refusal for good (drawClosed, invalidBet, a file that does not match, …);
 * the upload turns it into an UploadError with its summary. */
export class UploadRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UploadRefusal";
  }
}

/** The server refused for now (it stored nothing of it): reconnect and resend. */
export class TransientRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransientRefusal";
  }
}

/** Error codes after which resending on a new connection is right: the
 * server stored nothing and may accept it later. */
const _TRANSIENT_CODES: ReadonlySet<number> = new Set([
  ErrorCode.shuttingDown,
  ErrorCode.storeFailed,
  ErrorCode.idleTimeout,
  ErrorCode.tooManyConnections,
]);

/**
 * Whether an error code refuses only for now.
 * @param code an ErrorCode of an error or batchNack message
 */
export function isTransientCode(code: number): boolean {
  return _TRANSIENT_CODES.has(code);
}

/**
 * Whether an error means the connection is gone or unusable, so the upload
 * reconnects: a transient refusal, a reset, a broken pipe, an end of stream
 * inside a frame.
 */
export function isConnectionLoss(error: unknown): boolean {
  return error instanceof TransientRefusal ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.UnexpectedEof ||
    (error instanceof ProtocolError && error.code === ErrorCode.truncatedFrame);
}

/**
 * A message in a log line or error: an error message's code name and text,
 * else its type number.
 * @example
 * ```ts
 * describeMessage({ type: MessageType.winnersQuery }); // "message type 7"
 * ```
 */
export function describeMessage(message: Message): string {
  if (message.type === MessageType.error) {
    return `${errorCodeName(message.code)}: ${message.text}`;
  }
  return `message type ${message.type}`;
}
