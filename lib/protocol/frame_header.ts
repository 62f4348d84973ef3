/**
 * Checks of a frame header (marker, version, type, u32 body length) as it
 * sits in a reader's buffer, before any body byte is read or allocated.
 * Pure, so the reader's fast path and its slow path share one rule.
 */

import {
  ErrorCode,
  FRAME_LENGTH_OFFSET,
  FRAME_MARKER,
  PROTOCOL_VERSION,
  ProtocolError,
} from "./protocol.ts";

/**
 * The body length a frame header declares (a big-endian u32).
 * @param bytes holds a whole header at `at`
 * @param at where the header starts
 */
export function frameBodyLength(bytes: Uint8Array, at: number): number {
  const offset = at + FRAME_LENGTH_OFFSET;
  return (bytes[offset]! * 0x1000000) +
    ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!);
}

/**
 * What is wrong with a frame header, checked in wire order: marker, then
 * version, then the body length against the cap.
 * @param bytes holds a whole header at `at`
 * @param at where the header starts
 * @param frameBytesMax largest body accepted
 * @returns the error to throw, or undefined when the header is sound
 */
export function frameHeaderError(
  bytes: Uint8Array,
  at: number,
  frameBytesMax: number,
): ProtocolError | undefined {
  const marker = bytes[at];
  if (marker !== FRAME_MARKER) {
    return new ProtocolError(
      ErrorCode.malformedFrame,
      `frame starts with byte ${marker}, expected marker ${FRAME_MARKER}`,
    );
  }
  const version = bytes[at + 1];
  if (version !== PROTOCOL_VERSION) {
    return new ProtocolError(
      ErrorCode.unsupportedVersion,
      `protocol version ${version} is not supported (this build speaks ${PROTOCOL_VERSION})`,
    );
  }
  const length = frameBodyLength(bytes, at);
  if (length > frameBytesMax) {
    return new ProtocolError(
      ErrorCode.frameTooLarge,
      `frame body of ${length} bytes exceeds the maximum of ${frameBytesMax} bytes`,
    );
  }
  return undefined;
}
