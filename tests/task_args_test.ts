import assert from "node:assert/strict";
import { wholeNumberFlag, withoutTaskSeparator } from "../lib/runtime/task_args.ts";
import { parseDataArgs } from "../tools/gen_data.ts";
import { parseDemoArgs, statusPageUrl } from "../tools/demo.ts";

Deno.test("withoutTaskSeparator() drops only a leading --", () => {
  assert.deepEqual(withoutTaskSeparator(["--", "--quick"]), ["--quick"]);
  assert.deepEqual(withoutTaskSeparator(["--quick", "--"]), ["--quick", "--"]);
  assert.deepEqual(withoutTaskSeparator([]), []);
});

Deno.test("wholeNumberFlag() accepts min and max and refuses max + 1, negatives and text", async (t) => {
  assert.equal(wholeNumberFlag(undefined, "--n", 7, 1, 10), 7);
  assert.equal(wholeNumberFlag("1", "--n", 7, 1, 10), 1);
  assert.equal(wholeNumberFlag("10", "--n", 7, 1, 10), 10);
  for (const text of ["0", "11", "-1", "1.5", "x", ""]) {
    await t.step(`"${text}"`, () => {
      assert.throws(() => wholeNumberFlag(text, "--n", 7, 1, 10), {
        name: "RangeError",
        message: `--n "${text}" is not a whole number in 1..10`,
      });
    });
  }
});

Deno.test("parseDataArgs() reads the task's flags after --, with defaults", () => {
  assert.deepEqual(parseDataArgs(["--", "--agencies", "3", "--bets", "10", "--winners", "2"]), {
    agencies: 3,
    bets: 10,
    seed: 1,
    winners: 2,
    out: "data",
  });
  const defaults = parseDataArgs([]);
  assert.ok(defaults !== "help");
  assert.equal(defaults.winners, 4, "2000 bets / 500, rounded up");
  assert.throws(() => parseDataArgs(["--bets", "5", "--winners", "6"]), RangeError);
  assert.throws(() => parseDataArgs(["--nope"]), TypeError);
});

Deno.test("parseDemoArgs() allows up to 5 agencies on the committed data, more with --bets", () => {
  const defaults = { agencies: 5, bets: undefined, seed: 1, serve: false, uploadRate: undefined };
  assert.deepEqual(parseDemoArgs([]), defaults);
  assert.throws(() => parseDemoArgs(["--agencies", "6"]), RangeError);
  assert.deepEqual(parseDemoArgs(["--", "--agencies", "6", "--bets", "10"]), {
    ...defaults,
    agencies: 6,
    bets: 10,
  });
  assert.equal(parseDemoArgs(["--help"]), "help");
});

Deno.test("parseDemoArgs() reads --serve and an --upload-rate of at least 1 byte/s", () => {
  assert.deepEqual(parseDemoArgs(["--", "--serve", "--upload-rate", "20000"]), {
    agencies: 5,
    bets: undefined,
    seed: 1,
    serve: true,
    uploadRate: 20_000,
  });
  assert.throws(() => parseDemoArgs(["--upload-rate", "0"]), RangeError);
  assert.throws(() => parseDemoArgs(["--upload-rate", "fast"]), RangeError);
});

Deno.test("statusPageUrl() is the loopback page, with the token as a query parameter when set", () => {
  assert.equal(statusPageUrl(9180, ""), "http://127.0.0.1:9180/");
  assert.equal(statusPageUrl(1, "a b&c"), "http://127.0.0.1:1/?token=a%20b%26c");
});
