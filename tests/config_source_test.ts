import assert from "node:assert/strict";
import { ConfigSource, readConfigFile } from "../lib/config/config_source.ts";
import { configError } from "./helpers/config_errors.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const _FILE = "config/test.ini";

/** A source over `values` from _FILE with `env` overrides. */
function sourceOf(
  values: Record<string, unknown>,
  env: Record<string, string | undefined> = {},
): ConfigSource {
  return new ConfigSource(_FILE, new Map(Object.entries(values)), env);
}

Deno.test("ConfigSource.text() prefers a non-empty environment value, then the file, then the fallback", async (t) => {
  const cases: [string, Record<string, unknown>, Record<string, string>, string][] = [
    ["environment wins", { KEY: "file" }, { ENV_KEY: "env" }, "env"],
    ["empty environment value is ignored", { KEY: "file" }, { ENV_KEY: "" }, "file"],
    ["file value, trimmed", { KEY: "  file  " }, {}, "file"],
    ["fallback when absent", {}, {}, "fallback"],
    ["fallback when empty", { KEY: "   " }, {}, "fallback"],
    ["fallback when null", { KEY: null }, {}, "fallback"],
    ["numbers become text", { KEY: 42 }, {}, "42"],
  ];
  for (const [name, values, env, expected] of cases) {
    await t.step(name, () => {
      assert.equal(sourceOf(values, env).text("KEY", "ENV_KEY", "fallback"), expected);
    });
  }
});

Deno.test("ConfigSource.text() names the key, the file and the variable when a required value is missing", () => {
  assert.throws(
    () => sourceOf({}).text("server.address", "CLI_SERVER_ADDRESS"),
    configError(/server\.address is missing in config\/test\.ini \(or set CLI_SERVER_ADDRESS\)/),
  );
  assert.throws(() => sourceOf({}).text("KEY", undefined), configError(/^KEY is missing in/));
});

Deno.test("ConfigSource rejects a section where a single value belongs", () => {
  assert.throws(
    () => sourceOf({ KEY: { nested: 1 } }).text("KEY", undefined),
    configError(/KEY in config\/test\.ini must be a single value, not a section/),
  );
});

Deno.test("ConfigSource.integer() accepts min and max and rejects one past either", async (t) => {
  const cases: [string, boolean][] = [
    ["0", true],
    ["65535", true],
    ["-1", false],
    ["65536", false],
    [" 42 ", true],
    ["007", true],
    ["1.5", false],
    ["1e3", false],
    ["abc", false],
    ["12abc", false],
    ["99999999999999999999", false],
  ];
  for (const [text, valid] of cases) {
    await t.step(`"${text}"`, () => {
      const read = () => sourceOf({ PORT: text }).integer("PORT", "PORT_ENV", 0, 65_535);
      if (valid) assert.equal(read(), Number(text));
      else {
        assert.throws(
          read,
          configError(/^PORT ".*" in config\/test\.ini is not a whole number in 0\.\.65535$/),
        );
      }
    });
  }
});

Deno.test("ConfigSource.integer() names the environment variable when the bad value came from it", () => {
  assert.throws(
    () => sourceOf({ PORT: "80" }, { PORT_ENV: "eighty" }).integer("PORT", "PORT_ENV", 0, 65_535),
    configError(/PORT "eighty" in environment variable PORT_ENV is not a whole number/),
  );
});

Deno.test("ConfigSource.integer() falls back when absent and names key, file and variable when required", () => {
  assert.equal(sourceOf({}).integer("N", "N_ENV", 1, 10, 5), 5);
  assert.equal(sourceOf({ N: "" }).integer("N", "N_ENV", 1, 10, 5), 5);
  assert.equal(sourceOf({}, { N_ENV: "7" }).integer("N", "N_ENV", 1, 10), 7);
  assert.throws(
    () => sourceOf({}).integer("id", "CLI_ID", 1, 10),
    configError(/id/, /config\/test\.ini/, /CLI_ID/, /missing/),
  );
});

