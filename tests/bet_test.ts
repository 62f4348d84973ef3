import assert from "node:assert/strict";
import {
  type Bet,
  BET_NUMBER_MAX,
  type BetViolation,
  hasWon,
  todayIsoDate,
  validateBet,
  WINNER_NUMBER,
} from "../lib/bet/bet.ts";
import { nameBytesViolation, parseDateBytes } from "../lib/bet/bet_bytes.ts";
import { makeBet } from "./helpers/bets.ts";

const _TODAY = "2024-06-15";
const _AGENCIES_MAX = 5;

/** The field validateBet reports for `overrides`, or undefined when valid. */
function violatedField(overrides: Partial<Bet>, today = _TODAY): BetViolation["field"] | undefined {
  return validateBet(makeBet(overrides), today, _AGENCIES_MAX)?.field;
}

Deno.test("hasWon() is true exactly for the number 7574", async (t) => {
  const cases: [number, boolean][] = [
    [WINNER_NUMBER, true],
    [7573, false],
    [7575, false],
    [0, false],
    [BET_NUMBER_MAX, false],
  ];
  for (const [number, won] of cases) {
    await t.step(`${number}`, () => {
      assert.equal(hasWon(makeBet({ number })), won);
    });
  }
});

/** Whether parseDateBytes() reads `text` whole as a date. */
function isCalendarDate(text: string): boolean {
  const bytes = new TextEncoder().encode(text);
  return parseDateBytes(bytes, 0, bytes.length) !== -1;
}

Deno.test("parseDateBytes() accepts only real dates written YYYY-MM-DD", async (t) => {
  const cases: [string, boolean][] = [
    ["2024-02-29", true],
    ["2023-02-29", false],
    ["2000-02-29", true],
    ["1900-02-29", false],
    ["2023-02-28", true],
    ["2023-01-31", true],
    ["2023-04-31", false],
    ["2023-12-31", true],
    ["2023-13-01", false],
    ["2023-00-10", false],
    ["2023-01-00", false],
    ["0000-01-01", false],
    ["0001-01-01", true],
    ["2023-1-01", false],
    ["23-01-01", false],
    ["2023/01/01", false],
    ["2023-01-01 ", false],
    ["", false],
  ];
  for (const [text, valid] of cases) {
    await t.step(`"${text}" is ${valid ? "valid" : "invalid"}`, () => {
      assert.equal(isCalendarDate(text), valid);
    });
  }
});

Deno.test("todayIsoDate() writes the local date zero-padded", async (t) => {
  const cases: [Date, string][] = [
    [new Date(2024, 1, 29, 23, 59), "2024-02-29"],
    [new Date(2024, 0, 1, 0, 0), "2024-01-01"],
    [new Date(999, 11, 9), "0999-12-09"],
  ];
  for (const [date, text] of cases) {
    await t.step(text, () => {
      assert.equal(todayIsoDate(date), text);
    });
  }
});

Deno.test("validateBet() accepts a valid bet and values at every bound", async (t) => {
  const cases: [string, Partial<Bet>][] = [
    ["the sample bet", {}],
    ["agency 1", { agency: 1 }],
    ["agency at the maximum", { agency: _AGENCIES_MAX }],
    ["first name of 255 ASCII bytes", { firstName: "a".repeat(255) }],
    ["first name of 255 UTF-8 bytes", { firstName: "é".repeat(127) + "a" }],
    ["last name of 255 UTF-8 bytes with emoji", { lastName: "😀".repeat(63) + "abc" }],
    ["names with commas, quotes and accents", {
      firstName: 'Ñandú "Tito"',
      lastName: "Pérez, Núñez",
    }],
    ["names with inner and outer spaces", { firstName: " Ana  María ", lastName: "de la Fuente" }],
    ["document of 1 digit", { document: "0" }],
    ["document of 12 digits", { document: "123456789012" }],
    ["birthdate 2024-02-29", { birthdate: "2024-02-29" }],
    ["birthdate today", { birthdate: _TODAY }],
    ["number 0", { number: 0 }],
    ["number 9999", { number: BET_NUMBER_MAX }],
    ["number 7574", { number: WINNER_NUMBER }],
  ];
  for (const [name, overrides] of cases) {
    await t.step(name, () => {
      assert.equal(validateBet(makeBet(overrides), _TODAY, _AGENCIES_MAX), undefined);
    });
  }
});

