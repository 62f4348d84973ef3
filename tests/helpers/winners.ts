/** Reads a winners answer back through the client's decoder. */

import assert from "node:assert/strict";
import { decodeMessage } from "../../lib/protocol/message_codec.ts";
import {
  FRAME_HEADER_BYTES,
  FRAME_LENGTH_OFFSET,
  MessageType,
} from "../../lib/protocol/protocol.ts";
import type { WinnersAnswer } from "../../lib/store/winners_index.ts";

/**
 * The documents of a winners answer, decoded from its frame.
 * @throws {AssertionError} when the frame is not a winners message of `count` documents
 */
export function documentsOf(answer: WinnersAnswer): string[] {
  const declared = new DataView(answer.frame.buffer, answer.frame.byteOffset).getUint32(
    FRAME_LENGTH_OFFSET,
  );
  assert.equal(declared, answer.frame.length - FRAME_HEADER_BYTES, "the header's body length");
  const message = decodeMessage({
    type: answer.frame[2]!,
    body: answer.frame.subarray(FRAME_HEADER_BYTES),
  });
  assert.equal(message.type, MessageType.winners);
  if (message.type !== MessageType.winners) return [];
  assert.equal(message.documents.length, answer.count, "count and documents agree");
  return message.documents;
}
