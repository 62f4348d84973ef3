/**
 * Wire protocol constants. Every frame is a 7-byte header followed by a body:
 *
 * | offset | size | field                                   |
 * |--------|------|-----------------------------------------|
 * | 0      | 1    | marker `0xFA` (never the first byte of text) |
 * | 1      | 1    | protocol version (1)                    |
 * | 2      | 1    | message type                            |
 * | 3      | 4    | body length in bytes, big-endian u32    |
 */

/** First byte of every frame. 0xFA never starts UTF-8 text, so a connection
 * whose first byte differs is a plain-text echo session. */
export const FRAME_MARKER = 0xfa;

/** Protocol version this build speaks. */
export const PROTOCOL_VERSION = 2;

/** Bytes of the frame header: marker u8, version u8, type u8, body length u32. */
export const FRAME_HEADER_BYTES = 7;

/** Offset of the body length (u32) in the frame header. */
export const FRAME_LENGTH_OFFSET = 3;

/** Bytes of a batch body before its bets: first bet position u32, count u16. */
export const BATCH_HEADER_BYTES = 6;

/** Offset of the bet count (u16) in a batch body. */
export const BATCH_COUNT_OFFSET = 4;

/** Message types. */
export const MessageType = {
  hello: 1,
  helloAck: 2,
  batch: 3,
  batchAck: 4,
  batchNack: 5,
  finished: 6,
  winnersQuery: 7,
  winners: 8,
  error: 9,
} as const;
export type MessageType = typeof MessageType[keyof typeof MessageType];

/** Error codes carried by nack and error frames. */
export const ErrorCode = {
  malformedFrame: 1,
  unsupportedVersion: 2,
  unknownType: 3,
  frameTooLarge: 4,
  helloRequired: 5,
  invalidBet: 6,
  drawClosed: 7,
  storeFailed: 8,
  tooManyConnections: 9,
  idleTimeout: 10,
  shuttingDown: 11,
  countMismatch: 12,
  unknownAgency: 13,
  truncatedFrame: 14,
  invalidUtf8: 15,
  alreadyFinished: 16,
  unexpectedMessage: 17,
  /** A hello whose secret is wrong or missing while secrets are configured. */
  authenticationFailed: 18,
  /** A batch that does not start where the agency's stored bets end (a gap
   * or an overlap); its nack names the position the server expects. */
  positionMismatch: 19,
  /** A newer connection said hello for the same agency: this one is closed. */
  superseded: 20,
} as const;
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/** The name of an error code, for logs. */
export function errorCodeName(code: number): string {
  for (const [name, value] of Object.entries(ErrorCode)) {
    if (value === code) return name;
  }
  return `unknown(${code})`;
}

/** Where in a batch a protocol error was found, for the nack. */
export interface BatchErrorContext {
  /** Position of the batch's first bet within the agency's upload (0-based). */
  first: number;
  /** 1-based position of the offending bet, 0 when not about one bet. */
  betIndex: number;
  /** The offending field, empty when not about one field. */
  field: string;
}

/** A peer broke the protocol; `code` is what to answer it. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  /** Set when the error concerns one batch, which is then nacked. */
  readonly batch: BatchErrorContext | undefined;

  constructor(code: ErrorCode, message: string, batch?: BatchErrorContext) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
    this.batch = batch;
  }
}
