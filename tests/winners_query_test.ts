import assert from "node:assert/strict";
import { answerWinnersQuery, type WinnersQuery } from "../lib/server/winners_query.ts";
import type { BufferedReader } from "../lib/protocol/buffered_reader.ts";
import { ErrorCode, ProtocolError } from "../lib/protocol/protocol.ts";
import { Logger } from "../lib/runtime/log.ts";
import type { WinnersSender } from "../lib/server/lottery.ts";
import type { WinnersAnswer } from "../lib/store/winners_index.ts";

/** A query whose peer's next byte is `peeked`, answered by `answerWinners`. */
function _query(
  peeked: Promise<number | null>,
  answerWinners: (signal: AbortSignal, send: WinnersSender) => Promise<WinnersAnswer>,
  shutdown = new AbortController().signal,
) {
  const events: string[] = [];
  const lines: string[] = [];
  const query: WinnersQuery = {
    agency: 4,
    reader: { peekByte: () => peeked } as unknown as BufferedReader,
    idle: {
      touch: () => events.push("touch"),
      pause: () => events.push("pause"),
      resume: () => events.push("resume"),
    },
    lottery: { answerWinners: (_agency, signal, send) => answerWinners(signal, send) },
    logger: new Logger("INFO", (line) => lines.push(line)),
    metrics: undefined,
    shutdown,
    send: (frame) => {
      events.push(`send ${frame.length}`);
      return Promise.resolve();
    },
  };
  return { query, events, lines };
}

Deno.test("answerWinnersQuery() logs ganadores_enviados before the frame is sent, with idle time paused until then", async () => {
  const peerEnd = Promise.withResolvers<number | null>();
  const { query, events, lines } = _query(peerEnd.promise, async (_signal, send) => {
    const answer = { count: 2, frame: new Uint8Array(9) };
    await send(answer);
    return answer;
  });
  const answering = answerWinnersQuery(query);
  peerEnd.resolve(null);
  await answering;
  assert.deepEqual(events, ["pause", "resume", "send 9", "resume"]);
  assert.equal(lines.length, 1);
  assert.match(
    lines[0]!,
    /action: ganadores_enviados \| result: success \| agency: 4 \| cant_ganadores: 2/,
  );
});

Deno.test("answerWinnersQuery() gives up without an answer when the peer leaves before the draw", async () => {
  const { query, events } = _query(
    Promise.resolve(null),
    (signal) =>
      new Promise((_resolve, reject) => {
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
  );
  await answerWinnersQuery(query);
  assert.deepEqual(events, ["pause", "resume"]);
});

Deno.test("answerWinnersQuery() returns at a requested shutdown and throws shuttingDown otherwise", async (t) => {
  const stop = () => Promise.reject(new ProtocolError(ErrorCode.shuttingDown, "stopping"));
  await t.step("during a shutdown", async () => {
    const { query } = _query(new Promise(() => {}), stop, AbortSignal.abort());
    await answerWinnersQuery(query);
  });
  await t.step("no shutdown requested", async () => {
    const { query } = _query(new Promise(() => {}), stop);
    await assert.rejects(answerWinnersQuery(query), /stopping/);
  });
});
