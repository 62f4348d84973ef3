/**
 * What the server's answer to a batch means for the upload, decided without
 * I/O: the upload (upload_connection.ts) acts on the verdict.
 */

import type { Message } from "../protocol/message_codec.ts";
import { ErrorCode, errorCodeName, MessageType } from "../protocol/protocol.ts";
import { describeMessage, isTransientCode } from "./upload_errors.ts";

/** A batchNack message. */
export type BatchNack = Extract<Message, { type: typeof MessageType.batchNack }>;

/** What to do after an answer to a batch. */
export type BatchReplyVerdict =
  /** The server stored the batch at `first`. */
  | { kind: "acknowledged"; first: number; count: number }
  /** Nothing of it was stored: reconnect, the next hello says where to resend from. */
  | { kind: "retryLater"; reason: string }
  /** Refused for good: the upload ends. `nack` is the refusal, when it was one. */
  | { kind: "refused"; reason: string; nack: BatchNack | undefined };

/**
 * Judges one answer to a batch. A batchNack is retried later when its code
 * is transient or it says the server expects an earlier position (it lost
 * what it had not stored yet); any other batchNack, and any message other
 * than batchAck, refuses the upload.
 * @param reply the message read after sending batches
 * @returns the verdict
 */
export function judgeBatchReply(reply: Message): BatchReplyVerdict {
  if (reply.type === MessageType.batchAck) {
    return { kind: "acknowledged", first: reply.first, count: reply.count };
  }
  if (reply.type !== MessageType.batchNack) {
    return {
      kind: "refused",
      reason: `unexpected answer to a batch: ${describeMessage(reply)}`,
      nack: undefined,
    };
  }
  const code = errorCodeName(reply.code);
  const behind = reply.code === ErrorCode.positionMismatch && reply.expected < reply.first;
  if (isTransientCode(reply.code) || behind) {
    return {
      kind: "retryLater",
      reason: `batch at ${reply.first} refused for now: ${code}: ${reply.reason}`,
    };
  }
  return {
    kind: "refused",
    reason: `batch of ${reply.count} bets at ${reply.first} refused: ${code}: ${reply.reason}`,
    nack: reply,
  };
}
