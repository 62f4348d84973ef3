import assert from "node:assert/strict";
import { formatAgencyRow } from "../lib/bet/bet_csv.ts";
import { dateNumber } from "../lib/bet/bet_bytes.ts";
import { filePrefixDigest } from "../lib/client/file_prefix_digest.ts";
import { FILE_CHUNK_BYTES } from "../lib/limits.ts";
import { EMPTY_DIGEST } from "../lib/protocol/bet_digest.ts";
import { makeBets } from "./helpers/bets.ts";
import { digestOf } from "./helpers/store_rows.ts";

Deno.test("filePrefixDigest() is the digest of the file's first valid rows, as the upload sends them", async (t) => {
  const bets = makeBets(2, 12_000, { winnersAt: [3] });
  const rows = bets.map(formatAgencyRow);
  // An invalid row and a blank line are skipped, as the upload skips them.
  rows.splice(5, 0, "Ana,Gómez,not-a-document,1990-01-01,12\n", "\n");
  const text = rows.join("");
  assert.ok(new TextEncoder().encode(text).length > FILE_CHUNK_BYTES, "the file spans two reads");
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/agency-2.csv`;
    await Deno.writeTextFile(file, text);
    const today = dateNumber(new Date());
    for (const count of [0, 1, 5, 6, 11_999, 12_000]) {
      await t.step(`${count} rows`, async () => {
        assert.equal(await filePrefixDigest(file, count, today), digestOf(bets.slice(0, count)));
      });
    }
    await t.step("more rows than the file has: every row's", async () => {
      assert.equal(await filePrefixDigest(file, 12_001, today), digestOf(bets));
    });
    await t.step("0 rows reads no file", async () => {
      assert.equal(await filePrefixDigest(`${dir}/missing.csv`, 0, today), EMPTY_DIGEST);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
