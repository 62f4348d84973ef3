/**
 * Encodes and decodes the protocol's messages (frame header + body).
 *
 * | type | name          | body                                                        |
 * |------|---------------|-------------------------------------------------------------|
 * | 1    | hello         | agency u32, then optionally secret s8 (absent: no secret)    |
 * | 2    | helloAck      | draw id s8, stored bets u32, stored digest u32, checkpoint count u16, checkpoints × (position u32, digest u32) |
 * | 3    | batch         | first u32, count u16, count × bet                           |
 * | 4    | batchAck      | first u32, count u16                                        |
 * | 5    | batchNack     | first u32, count u16, code u8, bet index u16, field s8, reason s16, expected u32 |
 * | 6    | finished      | total bets u32                                              |
 * | 7    | winnersQuery  | (empty)                                                     |
 * | 8    | winners       | count u32, count × document s8                              |
 * | 9    | error         | code u8, text s16                                           |
 *
 * A bet is first name s8, last name s8, document s8, birthdate s8, number u16,
 * where s8 / s16 is UTF-8 text prefixed by its byte length as u8 / u16.
 * `first` is the position of the batch's first bet in the agency's upload
 * (0-based); docs/PROTOCOL.md is the full specification.
 */

import type { Bet } from "../bet/bet.ts";
import { assertFits, ByteReader, ByteWriter } from "./byte_cursor.ts";
import { ERROR_TEXT_BYTES_MAX } from "../limits.ts";
import {
  ErrorCode,
  FRAME_HEADER_BYTES,
  FRAME_LENGTH_OFFSET,
  FRAME_MARKER,
  MessageType,
  PROTOCOL_VERSION,
  ProtocolError,
} from "./protocol.ts";

/** A bet as it travels: the agency is bound to the connection at hello. */
export type WireBet = Omit<Bet, "agency">;

/** Every message of the protocol. */
export type Message =
  | { type: typeof MessageType.hello; agency: number; secret?: string }
  | {
    type: typeof MessageType.helloAck;
    /** The draw the server's store belongs to. */
    drawId: string;
    /** Bets stored for the agency in this draw: where its upload resumes. */
    storedBets: number;
    /** Digest (bet_digest.ts) of those stored bets. */
    storedDigest: number;
    /** Digests of stored prefixes, ascending, so a mismatch can be located. */
    checkpoints: Checkpoint[];
  }
  | { type: typeof MessageType.batch; first: number; bets: WireBet[] }
  | { type: typeof MessageType.batchAck; first: number; count: number }
  | {
    type: typeof MessageType.batchNack;
    first: number;
    count: number;
    code: ErrorCode;
    /** 1-based index of the offending bet in the batch, 0 when not about one bet. */
    betIndex: number;
    field: string;
    reason: string;
    /** The position the server expects the agency's next batch to start at. */
    expected: number;
  }
  | { type: typeof MessageType.finished; total: number }
  | { type: typeof MessageType.winnersQuery }
  | { type: typeof MessageType.winners; documents: string[] }
  | { type: typeof MessageType.error; code: ErrorCode; text: string };

/** The digest of an agency's first `position` stored bets. */
export interface Checkpoint {
  position: number;
  digest: number;
}

/** A frame as read off the wire, body not yet decoded. */
export interface Frame {
  type: number;
  body: Uint8Array;
}

/** Writes a frame header whose length is patched by {@link finishFrame}. */
export function startFrame(writer: ByteWriter, type: MessageType): void {
  writer.u8(FRAME_MARKER).u8(PROTOCOL_VERSION).u8(type).u32(0);
}

/** Patches the body length of the frame that starts at `frameStart`. */
export function finishFrame(writer: ByteWriter, frameStart = 0): Uint8Array {
  writer.patchU32(
    frameStart + FRAME_LENGTH_OFFSET,
    writer.length - frameStart - FRAME_HEADER_BYTES,
  );
  return writer.view();
}

/**
 * Encodes an agency's hello, with its secret when it has one.
 * @example helloFrame(3, undefined) // the 11-byte frame of agency 3, no secret
 */
export function helloFrame(agency: number, secret: string | undefined): Uint8Array {
  return encodeMessage({
    type: MessageType.hello,
    agency,
    ...(secret === undefined ? {} : { secret }),
  });
}

/** Winning documents in wire form: each a length byte and its bytes. */
export interface WinnerDocuments {
  bytes: Uint8Array;
  count: number;
}

/**
 * Encodes documents in wire form (the simple path: tests, bet mode).
 * @throws {RangeError} when a document is longer than 255 bytes
 */
