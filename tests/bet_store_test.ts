import assert from "node:assert/strict";
import type { Bet } from "../lib/bet/bet.ts";
import { formatStoreRow } from "../lib/bet/bet_csv.ts";
import { BetStore } from "../lib/store/bet_store.ts";
import { loadBets } from "../lib/store/bets_file_reader.ts";
import {
  journalPathFor,
  openAppendFile,
  type StoreFile,
  type StoreFileOpener,
} from "../lib/store/store_file.ts";
import type { RestoreReport } from "../lib/store/store_restore.ts";
import { digestOf, storeRowsOf } from "./helpers/store_rows.ts";
import { makeBet, makeBets } from "./helpers/bets.ts";
import { isPending } from "./helpers/promise_state.ts";
import { countingOpener } from "./helpers/storage.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { documentsOf } from "./helpers/winners.ts";

const _encoder = new TextEncoder();

/** Every bet a bets file holds, read back through loadBets. */
async function readBets(path: string): Promise<Bet[]> {
  const bets: Bet[] = [];
  for await (const bet of loadBets(path)) bets.push(bet);
  return bets;
}

/** Appends `bets` as the batch of `agency` at position `first`. */
function append(store: BetStore, agency: number, first: number, bets: readonly Bet[]) {
  return store.append(agency, first, storeRowsOf(bets, first));
}

