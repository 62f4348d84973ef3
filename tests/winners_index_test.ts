import assert from "node:assert/strict";
import { encodeWinnerDocuments } from "../lib/protocol/message_codec.ts";
import { WinnersIndex } from "../lib/store/winners_index.ts";
import { documentsOf } from "./helpers/winners.ts";

const _encoder = new TextEncoder();

Deno.test("WinnersIndex.answer() of an agency without winners is a frame of 0 documents", () => {
  const index = new WinnersIndex();
  index.add(1, encodeWinnerDocuments([]));
  for (const agency of [1, 2]) {
    const answer = index.answer(agency);
    assert.equal(answer.count, 0);
    assert.deepEqual(documentsOf(answer), []);
  }
});

Deno.test("WinnersIndex keeps each agency's documents apart, in the order they were added", () => {
  const index = new WinnersIndex();
  index.add(1, encodeWinnerDocuments(["30904465", "1"]));
  index.add(2, encodeWinnerDocuments(["22"]));
  const row = _encoder.encode("1,Ana,Gómez,555666777,2000-01-01,7574");
  const start = row.indexOf(0x2c, row.indexOf(0x2c, 2) + 1) + 1;
  index.addDocument(1, row, start, start + 9);
  index.add(1, encodeWinnerDocuments(["123456789012"]));
  assert.deepEqual(documentsOf(index.answer(1)), ["30904465", "1", "555666777", "123456789012"]);
  assert.deepEqual(documentsOf(index.answer(2)), ["22"]);
  assert.equal(index.answer(1).count, 4);
  assert.equal(index.answer(3).count, 0);
});

Deno.test("WinnersIndex.answer() taken before more winners come is followed by one with all of them", () => {
  const index = new WinnersIndex();
  index.add(1, encodeWinnerDocuments(["11"]));
  assert.deepEqual(documentsOf(index.answer(1)), ["11"]);
  index.add(1, encodeWinnerDocuments(["22", "33"]));
  const answer = index.answer(1);
  assert.equal(answer.count, 3);
  assert.deepEqual(documentsOf(answer), ["11", "22", "33"]);
});

Deno.test("WinnersIndex answers 100,000 documents of one agency, past every buffer growth", () => {
  const index = new WinnersIndex();
  const documents = Array.from({ length: 100_000 }, (_, n) => String(10_000_000 + n));
  for (let at = 0; at < documents.length; at += 1_000) {
    index.add(7, encodeWinnerDocuments(documents.slice(at, at + 1_000)));
  }
  assert.deepEqual(documentsOf(index.answer(7)), documents);
});

Deno.test("WinnersIndex.addDocument() takes 255 bytes and refuses 256 (the length byte)", () => {
  const index = new WinnersIndex();
  const bytes = new Uint8Array(256).fill(0x31);
  index.addDocument(1, bytes, 0, 255);
  assert.equal(documentsOf(index.answer(1))[0]!.length, 255);
  assert.throws(() => index.addDocument(1, bytes, 0, 256), RangeError);
  assert.equal(index.answer(1).count, 1, "the refused document is not counted");
});
