/** Byte array helpers. */

/**
 * Joins byte arrays into one (returns the only one without copying).
 * @example concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])]) // [1, 2, 3]
 */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