export function encodeWinnerDocuments(documents: readonly string[]): WinnerDocuments {
  const writer = new ByteWriter();
  for (const document of documents) writer.text(document, 1, "document");
  return { bytes: writer.view().slice(), count: documents.length };
}

/**
 * Starts a winners frame at the writer's start: header and a count patched
 * by {@link finishWinnersFrame}. The documents, in wire form, come next.
 */
export function startWinnersFrame(writer: ByteWriter): void {
  startFrame(writer, MessageType.winners);
  writer.u32(0);
}

/**
 * Patches the length and count of the winners frame started by
 * {@link startWinnersFrame}.
 * @returns the frame: a view of the writer's bytes, valid until its next write
 */
export function finishWinnersFrame(writer: ByteWriter, count: number): Uint8Array {
  writer.patchU32(FRAME_HEADER_BYTES, count);
  return finishFrame(writer);
}

/** Encodes a winners frame from documents already in wire form. */
export function winnersFrame(documents: WinnerDocuments): Uint8Array {
  const writer = new ByteWriter(FRAME_HEADER_BYTES + 4 + documents.bytes.length);
  startWinnersFrame(writer);
  writer.raw(documents.bytes);
  return finishWinnersFrame(writer, documents.count);
}

/** Appends one bet's wire encoding. */
export function encodeBet(writer: ByteWriter, bet: WireBet): void {
  writer
    .text(bet.firstName, 1, "first_name")
    .text(bet.lastName, 1, "last_name")
    .text(bet.document, 1, "document")
    .text(bet.birthdate, 1, "birthdate")
    .u16(bet.number);
}

function _clip(text: string): string {
  return text.length > ERROR_TEXT_BYTES_MAX / 4 ? text.slice(0, ERROR_TEXT_BYTES_MAX / 4) : text;
}

/** Body bytes of a batchAck: first u32, count u16. */
const _BATCH_ACK_BODY_BYTES = 6;

/**
 * Encodes a batchAck in its exact 13 bytes. The server sends one per batch,
 * its most frequent frame: the general writer's growable buffer, view and
 * checked field calls cost about four times as much.
 * @throws {RangeError} when `first` is not a u32 or `count` not a u16
 * @example batchAckFrame(100, 100) // FA 02 04 00 00 00 06 00 00 00 64 00 64
 */
export function batchAckFrame(first: number, count: number): Uint8Array {
  assertFits(first, 0xffff_ffff, "u32");
  assertFits(count, 0xffff, "u16");
  const frame = new Uint8Array(FRAME_HEADER_BYTES + _BATCH_ACK_BODY_BYTES);
  frame[0] = FRAME_MARKER;
  frame[1] = PROTOCOL_VERSION;
  frame[2] = MessageType.batchAck;
  frame[FRAME_LENGTH_OFFSET + 3] = _BATCH_ACK_BODY_BYTES;
  frame[7] = first >>> 24;
  frame[8] = (first >>> 16) & 0xff;
  frame[9] = (first >>> 8) & 0xff;
  frame[10] = first & 0xff;
  frame[11] = count >> 8;
  frame[12] = count & 0xff;
  return frame;
}

/**
 * Encodes a message as a complete frame.
 * @throws {RangeError} when a field does not fit its wire type
 */
export function encodeMessage(message: Message): Uint8Array {
  if (message.type === MessageType.batchAck) return batchAckFrame(message.first, message.count);
  if (message.type === MessageType.winners) {
    return winnersFrame(encodeWinnerDocuments(message.documents));
  }
  const writer = new ByteWriter();
  startFrame(writer, message.type);
  switch (message.type) {
    case MessageType.hello:
      writer.u32(message.agency);
      if (message.secret !== undefined) writer.text(message.secret, 1, "secret");
      break;
    case MessageType.helloAck:
      writer.text(message.drawId, 1, "draw id").u32(message.storedBets).u32(message.storedDigest)
        .u16(message.checkpoints.length);
      for (const { position, digest } of message.checkpoints) writer.u32(position).u32(digest);
      break;
    case MessageType.batch:
      writer.u32(message.first).u16(message.bets.length);
      for (const bet of message.bets) encodeBet(writer, bet);
      break;
    case MessageType.batchNack:
      writer.u32(message.first).u16(message.count).u8(message.code)
        .u16(message.betIndex).text(message.field, 1, "field")
        .text(_clip(message.reason), 2, "reason").u32(message.expected);
      break;
    case MessageType.finished:
      writer.u32(message.total);
      break;
    case MessageType.winnersQuery:
      break;
    case MessageType.error:
      writer.u8(message.code).text(_clip(message.text), 2, "text");
      break;
  }
  return finishFrame(writer).slice();
}

