import assert from "node:assert/strict";
import { SSE_RETRY_MS, sseEvent, StatusStream } from "../lib/admin/status_stream.ts";

const _VIEW = { order: "number", offset: 0, limit: 50 } as const;
const _decoder = new TextDecoder();

async function readChunk(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const { value, done } = await reader.read();
  assert.equal(done, false);
  return _decoder.decode(value);
}

Deno.test("sseEvent() formats one event and refuses data with a line break", () => {
  assert.equal(sseEvent("status", '{"a":1}'), 'event: status\ndata: {"a":1}\n\n');
  assert.throws(() => sseEvent("status", "a\nb"), { name: "TypeError" });
});

Deno.test("StatusStream.open() starts with the retry delay and the first status", async () => {
  const stream = new StatusStream(1);
  const body = stream.open(_VIEW, "{}")!;
  const reader = body.getReader();
  assert.equal(await readChunk(reader), `retry: ${SSE_RETRY_MS}\n\nevent: status\ndata: {}\n\n`);
  stream.close();
  assert.equal((await reader.read()).done, true);
});

Deno.test("StatusStream refuses the viewer after viewersMax and counts it", async (t) => {
  for (const viewersMax of [0, 1, 3]) {
    await t.step(`viewersMax ${viewersMax}`, () => {
      const stream = new StatusStream(viewersMax);
      const opened = Array.from({ length: viewersMax }, () => stream.open(_VIEW, "{}"));
      assert.ok(opened.every((body) => body !== undefined));
      assert.equal(stream.viewers, viewersMax);
      assert.equal(stream.open(_VIEW, "{}"), undefined);
      assert.equal(stream.refused, 1);
      stream.close();
      assert.equal(stream.viewers, 0);
      assert.equal(stream.open(_VIEW, "{}"), undefined, "closed: refuses too");
    });
  }
});

Deno.test("StatusStream.push() renders a view once for all its viewers and skips one that reads nothing", async () => {
  const stream = new StatusStream(4);
  const reading = stream.open(_VIEW, "{}")!.getReader();
  const alsoReading = stream.open(_VIEW, "{}")!.getReader();
  stream.open({ order: "slowest", offset: 0, limit: 50 }, "{}"); // never read
  await readChunk(reading);
  await readChunk(alsoReading);
  const rendered: string[] = [];
  for (let push = 1; push <= 5; push += 1) {
    stream.push((view) => {
      rendered.push(view.order);
      return `{"push":${push}}`;
    });
    assert.equal(await readChunk(reading), `event: status\ndata: {"push":${push}}\n\n`);
    assert.equal(await readChunk(alsoReading), `event: status\ndata: {"push":${push}}\n\n`);
  }
  const slowest = rendered.filter((order) => order === "slowest").length;
  assert.equal(rendered.filter((order) => order === "number").length, 5, "once per push");
  assert.ok(slowest < 5, `the stalled viewer was skipped (${slowest} of 5 pushes queued)`);
  stream.close();
});

Deno.test("StatusStream forgets a viewer that cancelled its stream", async () => {
  const stream = new StatusStream(1);
  await stream.open(_VIEW, "{}")!.cancel();
  assert.equal(stream.viewers, 0);
  assert.notEqual(stream.open(_VIEW, "{}"), undefined);
  stream.close();
});