Deno.test("validateBet() reports each broken rule with its field", async (t) => {
  const cases: [string, Partial<Bet>, BetViolation["field"]][] = [
    ["agency 0", { agency: 0 }, "agency"],
    ["agency above the maximum", { agency: _AGENCIES_MAX + 1 }, "agency"],
    ["agency -1", { agency: -1 }, "agency"],
    ["agency 1.5", { agency: 1.5 }, "agency"],
    ["empty first name", { firstName: "" }, "first_name"],
    ["space-only first name", { firstName: "   " }, "first_name"],
    ["first name of one tab", { firstName: "\t" }, "first_name"],
    ["first name with \\n", { firstName: "Ana\nMaría" }, "first_name"],
    ["first name with \\r", { firstName: "Ana\r" }, "first_name"],
    ["first name of 256 ASCII bytes", { firstName: "a".repeat(256) }, "first_name"],
    ["first name of 256 UTF-8 bytes", { firstName: "é".repeat(128) }, "first_name"],
    ["empty last name", { lastName: "" }, "last_name"],
    ["whitespace-only last name", { lastName: "   " }, "last_name"],
    ["last name with \\n", { lastName: "Pérez\n" }, "last_name"],
    ["last name of 256 UTF-8 bytes", { lastName: "😀".repeat(64) }, "last_name"],
    ["empty document", { document: "" }, "document"],
    ["document with a letter", { document: "30123456a" }, "document"],
    ["document with dots", { document: "30.123.456" }, "document"],
    ["document with a space", { document: " 30123456" }, "document"],
    ["document with a sign", { document: "-30123456" }, "document"],
    ["document with full-width digits", { document: "３０１" }, "document"],
    ["document of 13 digits", { document: "1234567890123" }, "document"],
    ["birthdate 2023-02-29", { birthdate: "2023-02-29" }, "birthdate"],
    ["birthdate 2023-13-01", { birthdate: "2023-13-01" }, "birthdate"],
    ["birthdate in another format", { birthdate: "17/05/1990" }, "birthdate"],
    ["empty birthdate", { birthdate: "" }, "birthdate"],
    ["birthdate tomorrow", { birthdate: "2024-06-16" }, "birthdate"],
    ["birthdate next year", { birthdate: "2025-01-01" }, "birthdate"],
    ["number -1", { number: -1 }, "number"],
    ["number 10000", { number: BET_NUMBER_MAX + 1 }, "number"],
    ["number 1.5", { number: 1.5 }, "number"],
    ["number NaN", { number: Number.NaN }, "number"],
  ];
  for (const [name, overrides, field] of cases) {
    await t.step(name, () => {
      assert.equal(violatedField(overrides), field);
    });
  }
});

Deno.test("validateBet() explains the violation and quotes the value", async (t) => {
  const cases: [Partial<Bet>, RegExp][] = [
    [{ agency: 6 }, /6 is not in 1\.\.5/],
    [{ firstName: " " }, /is empty or only spaces/],
    [{ firstName: "\t" }, /contains the control character U\+0009/],
    [{ lastName: "a\nb" }, /line break/],
    [{ firstName: "a".repeat(256) }, /longer than 255 bytes/],
    [{ document: "12a" }, /"12a" is not 1 to 12 digits/],
    [{ birthdate: "2023-02-29" }, /"2023-02-29" is not a YYYY-MM-DD date/],
    [{ birthdate: "2024-06-16" }, /2024-06-16 is in the future/],
    [{ number: 10000 }, /10000 is not an integer in 0\.\.9999/],
  ];
  for (const [overrides, reason] of cases) {
    await t.step(String(reason), () => {
      const violation = validateBet(makeBet(overrides), _TODAY, _AGENCIES_MAX);
      assert.ok(violation !== undefined);
      assert.match(violation.reason, reason);
    });
  }
});

