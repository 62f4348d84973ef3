import assert from "node:assert/strict";
import {
  applyJournalRecord,
  formatJournalRecord,
  type JournalRecord,
  type JournalState,
  parseJournalRecord,
  replayJournal,
} from "../lib/store/store_journal.ts";

/** Per agency: stored bets and digest, from a state's ledgers. */
function stored(state: JournalState): [number, number, number][] {
  return [...state.ledgers].map(([agency, ledger]) => [
    agency,
    ledger.storedBets,
    ledger.storedDigest,
  ]);
}

Deno.test("formatJournalRecord() writes one line per record", async (t) => {
  const cases: [JournalRecord, string][] = [
    [
      { kind: "B", agency: 1, first: 2, count: 3, betsFileBytes: 456, digest: 0xab },
      "B 1 2 3 456 000000ab\n",
    ],
    [
      { kind: "B", agency: 5, first: 0, count: 0, betsFileBytes: 0, digest: 0xffff_ffff },
      "B 5 0 0 0 ffffffff\n",
    ],
    [{ kind: "F", agency: 4, total: 2000 }, "F 4 2000\n"],
    [{ kind: "F", agency: 4, total: 0 }, "F 4 0\n"],
  ];
  for (const [record, line] of cases) {
    await t.step(JSON.stringify(line), () => {
      assert.equal(formatJournalRecord(record), line);
    });
  }
});

Deno.test("parseJournalRecord() reads back every record, values at their bounds", async (t) => {
  const cases: JournalRecord[] = [
    { kind: "B", agency: 1, first: 1, count: 100, betsFileBytes: 4567, digest: 12345 },
    { kind: "B", agency: 0, first: 0, count: 0, betsFileBytes: 0, digest: 0 },
    {
      kind: "B",
      agency: 999_999_999,
      first: 0xffff_ffff,
      count: 0xffff,
      betsFileBytes: 999_999_999_999_999,
      digest: 0xffff_ffff,
    },
    { kind: "F", agency: 3, total: 0 },
    { kind: "F", agency: 999_999_999, total: 0xffff_ffff },
  ];
  for (const record of cases) {
    await t.step(formatJournalRecord(record).trimEnd(), () => {
      assert.deepEqual(parseJournalRecord(formatJournalRecord(record).slice(0, -1)), record);
    });
  }
});

Deno.test("parseJournalRecord() rejects a line that is not a record with SyntaxError", async (t) => {
  const digest = "0000abcd";
  const cases = [
    "",
    " ",
    "B",
    "B 1 2 3 4",
    `B 1 2 3 4 ${digest} 5`,
    `B 1 2 3 4 ${digest} `,
    ` B 1 2 3 4 ${digest}`,
    `b 1 2 3 4 ${digest}`,
    `B -1 2 3 4 ${digest}`,
    `B 1 2 3 4.5 ${digest}`,
    `B a 2 3 4 ${digest}`,
    `B 1000000000 2 3 4 ${digest}`,
    `B 1 10000000000 3 4 ${digest}`,
    `B 1 2 100000 4 ${digest}`,
    `B 1 2 3 1000000000000000 ${digest}`,
    "B 1 2 3 4 0000abc",
    "B 1 2 3 4 0000ABCD",
    "B 1 2 3 4 0000abcde",
    `B 1  2 3 4 ${digest}`,
    `B\t1 2 3 4 ${digest}`,
    "F 1",
    "F 1 2 3",
    "X 1 2",
    `B 1 2 3 4 ${digest}\r`,
  ];
  for (const line of cases) {
    await t.step(JSON.stringify(line), () => {
      assert.throws(() => parseJournalRecord(line), {
        name: "SyntaxError",
        message: new RegExp(RegExp.escape(`"${line}"`)),
      });
    });
  }
});

Deno.test("parseJournalRecord() quotes at most 80 characters of a bad line", () => {
  assert.throws(() => parseJournalRecord("x".repeat(500)), { message: /"x{80}"/ });
});

Deno.test("replayJournal() of an empty journal is an empty state", () => {
  const state = replayJournal("");
  assert.equal(state.ledgers.size, 0);
  assert.equal(state.finished.size, 0);
  assert.equal(state.batches, 0);
  assert.equal(state.betsFileBytes, 0);
  assert.equal(state.journalBytes, 0);
});

Deno.test("replayJournal() sums bets and digests per agency, keeps the last bytes and the finished totals", () => {
  const text = "B 1 0 2 100 00000001\nB 2 0 3 250 00000010\nB 1 2 1 300 00000002\nF 1 3\n";
  const state = replayJournal(text);
  assert.deepEqual(stored(state), [[1, 3, 3], [2, 3, 0x10]]);
  assert.deepEqual([...state.finished], [[1, 3]]);
  assert.equal(state.batches, 3);
  assert.equal(state.betsFileBytes, 300);
  assert.equal(state.journalBytes, text.length);
});

Deno.test("replayJournal() leaves out a last line without its newline", async (t) => {
  const complete = "B 1 0 2 100 00000001\nF 1 2\n";
  for (const partial of ["B", "B 1 2 3 40", "B 1 2 3 40 0000", "F 1 2", "\0\0\0", "garbage"]) {
    await t.step(JSON.stringify(partial), () => {
      const state = replayJournal(complete + partial);
      assert.equal(state.journalBytes, complete.length);
      assert.deepEqual(stored(state), [[1, 2, 1]]);
      assert.deepEqual([...state.finished], [[1, 2]]);
    });
  }
});

Deno.test("replayJournal() rejects a complete line that is not a record or a batch out of place, naming its number", async (t) => {
  const cases: [string, RegExp][] = [
    ["B 1 0 2 100 00000001\nnonsense\n", /journal line 2: not a journal record: "nonsense"/],
    ["\n", /journal line 1/],
    ["B 1 0 2 100 00000001\r\n", /journal line 1/],
    ["B 1 0 2 100 00000001\nB 1 3 1 150 00000001\n", /journal line 2: batch at 3 follows 2/],
    ["B 1 1 2 100 00000001\n", /journal line 1: batch at 1 follows 0/],
  ];
  for (const [text, message] of cases) {
    await t.step(JSON.stringify(text), () => {
      assert.throws(() => replayJournal(text), { name: "SyntaxError", message: message });
    });
  }
});

Deno.test("applyJournalRecord() updates a live state as replay would", () => {
  const records: JournalRecord[] = [
    { kind: "B", agency: 7, first: 0, count: 5, betsFileBytes: 50, digest: 9 },
    { kind: "B", agency: 7, first: 5, count: 4, betsFileBytes: 90, digest: 0xffff_fff8 },
    { kind: "F", agency: 7, total: 9 },
  ];
  const live = replayJournal("");
  for (const record of records) applyJournalRecord(live, record);
  const replayed = replayJournal(records.map(formatJournalRecord).join(""));
  assert.deepEqual(stored(live), stored(replayed));
  assert.deepEqual(stored(live), [[7, 9, 1]], "digests add mod 2^32");
  assert.deepEqual(live.finished, replayed.finished);
  assert.equal(live.betsFileBytes, replayed.betsFileBytes);
  assert.equal(live.journalBytes, 0, "journal bytes are the writer's to count");
});
