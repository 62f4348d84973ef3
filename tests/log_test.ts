import assert from "node:assert/strict";
import {
  formatLogLine,
  formatTimestamp,
  LOG_LEVELS,
  Logger,
  type LogLevel,
  parseLogLevel,
  sanitizeLogValue,
} from "../lib/runtime/log.ts";

const _DATE = new Date(2024, 0, 2, 3, 4, 5);

/** Column where `action:` starts: 19 for the timestamp, 1 space, 8 for the level, 1 space. */
const _PREFIX_CHARS = 29;

/** Splits a log line into its timestamp, level and `key: value` pairs. */
function parseLine(line: string): { timestamp: string; level: string; pairs: [string, string][] } {
  const pairs = line.slice(_PREFIX_CHARS).split(" | ").map((part): [string, string] => {
    const colon = part.indexOf(": ");
    assert.ok(colon > 0, `"${part}" is not a key: value pair`);
    return [part.slice(0, colon), part.slice(colon + 2)];
  });
  return { timestamp: line.slice(0, 19), level: line.slice(20, 28).trimEnd(), pairs };
}

Deno.test("parseLogLevel() accepts every level name in any case and around spaces", async (t) => {
  const cases: [string, LogLevel][] = [
    ["DEBUG", "DEBUG"],
    ["info", "INFO"],
    [" Warning ", "WARNING"],
    ["error", "ERROR"],
    ["CRITICAL", "CRITICAL"],
  ];
  for (const [text, level] of cases) {
    await t.step(`"${text}" is ${level}`, () => {
      assert.equal(parseLogLevel(text), level);
    });
  }
});

Deno.test("parseLogLevel() rejects an unknown name with RangeError quoting it", async (t) => {
  for (const text of ["", "WARN", "LOUD", "INFO!"]) {
    await t.step(`"${text}"`, () => {
      assert.throws(() => parseLogLevel(text), {
        name: "RangeError",
        message: new RegExp(`${RegExp.escape(`"${text}"`)}.*DEBUG, INFO, WARNING, ERROR, CRITICAL`),
      });
    });
  }
});

Deno.test("formatTimestamp() writes local time as YYYY-MM-DD HH:MM:SS, zero-padded", async (t) => {
  const cases: [Date, string][] = [
    [_DATE, "2024-01-02 03:04:05"],
    [new Date(1999, 11, 31, 23, 59, 59), "1999-12-31 23:59:59"],
    [new Date(2024, 1, 29, 0, 0, 0), "2024-02-29 00:00:00"],
  ];
  for (const [date, text] of cases) {
    await t.step(text, () => {
      assert.equal(formatTimestamp(date), text);
    });
  }
});

Deno.test("formatLogLine() writes the exact line format with the level padded to 8", async (t) => {
  await t.step("no fields", () => {
    assert.equal(
      formatLogLine(_DATE, "INFO", "sorteo", "success", {}),
      "2024-01-02 03:04:05 INFO     action: sorteo | result: success",
    );
  });
  await t.step("fields in insertion order", () => {
    assert.equal(
      formatLogLine(_DATE, "DEBUG", "apuesta_almacenada", "success", {
        dni: "30123456",
        numero: 7574,
      }),
      "2024-01-02 03:04:05 DEBUG    action: apuesta_almacenada | result: success | dni: 30123456 | numero: 7574",
    );
  });
  await t.step("fail and in_progress results, boolean values", () => {
    assert.equal(
      formatLogLine(_DATE, "ERROR", "apuesta_recibida", "fail", { cantidad: 0, retry: false }),
      "2024-01-02 03:04:05 ERROR    action: apuesta_recibida | result: fail | cantidad: 0 | retry: false",
    );
    assert.equal(
      formatLogLine(_DATE, "WARNING", "connect", "in_progress", {}),
      "2024-01-02 03:04:05 WARNING  action: connect | result: in_progress",
    );
  });
  for (const level of LOG_LEVELS) {
    await t.step(`${level}: action starts at column ${_PREFIX_CHARS}`, () => {
      const line = formatLogLine(_DATE, level, "x", "success", {});
      assert.equal(line.indexOf("action: "), _PREFIX_CHARS);
      assert.equal(line.slice(20, 29), level.padEnd(8) + " ");
    });
  }
});

Deno.test("sanitizeLogValue() replaces | and line breaks with spaces and escapes every other control character", async (t) => {
  const cases: [string | number | boolean, string][] = [
    ["plain", "plain"],
    ["a|b", "a b"],
    ["x | y", "x   y"],
    ["one\ntwo\r\nthree\r", "one two  three "],
    ["\u001b[31mred\u001b[0m", "\\x1b[31mred\\x1b[0m"],
    ["nul\u0000tab\tbell\u0007del\u007f", "nul\\x00tab\\x09bell\\x07del\\x7f"],
    ["c1 \u009b csi and \u0080", "c1 \\x9b csi and \\x80"],
    ["ñandú 😀 \u00a0", "ñandú 😀 \u00a0"],
    ["", ""],
    [7574, "7574"],
    [true, "true"],
  ];
  for (const [value, text] of cases) {
    await t.step(JSON.stringify(value), () => {
      assert.equal(sanitizeLogValue(value), text);
    });
  }
});

