/**
 * The digest of an agency's bets, as the server stores them and the client
 * uploads them: the sum, mod 2^32, of one MurmurHash3 (x86, 32-bit) per bet,
 * taken over the bet's wire bytes and seeded with the bet's position in the
 * agency's upload (0-based). A sum of per-bet terms does not depend on how
 * the bets were cut into batches, and the seed makes the order count. It
 * catches accidents (another file, an edited row), not attackers: two
 * different sequences of bets share a digest with a chance of about 2^-32.
 * docs/PROTOCOL.md specifies it for other implementations.
 */

const _C1 = 0xcc9e2d51;
const _C2 = 0x1b873593;

function _mixBlock(k: number): number {
  k = Math.imul(k, _C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, _C2);
}

/** A DataView over all of `bytes` (what {@link murmur3} and {@link addBet} read). */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * One step of {@link murmur3}: mixes the next little-endian 4-byte word into
 * the hash. Exported so the server's batch scan can hash a bet's words while
 * it copies them, instead of reading them again.
 * @param hash the seed, then what the previous step returned
 */
export function murmur3Word(hash: number, word: number): number {
  hash ^= _mixBlock(word);
  hash = (hash << 13) | (hash >>> 19);
  return (Math.imul(hash, 5) + 0xe6546b64) | 0;
}

/**
 * The last step of {@link murmur3}: mixes in the 0 to 3 bytes at `[at, end)`
 * left after the words and finalizes.
 * @param length the length of everything hashed, words and tail
 */
export function murmur3Tail(
  hash: number,
  view: DataView,
  at: number,
  end: number,
  length: number,
): number {
  const tail = end - at;
  if (tail > 0) {
    let k = view.getUint8(at);
    if (tail > 1) k |= view.getUint8(at + 1) << 8;
    if (tail > 2) k |= view.getUint8(at + 2) << 16;
    hash ^= _mixBlock(k);
  }
  hash ^= length;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * MurmurHash3 x86 32-bit of the bytes at `[start, end)` of `view`, with
 * `seed`. Reads whole little-endian words through the DataView: faster
 * than assembling them from single bytes, and the server hashes every bet.
 * @example murmur3(viewOf(new TextEncoder().encode("hello")), 0, 5, 0) // 0x248bfa47
 */
export function murmur3(view: DataView, start: number, end: number, seed: number): number {
  let hash = seed | 0;
  const blocksEnd = start + ((end - start) & ~3);
  let at = start;
  for (; at < blocksEnd; at += 4) hash = murmur3Word(hash, view.getUint32(at, true));
  return murmur3Tail(hash, view, at, end, end - start);
}

/** The digest of no bets. */
export const EMPTY_DIGEST = 0;

/**
 * Adds one bet, at `position` of the upload, to a digest.
 * @param view holds the bet's wire encoding at `[start, end)`
 */
export function addBet(
  digest: number,
  view: DataView,
  start: number,
  end: number,
  position: number,
): number {
  return (digest + murmur3(view, start, end, position)) >>> 0;
}

/** The digest of two consecutive runs of bets, from the digest of each. */
export function joinDigests(before: number, after: number): number {
  return (before + after) >>> 0;
}

/** The digest of the bets after `before`, given the digest of all of them. */
export function digestAfter(all: number, before: number): number {
  return (all - before) >>> 0;
}

/** A digest as 8 lowercase hex digits (logs, journal). */
export function formatDigest(digest: number): string {
  return digest.toString(16).padStart(8, "0");
}
