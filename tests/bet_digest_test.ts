import assert from "node:assert/strict";
import {
  addBet,
  digestAfter,
  EMPTY_DIGEST,
  formatDigest,
  joinDigests,
  murmur3,
  murmur3Tail,
  murmur3Word,
  viewOf,
} from "../lib/protocol/bet_digest.ts";

const _encoder = new TextEncoder();

Deno.test("murmur3() matches MurmurHash3 x86 32-bit reference values", async (t) => {
  const cases: [string, number, number][] = [
    ["", 0, 0],
    ["", 1, 0x514e28b7],
    ["", 0xffffffff, 0x81f16f39],
    ["a", 0, 0x3c2569b2],
    ["ab", 0, 0x9bbfd75f],
    ["abc", 0, 0xb3dd93fa],
    ["abcd", 0, 0x43ed676a],
    ["hello", 0, 0x248bfa47],
    ["The quick brown fox jumps over the lazy dog", 0, 0x2e4ff723],
    ["The quick brown fox jumps over the lazy dog", 0x9747b28c, 0x2fa826cd],
  ];
  for (const [text, seed, expected] of cases) {
    await t.step(`${JSON.stringify(text)} seed ${seed}`, () => {
      const bytes = _encoder.encode(text);
      assert.equal(murmur3(viewOf(bytes), 0, bytes.length, seed), expected);
    });
  }
});

Deno.test("murmur3() of a range equals murmur3() of those bytes alone, also through a view of a subarray", () => {
  const bytes = _encoder.encode("xxhello worldyy");
  const alone = _encoder.encode("hello world");
  assert.equal(murmur3(viewOf(bytes), 2, 13, 7), murmur3(viewOf(alone), 0, alone.length, 7));
  assert.equal(murmur3(viewOf(bytes.subarray(2)), 0, 11, 7), murmur3(viewOf(alone), 0, 11, 7));
});

Deno.test("addBet() depends on the bet's position; digests join and split by subtraction mod 2^32", () => {
  const bet = _encoder.encode("a bet");
  const at0 = addBet(EMPTY_DIGEST, viewOf(bet), 0, bet.length, 0);
  const at1 = addBet(EMPTY_DIGEST, viewOf(bet), 0, bet.length, 1);
  assert.notEqual(at0, at1, "the same bet at another position has another digest");
  const both = addBet(at0, viewOf(bet), 0, bet.length, 1);
  assert.equal(both, joinDigests(at0, at1));
  assert.equal(digestAfter(both, at0), at1);
  assert.equal(joinDigests(0xffff_ffff, 2), 1, "mod 2^32");
  assert.equal(digestAfter(1, 2), 0xffff_ffff);
});

Deno.test("formatDigest() writes 8 lowercase hex digits", () => {
  assert.equal(formatDigest(0), "00000000");
  assert.equal(formatDigest(0xabc), "00000abc");
  assert.equal(formatDigest(0xffff_ffff), "ffffffff");
});

Deno.test("murmur3Word() over the words and murmur3Tail() over the rest give murmur3()", () => {
  const bytes = _encoder.encode("The quick brown fox jumps over the lazy dog");
  const view = viewOf(bytes);
  for (let end = 0; end <= bytes.length; end += 1) {
    let hash = 0x9747b28c | 0;
    let at = 0;
    for (; at + 4 <= end; at += 4) hash = murmur3Word(hash, view.getUint32(at, true));
    assert.equal(murmur3Tail(hash, view, at, end, end), murmur3(view, 0, end, 0x9747b28c));
  }
});