Deno.test("formatLogLine() sanitizes values so a line never splits or gains pairs", () => {
  const line = formatLogLine(_DATE, "INFO", "receive_message", "success", {
    ip: "127.0.0.1",
    msg: "hi | result: fail\nsecond line",
  });
  assert.ok(!line.includes("\n") && !line.includes("\r"));
  const { pairs } = parseLine(line);
  assert.deepEqual(pairs, [
    ["action", "receive_message"],
    ["result", "success"],
    ["ip", "127.0.0.1"],
    ["msg", "hi   result: fail second line"],
  ]);
});

Deno.test("formatLogLine() output splits on ' | ' into key: value pairs", () => {
  const line = formatLogLine(_DATE, "CRITICAL", "receive_message", "success", {
    client_id: 3,
    msg: "[CLIENT 3] Message N°2",
    note: "a: b",
  });
  const parsed = parseLine(line);
  assert.equal(parsed.timestamp, "2024-01-02 03:04:05");
  assert.equal(parsed.level, "CRITICAL");
  assert.deepEqual(Object.fromEntries(parsed.pairs), {
    action: "receive_message",
    result: "success",
    client_id: "3",
    msg: "[CLIENT 3] Message N°2",
    note: "a: b",
  });
});

Deno.test("Logger writes only lines at or above its level", async (t) => {
  for (const threshold of LOG_LEVELS) {
    await t.step(`threshold ${threshold}`, () => {
      const lines: string[] = [];
      const logger = new Logger(threshold, (line) => lines.push(line));
      for (const level of LOG_LEVELS) logger.log(level, "probe", "success", { level });
      const expected = LOG_LEVELS.slice(LOG_LEVELS.indexOf(threshold));
      assert.deepEqual(lines.map((line) => parseLine(line).level), expected);
      for (const level of LOG_LEVELS) {
        assert.equal(logger.enabled(level), expected.includes(level), level);
      }
    });
  }
});

Deno.test("Logger level methods write their level and fields through the sink", () => {
  const lines: string[] = [];
  const logger = new Logger("DEBUG", (line) => lines.push(line));
  logger.debug("a", "success");
  logger.info("b", "fail", { k: 1 });
  logger.warning("c", "in_progress");
  logger.error("d", "fail", { reason: "x|y" });
  assert.deepEqual(
    lines.map((line) => line.slice(20)),
    [
      "DEBUG    action: a | result: success",
      "INFO     action: b | result: fail | k: 1",
      "WARNING  action: c | result: in_progress",
      "ERROR    action: d | result: fail | reason: x y",
    ],
  );
  for (const line of lines) assert.match(line, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} /);
});

Deno.test("stdoutSink() and stderrSink() write each line whole, newline-terminated, without colours", async () => {
  const log = new URL("../lib/runtime/log.ts", import.meta.url).href;
  const code = `
    import { Logger, stderrSink, stdoutSink } from "${log}";
    const logger = new Logger("INFO", stdoutSink);
    for (let k = 1; k <= 3; k += 1) logger.info("receive_message", "success", { k });
    stderrSink("to stderr");
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "" },
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.ok(stdout.endsWith("\n"));
  const lines = stdout.slice(0, -1).split("\n");
  assert.deepEqual(
    lines.map((line) => line.slice(20)),
    [1, 2, 3].map((k) => `INFO     action: receive_message | result: success | k: ${k}`),
  );
  assert.ok(!stdout.includes("\x1b"), "no ANSI escapes");
  assert.equal(new TextDecoder().decode(output.stderr), "to stderr\n");
});

Deno.test("stdoutSink() writes the lines of one turn in one write, and still writes them when Deno.exit() follows", async (t) => {
  const log = new URL("../lib/runtime/log.ts", import.meta.url).href;
  const run = async (tail: string) => {
    const code = `
      import { Logger, stdoutSink } from "${log}";
      const logger = new Logger("INFO", stdoutSink);
      const writes = [];
      const write = Deno.stdout.writeSync.bind(Deno.stdout);
      Deno.stdout.writeSync = (bytes) => { writes.push(bytes.length); return write(bytes); };
      for (let k = 1; k <= 1000; k += 1) logger.info("ganadores_enviados", "success", { k });
      ${tail}
    `;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-config", code],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    return new TextDecoder().decode(output.stdout).split("\n");
  };
  await t.step("a turn of 1,000 lines is one write", async () => {
    const lines = await run(
      `await 0; Deno.stdout.writeSync = write; console.log("writes", writes.length);`,
    );
    assert.equal(lines.filter((line) => line.includes("action: ganadores_enviados")).length, 1000);
    assert.ok(lines.includes("writes 1"), lines.at(-2));
  });
  await t.step("Deno.exit() right after the lines", async () => {
    const lines = await run(`Deno.exit(0);`);
    assert.equal(lines.filter((line) => line.includes("action: ganadores_enviados")).length, 1000);
    assert.match(lines[999]!, /action: ganadores_enviados \| result: success \| k: 1000$/);
  });
});
