import assert from "node:assert/strict";
import { betsOf, readDataFolder } from "../bench/bench_data.ts";
import { writeAgencyFile } from "../lib/dev/agency_file.ts";
import { writeAgencies } from "./helpers/agency_files.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

Deno.test("readDataFolder() counts CRLF agency files of different sizes as the client reads them", async () => {
  await withTempDir(async (dir) => {
    await writeAgencies(dir, [{ bets: 30, winners: 3 }, { bets: 7, winners: 0 }], true);
    // Not taken: agency-3.csv is missing, so the set ends at agency 2.
    await writeAgencyFile({ agencies: 4, bets: 5, winners: 1, seed: 4, out: dir }, 4);
    const text = await Deno.readTextFile(`${dir}/agency-1.csv`);
    assert.equal(text.split("\r\n").length, 31, "every line ends in CRLF");
    const data = await readDataFolder(dir);
    assert.deepEqual(data.counts, [{ bets: 30, winners: 3 }, { bets: 7, winners: 0 }]);
    assert.equal(betsOf(data), 37);
    assert.equal(betsOf(data, 2, 2), 7);
    assert.deepEqual(data.files, [`${dir}/agency-1.csv`, `${dir}/agency-2.csv`]);
  });
});

Deno.test("readDataFolder() refuses a folder with a row the client would skip, naming file and line", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/agency-1.csv`,
      "Ana,Paz,30111222,1990-01-02,17\r\nLuis,Gómez,not-a-document,1990-01-02,4\r\n",
    );
    await assert.rejects(
      () => readDataFolder(dir),
      /agency-1\.csv line 2 is not a valid bet: document/,
    );
  });
});

Deno.test("readDataFolder() refuses a folder without agency-1.csv", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(() => readDataFolder(dir), /has no .*agency-1\.csv/);
  });
});