/** Opens a store, runs `body` with it and closes it whatever happens. */
async function withStore<T>(
  path: string,
  body: (store: BetStore) => Promise<T>,
  openFile: StoreFileOpener = openAppendFile,
): Promise<T> {
  const { store } = await BetStore.open(path, openFile);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

/** A restore report: nothing found unless `found` says otherwise. */
function report(found: Partial<RestoreReport> = {}): RestoreReport {
  return {
    bets: 0,
    batches: 0,
    agenciesFinished: 0,
    discardedBetsBytes: 0,
    discardedJournalBytes: 0,
    ...found,
  };
}

/** Appends raw bytes to a file, as a crash would leave them. */
async function appendRaw(path: string, bytes: Uint8Array | string): Promise<number> {
  const data = typeof bytes === "string" ? _encoder.encode(bytes) : bytes;
  await Deno.writeFile(path, data, { append: true });
  return data.length;
}

/** Which store call a {@link FaultyOpener} breaks. */
type _Fault = "write" | "partial write" | "syncData";

/**
 * Opens real store files, and makes one call of one of them fail once when
 * armed: a write that writes nothing, a write that writes a few bytes first,
 * or a sync.
 */
class FaultyOpener {
  readonly #target: string;
  readonly #fault: _Fault;
  #armed = false;
  failures = 0;

  constructor(target: "bets" | "journal", fault: _Fault) {
    this.#target = target;
    this.#fault = fault;
  }

  arm(): void {
    this.#armed = true;
  }

  open: StoreFileOpener = async (path) => {
    const file = await openAppendFile(path);
    const isTarget = path.endsWith(".journal") === (this.#target === "journal");
    const fire = (call: "write" | "syncData"): boolean => {
      const matches = this.#fault === "syncData" ? call === "syncData" : call === "write";
      if (!isTarget || !this.#armed || !matches) return false;
      this.#armed = false;
      this.failures += 1;
      return true;
    };
    const faulty: StoreFile = {
      write: async (bytes) => {
        if (!fire("write")) return await file.write(bytes);
        if (this.#fault === "partial write") await file.write(bytes.subarray(0, 3));
        throw new Error(`injected ${this.#fault} failure on ${path}`);
      },
      syncData: async () => {
        if (fire("syncData")) throw new Error(`injected syncData failure on ${path}`);
        await file.syncData();
      },
      truncate: (length) => file.truncate(length),
      close: () => file.close(),
    };
    return faulty;
  };
}

Deno.test("journalPathFor() puts the journal beside the bets file", () => {
  assert.equal(journalPathFor("storage/bets.csv"), "storage/bets.csv.journal");
});

Deno.test("BetStore.open() creates an empty store, its folder and both files with mode 0600", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/nested/storage/bets.csv`;
    const opened = await BetStore.open(path);
    const store = opened.store;
    try {
      assert.deepEqual(opened.report, report());
      assert.equal(store.storedBets(1), 0);
      assert.equal(store.storedDigest(1), 0);
      assert.deepEqual(store.checkpoints(1, 10), []);
      assert.equal(store.finishedAgencies().size, 0);
      assert.deepEqual(documentsOf(store.winners(1)), []);
      for (const file of [path, journalPathFor(path)]) {
        const stat = await Deno.stat(file);
        assert.equal(stat.size, 0);
        assert.equal((stat.mode ?? 0) & 0o777, 0o600, `${file} mode`);
      }
    } finally {
      await store.close();
    }
  });
});

Deno.test("BetStore.append() then loadBets() round-trips every field in order", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    const first = makeBets(1, 3);
    const second = [
      makeBet({ agency: 2, firstName: 'Zoé "Z" 😀', lastName: "Núñez, de la Fuente", number: 0 }),
      makeBet({ agency: 2, firstName: " spaced ", lastName: "O'Connor", number: 9999 }),
    ];
    await withStore(path, async (store) => {
      assert.deepEqual(await append(store, 1, 0, first), { duplicate: false });
      assert.deepEqual(await append(store, 2, 0, second), { duplicate: false });
      assert.equal(store.storedBets(1), 3);
      assert.equal(store.storedBets(2), 2);
      assert.equal(store.storedDigest(2), digestOf(second));
    });
    assert.deepEqual(await readBets(path), [...first, ...second]);
    assert.equal(
      await Deno.readTextFile(path),
      [...first, ...second].map(formatStoreRow).join(""),
    );
  });
});

Deno.test("BetStore.append() stores a batch only where the agency's bets end, and acks only the same batch as a duplicate", async (t) => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    const bets = makeBets(1, 5);
    await withStore(path, async (store) => {
      await append(store, 1, 0, bets.slice(0, 2));
      await append(store, 1, 2, bets.slice(2, 3));
      await t.step("the same batch again is a duplicate", async () => {
        assert.deepEqual(await append(store, 1, 0, bets.slice(0, 2)), { duplicate: true });
        assert.deepEqual(await append(store, 1, 2, bets.slice(2, 3)), { duplicate: true });
      });
      const misplaced: [string, number, Bet[]][] = [
        ["other bets at a stored position", 0, makeBets(1, 2, { firstDocument: 9 })],
        ["a stored range cut differently", 1, bets.slice(1, 3)],
        ["an overlap past the end", 2, bets.slice(2, 5)],
        ["a gap", 4, bets.slice(4, 5)],
      ];
      for (const [name, first, batch] of misplaced) {
        await t.step(`${name} is misplaced, 3 expected`, async () => {
          assert.deepEqual(store.place(1, first, storeRowsOf(batch, first)), {
            kind: "misplaced",
            expected: 3,
          });
          await assert.rejects(append(store, 1, first, batch), /misplaced: 3 expected/);
        });
      }
      assert.equal(store.storedBets(1), 3);
      await t.step("position 0 of another agency is new", async () => {
        assert.deepEqual(await append(store, 2, 0, makeBets(2, 1)), { duplicate: false });
      });
    });
    assert.deepEqual((await readBets(path)).filter((bet) => bet.agency === 1), bets.slice(0, 3));
  });
});

Deno.test("BetStore.append() places queued batches on top of each other, and a batch sent twice in one group is refused once queued", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    const kept = makeBets(1, 2);
    await withStore(path, async (store) => {
      // The first append occupies the writer, so the next ones queue up and
      // are committed together.
      const busy = append(store, 9, 0, makeBets(9, 1));
      const first = append(store, 1, 0, kept);
      const again = append(store, 1, 0, kept);
      const next = append(store, 1, 2, makeBets(1, 1, { firstDocument: 7 }));
      assert.equal(store.acceptedBets(1), 3);
      assert.equal(store.storedBets(1), 0);
      await assert.rejects(again, /misplaced: 2 expected/);
      assert.deepEqual(await Promise.all([busy, first, next]), [
        { duplicate: false },
        { duplicate: false },
        { duplicate: false },
      ]);
      assert.deepEqual(store.syncStats(), { syncs: 2, batches: 3 });
      assert.equal(store.storedBets(1), 3);
    });
  });
});

Deno.test("BetStore.append() shares one sync among many concurrent batches (group commit)", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    const batches = 60;
    await withStore(path, async (store) => {
      const appends: Promise<unknown>[] = [];
      for (let index = 0; index < batches; index += 1) {
        const agency = 1 + (index % 5);
        const first = 3 * Math.floor(index / 5);
        appends.push(append(store, agency, first, makeBets(agency, 3, { firstDocument: index })));
      }
      const results = await Promise.all(appends);
      assert.ok(results.every((result) => !(result as { duplicate: boolean }).duplicate));
      const stats = store.syncStats();
      assert.equal(stats.batches, batches);
      assert.ok(stats.syncs < batches, `${stats.syncs} syncs for ${batches} batches`);
      for (let agency = 1; agency <= 5; agency += 1) {
        assert.equal(store.storedBets(agency), 3 * batches / 5);
      }
    });
    const { store, report: restored } = await BetStore.open(path);
    await store.close();
    assert.deepEqual(restored, report({ bets: 3 * batches, batches }));
  });
});

Deno.test("BetStore.syncStats() counts no sync for what had nothing to write", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    await withStore(path, async (store) => {
      await append(store, 1, 0, makeBets(1, 1));
      await store.markFinished(1, 1);
      const journalBytes = (await Deno.stat(journalPathFor(path))).size;
      assert.deepEqual(await append(store, 1, 0, makeBets(1, 1)), { duplicate: true });
      assert.deepEqual(await store.markFinished(1, 1), { duplicate: true });
      assert.deepEqual(store.syncStats(), { syncs: 2, batches: 1 });
      assert.equal((await Deno.stat(journalPathFor(path))).size, journalBytes);
    });
  });
});

Deno.test("BetStore.markFinished() records a finish once", async () => {
  await withTempDir(async (dir) => {
    await withStore(`${dir}/bets.csv`, async (store) => {
      await append(store, 1, 0, makeBets(1, 2));
      assert.deepEqual(await store.markFinished(1, 2), { duplicate: false });
      assert.deepEqual(await store.markFinished(1, 2), { duplicate: true });
      const [a, b] = await Promise.all([store.markFinished(2, 0), store.markFinished(2, 0)]);
      assert.deepEqual([a, b], [{ duplicate: false }, { duplicate: true }]);
      assert.deepEqual([...store.finishedAgencies()], [[1, 2], [2, 0]]);
    });
  });
});

Deno.test("BetStore.open() restores stored counts, digests, checkpoints, finished agencies and winners", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    const agency1 = makeBets(1, 6, { winnersAt: [0, 4] });
    const agency2 = makeBets(2, 3, { winnersAt: [1] });
    await withStore(path, async (store) => {
      await append(store, 1, 0, agency1.slice(0, 3));
      await append(store, 2, 0, agency2);
      await append(store, 1, 3, agency1.slice(3));
      await append(store, 3, 0, makeBets(3, 2));
      await store.markFinished(2, 3);
      assert.deepEqual(documentsOf(store.winners(1)), [agency1[0]!.document, agency1[4]!.document]);
    });
    const { store, report: restored } = await BetStore.open(path);
    try {
      assert.deepEqual(restored, report({ bets: 11, batches: 4, agenciesFinished: 1 }));
      assert.deepEqual([1, 2, 3, 4].map((agency) => store.storedBets(agency)), [6, 3, 2, 0]);
      assert.equal(store.storedDigest(1), digestOf(agency1));
      assert.deepEqual(store.checkpoints(1, 10), [
        { position: 3, digest: digestOf(agency1.slice(0, 3)) },
        { position: 6, digest: digestOf(agency1) },
      ]);
      assert.deepEqual([...store.finishedAgencies()], [[2, 3]]);
      assert.deepEqual(documentsOf(store.winners(1)), [agency1[0]!.document, agency1[4]!.document]);
      assert.deepEqual(documentsOf(store.winners(2)), [agency2[1]!.document]);
      assert.deepEqual(documentsOf(store.winners(3)), []);
      assert.deepEqual(await append(store, 1, 3, agency1.slice(3)), { duplicate: true });
      assert.deepEqual(await store.markFinished(2, 3), { duplicate: true });
      assert.deepEqual(await append(store, 1, 6, makeBets(1, 1, { winnersAt: [0] })), {
        duplicate: false,
      });
      assert.equal(store.winners(1).count, 3);
    } finally {
      await store.close();
    }
  });
});

Deno.test("BetStore.append() of a batch with no bets stores nothing and acks it inside the stored range", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    await withStore(path, async (store) => {
      assert.deepEqual(await append(store, 4, 0, []), { duplicate: true });
      await assert.rejects(append(store, 4, 1, []), /misplaced: 0 expected/);
      await store.markFinished(4, 0);
    });
    const { store, report: restored } = await BetStore.open(path);
    try {
      assert.deepEqual(restored, report({ agenciesFinished: 1 }));
      assert.equal(store.storedBets(4), 0);
    } finally {
      await store.close();
    }
  });
});

Deno.test("BetStore.open() discards a crash's partial writes and reports the bytes cut", async (t) => {
  const partialRow = '3,José,"Pérez, Nú';
  const uncommittedBatch = makeBets(1, 2, { firstDocument: 7 }).map(formatStoreRow).join("");
  const cases: [string, string, string][] = [
    ["partial row and partial journal line", partialRow, "B 1 3 2 "],
    ["journal line without its digest", "", "B 1 3 2 300"],
    ["whole batch never journaled", uncommittedBatch, ""],
    ["zero-filled tails", "\0".repeat(4096), "\0\0\0\0"],
    ["partial journal line only", "", "F 1 5"],
    ["nothing to discard", "", ""],
  ];
  for (const [name, betsTail, journalTail] of cases) {
    await t.step(name, async () => {
      await withTempDir(async (dir) => {
        const path = `${dir}/bets.csv`;
        const committed = [...makeBets(1, 3, { winnersAt: [2] }), ...makeBets(2, 2)];
        await withStore(path, async (store) => {
          await append(store, 1, 0, committed.slice(0, 3));
          await append(store, 2, 0, committed.slice(3));
        });
        const betsBytes = (await Deno.stat(path)).size;
        const journalBytes = (await Deno.stat(journalPathFor(path))).size;
        const betsCut = await appendRaw(path, betsTail);
        const journalCut = await appendRaw(journalPathFor(path), journalTail);

        const { store, report: restored } = await BetStore.open(path);
        try {
          assert.deepEqual(
            restored,
            report({
              bets: 5,
              batches: 2,
              discardedBetsBytes: betsCut,
              discardedJournalBytes: journalCut,
            }),
          );
          assert.equal((await Deno.stat(path)).size, betsBytes);
          assert.equal((await Deno.stat(journalPathFor(path))).size, journalBytes);
          assert.deepEqual(await readBets(path), committed);
          assert.equal(store.storedBets(1), 3);
          assert.equal(store.winners(1).count, 1);
          assert.deepEqual(await append(store, 1, 3, makeBets(1, 1, { firstDocument: 5 })), {
            duplicate: false,
          });
        } finally {
          await store.close();
        }
        const reopened = await BetStore.open(path);
        await reopened.store.close();
        assert.deepEqual(reopened.report, report({ bets: 6, batches: 3 }));
      });
    });
  }
});

Deno.test("BetStore.open() refuses files that a crash cannot explain", async (t) => {
  const row = formatStoreRow(makeBet());
  const rowBytes = _encoder.encode(row).length;
  const digest = "0000abcd";
  const cases: [string, string, string, RegExp][] = [
    [
      "bets file shorter than the journal commits",
      row,
      `B 1 0 1 ${rowBytes + 1} ${digest}\n`,
      /has \d+ bytes but its journal commits \d+/,
    ],
    [
      "bets file missing",
      "",
      `B 1 0 1 ${rowBytes} ${digest}\n`,
      /has 0 bytes but its journal commits/,
    ],
    [
      "journal commits more bets than the file holds",
      row,
      `B 1 0 2 ${rowBytes} ${digest}\n`,
      /holds 1 bets of agency 1 but its journal commits 2/,
    ],
    [
      "committed row that is not a valid bet",
      row.replace(",1234\n", ",10000\n"),
      `B 1 0 1 ${rowBytes + 1} ${digest}\n`,
      /line 1: number/,
    ],
    ["committed row that is not CSV", 'a"b\n', `B 1 0 1 4 ${digest}\n`, /line 1: .*stray quote/],
    ["journal line that is not a record", row, "B 1 0 1\n", /journal line 1/],
    [
      "journal batch that does not start where its agency's bets end",
      row,
      `B 1 5 1 ${rowBytes} ${digest}\n`,
      /journal line 1: batch at 5 follows 0 stored bets/,
    ],
  ];
  for (const [name, bets, journal, message] of cases) {
    await t.step(name, async () => {
      await withTempDir(async (dir) => {
        const path = `${dir}/bets.csv`;
        if (bets !== "") await Deno.writeTextFile(path, bets);
        await Deno.writeTextFile(journalPathFor(path), journal);
        await assert.rejects(BetStore.open(path), message);
      });
    });
  }
});

Deno.test("BetStore.open() closes the files it opened when it refuses them", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    await Deno.writeTextFile(path, formatStoreRow(makeBet()));
    await Deno.writeTextFile(journalPathFor(path), "B 1 0 2 38 0000abcd\n");
    const { opener, openFiles } = countingOpener();
    await assert.rejects(BetStore.open(path, opener), /journal commits 2/);
    assert.equal(openFiles(), 0, "files left open");
  });
});

Deno.test("BetStore.append() rejects when a write or sync fails, stores nothing of it, and recovers", async (t) => {
  const cases: ["bets" | "journal", _Fault][] = [
    ["bets", "write"],
    ["bets", "partial write"],
    ["bets", "syncData"],
    ["journal", "write"],
    ["journal", "partial write"],
    ["journal", "syncData"],
  ];
  for (const [target, fault] of cases) {
    await t.step(`${target} file ${fault}`, async () => {
      await withTempDir(async (dir) => {
        const path = `${dir}/bets.csv`;
        const opener = new FaultyOpener(target, fault);
        const stored = makeBets(1, 2, { winnersAt: [0] });
        const failed = makeBets(1, 3, { winnersAt: [1], firstDocument: 60_000_000 });
        const retried = makeBets(1, 1, { firstDocument: 70_000_000 });
        await withStore(path, async (store) => {
          await append(store, 1, 0, stored);
          opener.arm();
          await assert.rejects(append(store, 1, 2, failed), /store write failed: injected/);
          assert.equal(opener.failures, 1);
          assert.equal(store.storedBets(1), 2);
          assert.equal(store.acceptedBets(1), 2, "the failed batch is no longer counted");
          assert.deepEqual(documentsOf(store.winners(1)), [stored[0]!.document]);
          assert.deepEqual(await append(store, 1, 2, retried), { duplicate: false });
          assert.deepEqual(store.syncStats(), { syncs: 2, batches: 2 });
        }, opener.open);
        const { store, report: restored } = await BetStore.open(path);
        try {
          assert.deepEqual(restored, report({ bets: 3, batches: 2 }));
          assert.equal(store.storedBets(1), 3);
          assert.deepEqual(documentsOf(store.winners(1)), [stored[0]!.document]);
        } finally {
          await store.close();
        }
        assert.deepEqual(await readBets(path), [...stored, ...retried]);
      });
    });
  }
});

Deno.test("BetStore.append() fails the batches queued behind a failed group, and refuses a later one behind the gap", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    const opener = new FaultyOpener("bets", "syncData");
    await withStore(path, async (store) => {
      opener.arm();
      const failing = append(store, 1, 0, makeBets(1, 1));
      const queued = append(store, 1, 1, makeBets(1, 1, { firstDocument: 3 }));
      await assert.rejects(failing, /store write failed/);
      await assert.rejects(queued, /store write failed/);
      assert.equal(store.storedBets(1), 0);
      await assert.rejects(
        append(store, 1, 2, makeBets(1, 1, { firstDocument: 4 })),
        /misplaced: 0 expected/,
      );
    }, opener.open);
    assert.deepEqual(await readBets(path), []);
  });
});

Deno.test("BetStore.close() waits for queued appends, is safe twice, and refuses later appends", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    const { store } = await BetStore.open(path);
    const pending = [append(store, 1, 0, makeBets(1, 2)), store.markFinished(1, 2)];
    await store.close();
    for (const append of pending) assert.equal(await isPending(append), false);
    assert.deepEqual(await Promise.all(pending), [{ duplicate: false }, { duplicate: false }]);
    await store.close();
    await assert.rejects(append(store, 1, 2, makeBets(1, 1)), /store is closed/);
    await assert.rejects(store.markFinished(2, 0), /store is closed/);
    assert.equal((await readBets(path)).length, 2);
  });
});

Deno.test("loadBets() streams a bets file and names the path and line of a bad row", async (t) => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    const good = makeBets(3, 2).map(formatStoreRow).join("");
    await t.step("an empty file holds no bets", async () => {
      await Deno.writeTextFile(path, "");
      assert.deepEqual(await readBets(path), []);
    });
    await t.step("rows are read in order", async () => {
      await Deno.writeTextFile(path, good);
      assert.deepEqual(await readBets(path), makeBets(3, 2));
    });
    const bad: [string, string, RegExp][] = [
      ["too few columns", "3,Ana,Pérez\n", /line 3: expected 6 columns, found 3/],
      ["stray quote", '3,A"na,Pérez,1,2000-01-01,1\n', /line 3: stray quote/],
      ["birthdate in the future", "3,Ana,Pérez,1,2999-01-01,1\n", /line 3: birthdate/],
      ["empty name", "3,,Pérez,1,2000-01-01,1\n", /line 3: first_name/],
    ];
    for (const [name, row, message] of bad) {
      await t.step(name, async () => {
        await Deno.writeTextFile(path, good + row);
        await assert.rejects(readBets(path), {
          name: "SyntaxError",
          message: new RegExp(`^${RegExp.escape(path)} ${message.source}`),
        });
      });
    }
  });
});

Deno.test("BetStore.room() holds appenders back while queued rows reach queueBytesMax, and frees them as batches are stored", async () => {
  await withTempDir(async (dir) => {
    const bets = makeBets(1, 10);
    const limit = 2 * storeRowsOf(bets).bytes.length;
    const { store } = await BetStore.open(`${dir}/bets.csv`, openAppendFile, () => {}, limit);
    try {
      assert.equal(store.room(), undefined, "an empty queue has room");
      const first = append(store, 1, 0, bets);
      assert.equal(store.room(), undefined, "one batch under the limit");
      const second = append(store, 1, 10, bets);
      const room = store.room();
      assert.ok(room !== undefined, "at the limit appenders wait");
      assert.equal(store.room(), room, "every appender waits on the same promise");
      assert.equal(await isPending(room), true);
      await Promise.all([first, second]);
      await room;
      assert.equal(store.room(), undefined, "room again once stored");
      assert.equal(store.storedBets(1), 20);
    } finally {
      await store.close();
    }
  });
});
