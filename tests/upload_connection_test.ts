/**
 * An upload's connection against a scripted server on loopback: reconnects
 * at once after a first loss and resends the window, gives up on refusals
 * past the budget, ends on a refusal for good, stops on the signal.
 */

import assert from "node:assert/strict";
import type { EncodedBatch } from "../lib/client/batch_builder.ts";
import { UploadConnection } from "../lib/client/upload_connection.ts";
import { UploadRefusal } from "../lib/client/upload_errors.ts";
import { BufferedReader } from "../lib/protocol/buffered_reader.ts";
import { decodeMessage, encodeMessage, type Message } from "../lib/protocol/message_codec.ts";
import { ErrorCode, MessageType } from "../lib/protocol/protocol.ts";
import { Logger } from "../lib/runtime/log.ts";
import { closeQuietly } from "../lib/runtime/close_quietly.ts";
import { writeAll } from "../lib/runtime/write_all.ts";
import { makeBets } from "./helpers/bets.ts";
import { countLines } from "./helpers/log_lines.ts";
import { fakeSentDigest } from "./helpers/encoded_batches.ts";

/** One accepted connection, as the scripted server sees it. */
class _ServerSide {
  readonly #conn: Deno.Conn;
  readonly #reader: BufferedReader;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#reader = new BufferedReader(conn);
  }

  /** The next message, or null at the end of stream. */
  async receive(): Promise<Message | null> {
    const frame = await this.#reader.readFrame(1 << 20).catch(() => null);
    return frame === null ? null : decodeMessage(frame);
  }

  async send(...messages: Message[]): Promise<void> {
    for (const message of messages) await writeAll(this.#conn, encodeMessage(message));
  }

  /** Closes the connection, unless the client's end closed it already. */
  close(): void {
    closeQuietly(this.#conn);
  }
}

/** Accepts connections in turn, running the next script on each. */
async function _serve(
  listener: Deno.Listener,
  scripts: ((side: _ServerSide) => Promise<void>)[],
): Promise<void> {
  for (const script of scripts) {
    const side = new _ServerSide(await listener.accept());
    try {
      await script(side);
    } finally {
      side.close();
    }
  }
}

/** A helloAck of draw d1 with `storedBets` whose digest is 1000 + storedBets. */
function _helloAck(storedBets: number): Message {
  return {
    type: MessageType.helloAck,
    drawId: "d1",
    storedBets,
    storedDigest: 1000 + storedBets,
    checkpoints: [],
  };
}

/** A real batch frame of 2 bets at `first` (the digest of the first p bets is 1000 + p). */
function _batch(first: number): EncodedBatch {
  const bets = makeBets(1, 2).map(({ agency: _, ...bet }) => bet);
  return {
    first,
    count: 2,
    frame: encodeMessage({ type: MessageType.batch, first, bets }),
    bets: undefined,
  };
}

/**
 * What `promise` resolves to, failing the test when that takes longer
 * than `limitMs` (a step that waits where it should not).
 */
async function _within<T>(promise: Promise<T>, limitMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${limitMs} ms`)), limitMs);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The `first` of each batch among `messages`. */
function _firsts(messages: readonly (Message | null)[]): number[] {
  return messages.flatMap((message) => message?.type === MessageType.batch ? [message.first] : []);
}

function _connection(listener: Deno.Listener, lines: string[], budgetMs = 5_000) {
  const stop = new AbortController();
  const connection = new UploadConnection({
    agency: 1,
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
    reconnectBudgetMs: budgetMs,
    signal: stop.signal,
    logger: new Logger("DEBUG", (line) => lines.push(line)),
    sentDigest: fakeSentDigest,
  });
  return { connection, stop };
}

Deno.test("UploadConnection after a first loss reconnects at once, resends only what the server lacks, and reads on", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lines: string[] = [];
  const { connection } = _connection(listener, lines);
  const received: (Message | null)[] = [];
  const serving = _serve(listener, [
    async (side) => {
      await side.receive();
      await side.send(_helloAck(0));
      received.push(await side.receive(), await side.receive());
      // Stored the first batch, then lost the connection before its ack.
    },
    async (side) => {
      await side.receive();
      await side.send(_helloAck(2));
      const resent = await side.receive();
      received.push(resent);
      await side.send({ type: MessageType.batchAck, first: 2, count: 2 });
      await side.receive();
    },
  ]);
  const start = await connection.open();
  await connection.send([_batch(0), _batch(2)]);
  const startedMs = Date.now();
  const acknowledged = await connection.awaitBatchReply();
  assert.equal(acknowledged?.first, 2);
  assert.ok(Date.now() - startedMs < 1_000, "the first loss waits for no back-off");
  assert.deepEqual(_firsts(received), [0, 2, 2]);
  assert.equal(start.window.size, 0);
  assert.equal(start.window.storedBatches, 2);
  assert.equal(countLines(lines, "connection_lost", "in_progress"), 1);
  assert.match(
    lines.find((line) => line.includes("connection_lost"))!,
    /unacknowledged_batches: 2 \|/,
  );
  assert.equal(connection.close(), true);
  assert.equal(connection.close(), false, "closed already");
  await serving;
});

Deno.test("UploadConnection.awaitBatchReply() returns undefined when the resume found every batch stored", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { connection } = _connection(listener, []);
  const serving = _serve(listener, [
    async (side) => {
      await side.receive();
      await side.send(_helloAck(0));
      await side.receive();
    },
    async (side) => {
      await side.receive();
      await side.send(_helloAck(2));
      assert.equal(await side.receive(), null, "nothing resent");
    },
  ]);
  await connection.open();
  await connection.send([_batch(0)]);
  assert.equal(await _within(connection.awaitBatchReply(), 2_000), undefined);
  connection.close();
  await serving;
});

Deno.test("UploadConnection gives up with an UploadRefusal when the server refuses for longer than the budget", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lines: string[] = [];
  const { connection } = _connection(listener, lines, 250);
  const refuse = async (side: _ServerSide) => {
    await side.receive();
    await side.send({ type: MessageType.error, code: ErrorCode.storeFailed, text: "disk" });
  };
  let refusals = 0;
  const serving = (async () => {
    // Refuses every hello until the client stops coming back.
    while (true) {
      const conn = await listener.accept().catch(() => null);
      if (conn === null) return;
      refusals += 1;
      const side = new _ServerSide(conn);
      await refuse(side).catch(() => {});
      side.close();
    }
  })();
  const startedMs = Date.now();
  let refusedForMs = 0;
  await assert.rejects(connection.open(), (error: unknown) => {
    assert.ok(error instanceof UploadRefusal);
    const match = /^server kept refusing for (\d+) ms: storeFailed: disk$/.exec(error.message);
    assert.ok(match, error.message);
    refusedForMs = Number(match[1]);
    return true;
  });
  assert.ok(refusedForMs > 250, `refused for ${refusedForMs} ms, past the 250 ms budget`);
  const tookMs = Date.now() - startedMs;
  // Refusals at about 0, 0, 50, 150 and 350 ms (pauses 0, 50, 100, 200):
  // the fifth is the first past 250, with 100 ms to spare either side.
  assert.ok(tookMs < 2_000, `gave up after ${tookMs} ms`);
  assert.equal(refusals, 5);
  assert.equal(countLines(lines, "connection_lost", "in_progress"), refusals);
  connection.close();
  listener.close();
  await serving;
});

Deno.test("UploadConnection ends on a batch refused for good, logging the refusal", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lines: string[] = [];
  const { connection } = _connection(listener, lines);
  const serving = _serve(listener, [async (side) => {
    await side.receive();
    await side.send(_helloAck(0));
    await side.receive();
    await side.send({
      type: MessageType.batchNack,
      first: 0,
      count: 2,
      code: ErrorCode.invalidBet,
      betIndex: 2,
      field: "documento",
      reason: "not a number",
      expected: 0,
    });
    await side.receive();
  }]);
  await connection.open();
  await connection.send([_batch(0)]);
  await assert.rejects(
    connection.awaitBatchReply(),
    UploadRefusal,
    "batch of 2 bets at 0 refused: invalidBet: not a number",
  );
  assert.match(
    lines.find((line) => line.includes("action: apuesta_enviada | result: fail"))!,
    /client_id: 1 \| first: 0 \| cantidad: 2 \| code: invalidBet \| bet: 2 \| field: documento \| error: not a number/,
  );
  assert.equal(countLines(lines, "connection_lost", "in_progress"), 0);
  connection.close();
  await serving;
});

Deno.test("UploadConnection stops on the signal while waiting for a reply, with the signal's reason", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lines: string[] = [];
  const { connection, stop } = _connection(listener, lines);
  const serving = _serve(listener, [async (side) => {
    await side.receive();
    await side.send(_helloAck(0));
    await side.receive();
    assert.equal(await side.receive(), null, "the client closed the connection");
  }]);
  await connection.open();
  await connection.send([_batch(0)]);
  const waiting = connection.awaitBatchReply();
  stop.abort();
  await assert.rejects(waiting, (error: unknown) => error === stop.signal.reason);
  assert.equal(countLines(lines, "connection_lost", "in_progress"), 0);
  assert.equal(connection.close(), true, "the connection is still there to report");
  await serving;
});

Deno.test("UploadConnection takes the acks the server sent before a write found the connection broken", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lines: string[] = [];
  const { connection } = _connection(listener, lines);
  const batchesSent = Promise.withResolvers<void>();
  const firstClosed = Promise.withResolvers<void>();
  const serving = _serve(listener, [
    async (side) => {
      await side.receive();
      await side.send(_helloAck(0));
      await batchesSent.promise;
      await side.send({ type: MessageType.batchAck, first: 0, count: 2 });
      // Closed with the batches unread in the socket: the kernel resets the connection.
      side.close();
      firstClosed.resolve();
    },
    async (side) => {
      await side.receive();
      await side.send(_helloAck(2));
      await side.receive();
      await side.receive();
      await side.send(
        { type: MessageType.batchAck, first: 2, count: 2 },
        { type: MessageType.batchAck, first: 4, count: 2 },
      );
      await side.receive();
    },
  ]);
  const start = await connection.open();
  await connection.send([_batch(0), _batch(2)]);
  batchesSent.resolve();
  await firstClosed.promise;
  await connection.send([_batch(4)]);
  const acknowledged: (number | undefined)[] = [];
  while (start.window.size > 0) acknowledged.push((await connection.awaitBatchReply())?.first);
  assert.deepEqual(acknowledged, [0, 2, 4], "batch 0's ack, sent before the reset, is read");
  assert.equal(countLines(lines, "connection_lost", "in_progress"), 1);
  assert.match(
    lines.find((line) => line.includes("connection_lost"))!,
    /unacknowledged_batches: 2 \|/,
  );
  connection.close();
  await serving;
});
