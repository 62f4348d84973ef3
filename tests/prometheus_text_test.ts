import assert from "node:assert/strict";
import { escapeLabelValue, ExpositionWriter, formatValue } from "../lib/admin/prometheus_text.ts";
import { Histogram } from "../lib/runtime/histogram.ts";

Deno.test("formatValue() writes integers, fractions, infinities and NaN as the text format wants", () => {
  assert.equal(formatValue(0), "0");
  assert.equal(formatValue(1234567), "1234567");
  assert.equal(formatValue(0.25), "0.25");
  assert.equal(formatValue(Infinity), "+Inf");
  assert.equal(formatValue(-Infinity), "-Inf");
  assert.equal(formatValue(Number.NaN), "NaN");
});

Deno.test("escapeLabelValue() escapes backslash, double quote and line feed only", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd é'), 'a\\\\b\\"c\\nd é');
});

Deno.test("ExpositionWriter writes HELP and TYPE once per family, then its samples", () => {
  const text = new ExpositionWriter()
    .counter("tp0_things_total", "Things\nseen", [
      { value: 3 },
      { labels: { code: 'x"y', agency: 7 }, value: 1 },
    ])
    .gauge("tp0_empty", "No sample yet", [])
    .text();
  assert.equal(
    text,
    [
      "# HELP tp0_things_total Things\\nseen",
      "# TYPE tp0_things_total counter",
      "tp0_things_total 3",
      'tp0_things_total{code="x\\"y",agency="7"} 1',
      "# HELP tp0_empty No sample yet",
      "# TYPE tp0_empty gauge",
      "",
    ].join("\n"),
  );
});

Deno.test("ExpositionWriter.histogram() writes cumulative buckets, +Inf, _sum and _count per series", () => {
  const histogram = new Histogram([0.5, 1]);
  histogram.observe(0.25);
  histogram.observe(2);
  const text = new ExpositionWriter()
    .histogram("tp0_wait_seconds", "Wait", [{
      labels: { file: "bets" },
      snapshot: histogram.snapshot(),
    }])
    .text();
  assert.equal(
    text,
    [
      "# HELP tp0_wait_seconds Wait",
      "# TYPE tp0_wait_seconds histogram",
      'tp0_wait_seconds_bucket{file="bets",le="0.5"} 1',
      'tp0_wait_seconds_bucket{file="bets",le="1"} 1',
      'tp0_wait_seconds_bucket{file="bets",le="+Inf"} 2',
      'tp0_wait_seconds_sum{file="bets"} 2.25',
      'tp0_wait_seconds_count{file="bets"} 2',
      "",
    ].join("\n"),
  );
});

Deno.test("ExpositionWriter rejects a counter without _total, a repeated family and bad names", async (t) => {
  await t.step("counter without _total", () => {
    assert.throws(() => new ExpositionWriter().counter("tp0_things", "", []), {
      name: "TypeError",
      message: /must end in _total/,
    });
  });
  await t.step("repeated family", () => {
    const writer = new ExpositionWriter().gauge("tp0_a", "", []);
    assert.throws(() => writer.gauge("tp0_a", "", []), { name: "TypeError", message: /twice/ });
  });
  await t.step("metric name with a dash", () => {
    assert.throws(() => new ExpositionWriter().gauge("tp0-a", "", []), { name: "TypeError" });
  });
  await t.step("reserved label name", () => {
    assert.throws(
      () => new ExpositionWriter().gauge("tp0_a", "", [{ labels: { __x: 1 }, value: 1 }]),
      { name: "TypeError", message: /label "__x"/ },
    );
  });
});