function _decodeBet(
  reader: ByteReader,
  first: number,
  betIndex: number,
): WireBet {
  let field = "first_name";
  try {
    const firstName = reader.shortText(field);
    field = "last_name";
    const lastName = reader.shortText(field);
    field = "document";
    const document = reader.shortText(field);
    field = "birthdate";
    const birthdate = reader.shortText(field);
    field = "number";
    const number = reader.u16(field);
    return { firstName, lastName, document, birthdate, number };
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    // Bad text is the bet's fault; a body cut short is the count's, which
    // names no bet (its reason says where the body ran out).
    if (error.code === ErrorCode.invalidUtf8) {
      throw new ProtocolError(ErrorCode.invalidBet, `bet ${betIndex}: ${error.message}`, {
        first,
        betIndex,
        field,
      });
    }
    throw new ProtocolError(ErrorCode.countMismatch, `bet ${betIndex}: ${error.message}`, {
      first,
      betIndex: 0,
      field: "",
    });
  }
}

function _decodeBatch(reader: ByteReader): Message {
  const first = reader.u32("first");
  const count = reader.u16("count");
  const bets: WireBet[] = new Array(count);
  for (let index = 0; index < count; index += 1) {
    bets[index] = _decodeBet(reader, first, index + 1);
  }
  if (reader.remaining !== 0) {
    throw new ProtocolError(
      ErrorCode.countMismatch,
      `batch declares ${count} bets but ${reader.remaining} bytes follow the last one`,
      { first, betIndex: 0, field: "" },
    );
  }
  return { type: MessageType.batch, first, bets };
}

function _errorCode(reader: ByteReader): ErrorCode {
  return reader.u8("code") as ErrorCode;
}

/**
 * Decodes a frame's body into a message.
 * @throws {ProtocolError} on an unknown type or a body that does not match it
 */
export function decodeMessage(frame: Frame): Message {
  const reader = new ByteReader(frame.body);
  let message: Message;
  switch (frame.type) {
    case MessageType.hello: {
      const agency = reader.u32("agency");
      // The secret is a trailing field, so hellos of older clients still decode.
      message = reader.remaining === 0
        ? { type: MessageType.hello, agency }
        : { type: MessageType.hello, agency, secret: reader.shortText("secret") };
      break;
    }
    case MessageType.helloAck: {
      const drawId = reader.shortText("draw id");
      const storedBets = reader.u32("stored bets");
      const storedDigest = reader.u32("stored digest");
      const checkpoints: Checkpoint[] = new Array(reader.u16("checkpoint count"));
      for (let index = 0; index < checkpoints.length; index += 1) {
        checkpoints[index] = { position: reader.u32("position"), digest: reader.u32("digest") };
      }
      message = { type: MessageType.helloAck, drawId, storedBets, storedDigest, checkpoints };
      break;
    }
    case MessageType.batch:
      return _decodeBatch(reader);
    case MessageType.batchAck:
      message = {
        type: MessageType.batchAck,
        first: reader.u32("first"),
        count: reader.u16("count"),
      };
      break;
    case MessageType.batchNack:
      message = {
        type: MessageType.batchNack,
        first: reader.u32("first"),
        count: reader.u16("count"),
        code: _errorCode(reader),
        betIndex: reader.u16("bet index"),
        field: reader.shortText("field"),
        reason: reader.longText("reason"),
        expected: reader.u32("expected"),
      };
      break;
    case MessageType.finished:
      message = { type: MessageType.finished, total: reader.u32("total") };
      break;
    case MessageType.winnersQuery:
      message = { type: MessageType.winnersQuery };
      break;
    case MessageType.winners: {
      const count = reader.u32("count");
      if (count > reader.remaining) {
        throw new ProtocolError(
          ErrorCode.countMismatch,
          `winners declares ${count} documents in ${reader.remaining} bytes`,
        );
      }
      const documents: string[] = [];
      for (let index = 0; index < count; index += 1) {
        documents.push(reader.shortText("document"));
      }
      message = { type: MessageType.winners, documents };
      break;
    }
    case MessageType.error:
      message = {
        type: MessageType.error,
        code: _errorCode(reader),
        text: reader.longText("text"),
      };
      break;
    default:
      throw new ProtocolError(
        ErrorCode.unknownType,
        `unknown message type ${frame.type}`,
      );
  }
  reader.end(`message type ${frame.type}`);
  return message;
}