/** Control characters a name may not hold, one of each kind and the bounds. */
const _CONTROL_CODE_POINTS = [0x00, 0x01, 0x09, 0x0b, 0x1b, 0x1f, 0x7f, 0x80, 0x85, 0x9b, 0x9f];

Deno.test("validateBet() refuses a name holding a control character (C0, DEL, C1)", async (t) => {
  for (const codePoint of _CONTROL_CODE_POINTS) {
    const hex = codePoint.toString(16).toUpperCase().padStart(4, "0");
    const control = String.fromCodePoint(codePoint);
    await t.step(`U+${hex}`, () => {
      const first = validateBet(makeBet({ firstName: `Ana${control}` }), _TODAY, _AGENCIES_MAX);
      assert.equal(first?.field, "first_name");
      assert.match(first.reason, new RegExp(`control character U\\+${hex}`));
      const last = validateBet(makeBet({ lastName: `${control}Paz` }), _TODAY, _AGENCIES_MAX);
      assert.equal(last?.field, "last_name");
    });
  }
});

Deno.test("validateBet() accepts the characters beside the control ranges in a name", async (t) => {
  for (const codePoint of [0x20, 0x21, 0x7e, 0xa0, 0xa1, 0xff, 0x100]) {
    await t.step(`U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}`, () => {
      const name = `Ana${String.fromCodePoint(codePoint)}Paz`;
      assert.equal(violatedField({ firstName: name, lastName: name }), undefined);
    });
  }
});

Deno.test("validateBet() reports the first broken rule in field order", () => {
  const bet = makeBet({ agency: 0, firstName: "", document: "x", number: -1 });
  assert.equal(validateBet(bet, _TODAY, _AGENCIES_MAX)?.field, "agency");
  assert.equal(validateBet({ ...bet, agency: 1 }, _TODAY, _AGENCIES_MAX)?.field, "first_name");
});

Deno.test("validateBet() accepts today's real date and rejects tomorrow's", () => {
  const now = new Date();
  const today = todayIsoDate(now);
  const tomorrow = todayIsoDate(new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1));
  assert.equal(violatedField({ birthdate: today }, today), undefined);
  assert.equal(violatedField({ birthdate: tomorrow }, today), "birthdate");
});

Deno.test("parseDateBytes() agrees with the calendar on days 28 to 32 of every month of 1896 to 2104", () => {
  const encoder = new TextEncoder();
  for (let year = 1896; year <= 2104; year += 1) {
    for (let month = 1; month <= 12; month += 1) {
      for (let day = 28; day <= 32; day += 1) {
        const text = `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
        const date = new Date(Date.UTC(year, month - 1, day));
        const real = date.getUTCMonth() === month - 1;
        const bytes = encoder.encode(text);
        const expected = real ? year * 10_000 + month * 100 + day : -1;
        assert.equal(parseDateBytes(bytes, 0, bytes.length), expected, text);
      }
    }
  }
});

/** The name rule told another way: UTF-8 that decodes, no C0, DEL or C1, not only spaces. */
function isValidNameOracle(bytes: Uint8Array): boolean {
  if (bytes.length > 255) return false;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return false;
  }
  const control = [...text].some((char) => {
    const code = char.codePointAt(0)!;
    return code < 0x20 || (code >= 0x7f && code < 0xa0);
  });
  return !control && text.replaceAll(" ", "") !== "";
}

Deno.test("nameBytesViolation() accepts exactly the valid names among every pair of bytes, alone and inside a name", () => {
  for (let first = 0; first < 256; first += 1) {
    for (let second = 0; second < 256; second += 1) {
      for (const bytes of [[first, second], [0x41, first, second], [first, second, 0x20, 0x41]]) {
        const name = new Uint8Array(bytes);
        const valid = nameBytesViolation(name, 0, name.length) === undefined;
        assert.equal(valid, isValidNameOracle(name), `bytes ${bytes.join(" ")}`);
      }
    }
  }
});