Deno.test("ConfigSource.duration() keeps the text as written and its milliseconds", async (t) => {
  const cases: [Record<string, unknown>, Record<string, string>, string, number][] = [
    [{ PERIOD: "100ms" }, {}, "100ms", 100],
    [{ PERIOD: " 5s " }, {}, "5s", 5_000],
    [{ PERIOD: "5s" }, { PERIOD_ENV: "250ms" }, "250ms", 250],
    [{}, {}, "2s", 2_000],
    [{ PERIOD: "1m" }, {}, "1m", 60_000],
  ];
  for (const [values, env, text, ms] of cases) {
    await t.step(text, () => {
      assert.deepEqual(sourceOf(values, env).duration("PERIOD", "PERIOD_ENV", 60_000, "2s"), {
        text,
        ms,
      });
    });
  }
});

Deno.test("ConfigSource.duration() rejects a bad duration or one above its maximum", async (t) => {
  const cases: [Record<string, unknown>, Record<string, string>, RegExp][] = [
    [{ PERIOD: "5" }, {}, /PERIOD "5" in config\/test\.ini is not a duration such as 5s or 100ms/],
    [{ PERIOD: "soon" }, {}, /PERIOD "soon" in config\/test\.ini/],
    [{ PERIOD: "" }, {}, /PERIOD "" in config\/test\.ini/],
    [{}, { PERIOD_ENV: "-1s" }, /PERIOD "-1s" in environment variable PERIOD_ENV/],
    [
      { PERIOD: "60001ms" },
      {},
      /PERIOD "60001ms" in config\/test\.ini exceeds the maximum of 60000 ms/,
    ],
  ];
  for (const [values, env, message] of cases) {
    await t.step(String(message), () => {
      assert.throws(
        () => sourceOf(values, env).duration("PERIOD", "PERIOD_ENV", 60_000, "2s"),
        configError(message),
      );
    });
  }
});

Deno.test("ConfigSource.level() reads a level in any case and rejects an unknown one", async (t) => {
  await t.step("file value", () => {
    assert.equal(sourceOf({ LEVEL: "debug" }).level("LEVEL", "LEVEL_ENV", "INFO"), "DEBUG");
  });
  await t.step("environment wins", () => {
    const source = sourceOf({ LEVEL: "debug" }, { LEVEL_ENV: "Error" });
    assert.equal(source.level("LEVEL", "LEVEL_ENV", "INFO"), "ERROR");
  });
  await t.step("fallback when absent", () => {
    assert.equal(sourceOf({}).level("LEVEL", "LEVEL_ENV", "WARNING"), "WARNING");
  });
  await t.step("unknown level", () => {
    assert.throws(
      () => sourceOf({ LEVEL: "LOUD" }).level("LEVEL", "LEVEL_ENV", "INFO"),
      configError(/LEVEL "LOUD" in config\/test\.ini is not a log level/),
    );
  });
});

Deno.test("ConfigSource.rejectUnknownKeys() names the first unknown key and the file", () => {
  const source = sourceOf({ A: 1, TYPO: 2 });
  source.rejectUnknownKeys(["A", "TYPO"]);
  assert.throws(
    () => source.rejectUnknownKeys(["A", "B"]),
    configError(/unknown key TYPO in config\/test\.ini \(known keys: A, B\)/),
  );
  assert.equal(source.file, _FILE);
});

Deno.test("readConfigFile() returns the text, or a ConfigError naming a missing file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.ini`, "X = 1\n");
    assert.equal(await readConfigFile(`${dir}/a.ini`), "X = 1\n");
    await assert.rejects(
      readConfigFile(`${dir}/missing.ini`),
      configError(new RegExp(`cannot read config file ${dir}/missing\\.ini: not found`)),
    );
    await assert.rejects(readConfigFile(dir), configError(/cannot read config file/));
  });
});
