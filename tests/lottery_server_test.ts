/**
 * LotteryServer in-process over real sockets: exactly-once, refusals of bad
 * frames and bad bets with the server still serving, connection limits,
 * idle timeout, the echo health check.
 */

import assert from "node:assert/strict";
import { loadBets } from "../lib/store/bets_file_reader.ts";
import { writeAll } from "../lib/runtime/write_all.ts";
import { ECHO_LINE_BYTES_MAX } from "../lib/limits.ts";
import { digestOf } from "./helpers/store_rows.ts";
import type { LotteryServer } from "../lib/server/lottery_server.ts";
import { ErrorCode, MessageType } from "../lib/protocol/protocol.ts";
import { encodeMessage, type Message, type WireBet } from "../lib/protocol/message_codec.ts";
import { concatBytes } from "../lib/runtime/bytes.ts";
import { makeBets } from "./helpers/bets.ts";
import { isLine, LineWatch, waitForLine } from "./helpers/log_lines.ts";
import { frameHeader, RawPeer } from "./helpers/raw_agency.ts";
import { startTestServer, type TestServerOptions } from "./helpers/test_server.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

interface Harness {
  port: number;
  lines: string[];
  server: LotteryServer;
  storage: string;
  /** Resolves once the server asked the lottery for an agency's winners:
   * from then on the query waits for the draw (or was answered). */
  winnersAsked(agency: number): Promise<void>;
}

const _DRAW_ID = "test-draw";

/** Runs `body` against a fresh server on a free port; shuts it down after. */
async function withServer(
  options: Omit<TestServerOptions, "storageDir">,
  body: (harness: Harness) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const watch = new LineWatch();
    await using server = await startTestServer({
      storageDir: dir,
      drawId: _DRAW_ID,
      logLevel: "DEBUG",
      onLine: watch.onLine,
      listenBacklog: 16,
      connectionsMax: 16,
      idleTimeoutMs: 5_000,
      shutdownGraceMs: 1_000,
      ...options,
    });
    const { port, lines } = server;
    await body({
      port,
      lines,
      server: server.server,
      storage: server.storage,
      winnersAsked: (agency) => {
        const asked = (line: string) =>
          isLine(line, "consulta_ganadores", "in_progress") &&
          new RegExp(`\\| agency: ${agency}( \\||$)`).test(line);
        if (lines.some(asked)) return Promise.resolve();
        return watch.waitFor(asked, `agency ${agency}'s winners query`).then(() => {});
      },
    });
  });
}

function wire(agency: number, count: number, winnersAt: number[] = []): WireBet[] {
  return makeBets(agency, count, { winnersAt }).map(({ agency: _, ...bet }) => bet);
}

Deno.test("a batch re-sent at its stored position is acknowledged again and stored once; helloAck names the draw, the stored count and its digest", async () => {
  await withServer({}, async ({ port, storage }) => {
    const [peer, helloAck] = await RawPeer.hello(port, 1);
    assert.deepEqual(helloAck, {
      type: MessageType.helloAck,
      drawId: _DRAW_ID,
      storedBets: 0,
      storedDigest: 0,
      checkpoints: [],
    });
    const bets = wire(1, 3);
    await peer.send({ type: MessageType.batch, first: 0, bets });
    assert.deepEqual(await peer.receive(), { type: MessageType.batchAck, first: 0, count: 3 });
    await peer.send({ type: MessageType.batch, first: 0, bets });
    assert.deepEqual(await peer.receive(), { type: MessageType.batchAck, first: 0, count: 3 });
    peer.close();
    const digest = digestOf(makeBets(1, 3));
    const [again, ack] = await RawPeer.hello(port, 1);
    assert.deepEqual(ack, {
      type: MessageType.helloAck,
      drawId: _DRAW_ID,
      storedBets: 3,
      storedDigest: digest,
      checkpoints: [{ position: 3, digest }],
    });
    await again.send({ type: MessageType.batch, first: 0, bets });
    assert.deepEqual(await again.receive(), { type: MessageType.batchAck, first: 0, count: 3 });
    again.close();
    assert.equal((await Array.fromAsync(loadBets(storage))).length, 3);
  });
});

Deno.test("with a store queue of one batch, sessions wait for the writer and every bet is stored once", async () => {
  await withServer({ storeQueueBytesMax: 1, agencies: 3 }, async ({ port, storage }) => {
    const batches = 30;
    const upload = async (agency: number) => {
      const [peer] = await RawPeer.hello(port, agency);
      // Every batch sent at once: the server must hold them back, not drop them.
      for (let first = 0; first < 20 * batches; first += 20) {
        await peer.send({ type: MessageType.batch, first, bets: wire(agency, 20) });
      }
      for (let first = 0; first < 20 * batches; first += 20) {
        assert.deepEqual(await peer.receive(), { type: MessageType.batchAck, first, count: 20 });
      }
      peer.close();
    };
    await Promise.all([upload(1), upload(2), upload(3)]);
    const stored = await Array.fromAsync(loadBets(storage));
    for (const agency of [1, 2, 3]) {
      assert.equal(stored.filter((bet) => bet.agency === agency).length, batches * 20);
    }
  });
});

Deno.test("a batch with one bad bet is refused whole, naming the bet and field, and the session goes on", async () => {
  await withServer({}, async ({ port, storage, lines }) => {
    const [peer] = await RawPeer.hello(port, 2);
    const bets = wire(2, 4);
    bets[2] = { ...bets[2]!, document: "12a45" };
    await peer.send({ type: MessageType.batch, first: 0, bets });
    const nack = await peer.receive();
    assert.equal(nack.type, MessageType.batchNack);
    assert.ok(nack.type === MessageType.batchNack);
    assert.equal(nack.code, ErrorCode.invalidBet);
    assert.equal(nack.betIndex, 3);
    assert.equal(nack.field, "document");
    await peer.send({ type: MessageType.batch, first: 0, bets: wire(2, 2) });
    assert.deepEqual(await peer.receive(), { type: MessageType.batchAck, first: 0, count: 2 });
    peer.close();
    assert.equal((await Array.fromAsync(loadBets(storage))).length, 2, "nothing of the bad batch");
    assert.equal(
      lines.filter((line) => line.includes("apuesta_recibida | result: fail | cantidad: 4")).length,
      1,
    );
  });
});

Deno.test("bad frames get an error code and a close; other agencies keep being served", async (t) => {
  await withServer({ frameBytesMax: 1024 }, async ({ port }) => {
    const cases = [
      {
        name: "length prefix of 4 GiB - 1",
        bytes: frameHeader(MessageType.hello, 0xffff_ffff),
        code: ErrorCode.frameTooLarge,
      },
      {
        name: "length prefix of frameBytesMax + 1",
        bytes: frameHeader(MessageType.hello, 1025),
        code: ErrorCode.frameTooLarge,
      },
      {
        name: "wrong protocol version",
        bytes: frameHeader(MessageType.hello, 4, 9),
        code: ErrorCode.unsupportedVersion,
      },
      {
        name: "unknown message type after hello",
        bytes: new Uint8Array([
          ...frameHeader(MessageType.hello, 4),
          0,
          0,
          0,
          1,
          ...frameHeader(99, 0),
        ]),
        code: ErrorCode.unknownType,
      },
      {
        name: "batch before hello",
        bytes: frameHeader(MessageType.batch, 0),
        code: ErrorCode.helloRequired,
      },
      {
        name: "hello of an agency out of range",
        bytes: new Uint8Array([...frameHeader(MessageType.hello, 4), 0, 0, 0, 3]),
        code: ErrorCode.unknownAgency,
      },
    ];
    for (const testCase of cases) {
      await t.step(testCase.name, async () => {
        const peer = await RawPeer.connect(port);
        await peer.sendBytes(testCase.bytes);
        let reply = await peer.receive();
        if (reply.type === MessageType.helloAck) reply = await peer.receive();
        assert.equal(reply.type, MessageType.error);
        assert.ok(
          reply.type === MessageType.error && reply.code === testCase.code,
          JSON.stringify(reply),
        );
        assert.ok(await peer.closedByServer());
        peer.close();
        const [healthy, ack] = await RawPeer.hello(port, 1);
        assert.equal(ack.type, MessageType.helloAck);
        healthy.close();
      });
    }
  });
});

Deno.test("a batch whose declared count disagrees with its content is refused with countMismatch", async () => {
  await withServer({}, async ({ port }) => {
    const [peer] = await RawPeer.hello(port, 1);
    const frame = (await import("../lib/protocol/message_codec.ts")).encodeMessage({
      type: MessageType.batch,
      first: 5,
      bets: wire(1, 2),
    });
    new DataView(frame.buffer).setUint16(7 + 4, 3);
    await peer.sendBytes(frame);
    const nack = await peer.receive();
    assert.ok(nack.type === MessageType.batchNack);
    assert.equal(nack.code, ErrorCode.countMismatch);
    assert.equal(nack.first, 5);
    peer.close();
  });
});

Deno.test("winners answer holds only the asking agency's documents, after the draw", async () => {
  await withServer({ agencies: 2 }, async ({ port, lines, winnersAsked }) => {
    const [one] = await RawPeer.hello(port, 1);
    const [two] = await RawPeer.hello(port, 2);
    await one.send({ type: MessageType.batch, first: 0, bets: wire(1, 5, [1, 3]) });
    await two.send({ type: MessageType.batch, first: 0, bets: wire(2, 5, [0]) });
    await one.receive();
    await two.receive();
    await one.send({ type: MessageType.finished, total: 5 });
    await one.send({ type: MessageType.winnersQuery });
    await winnersAsked(1);
    assert.equal(lines.filter((line) => line.includes("action: sorteo")).length, 0);
    assert.equal(lines.filter((line) => line.includes("action: ganadores_enviados")).length, 0);
    await two.send({ type: MessageType.finished, total: 5 });
    await two.send({ type: MessageType.winnersQuery });
    const winnersOne = await one.receive();
    const winnersTwo = await two.receive();
    assert.ok(winnersOne.type === MessageType.winners && winnersTwo.type === MessageType.winners);
    assert.deepEqual(winnersOne.documents, [String(20_100_001), String(20_100_003)]);
    assert.deepEqual(winnersTwo.documents, [String(20_200_000)]);
    await one.send({ type: MessageType.batch, first: 5, bets: wire(1, 1) });
    const closed = await one.receive();
    assert.ok(closed.type === MessageType.batchNack && closed.code === ErrorCode.drawClosed);
    one.close();
    two.close();
  });
});

Deno.test("finished with a total that differs from the stored bets is refused with countMismatch", async () => {
  await withServer({}, async ({ port }) => {
    const [peer] = await RawPeer.hello(port, 1);
    await peer.send({ type: MessageType.batch, first: 0, bets: wire(1, 3) });
    await peer.receive();
    await peer.send({ type: MessageType.finished, total: 4 });
    const reply = await peer.receive();
    assert.ok(reply.type === MessageType.error && reply.code === ErrorCode.countMismatch);
    peer.close();
  });
});

Deno.test("connections beyond connectionsMax get tooManyConnections while connected agencies go on", async () => {
  await withServer({ connectionsMax: 2 }, async ({ port }) => {
    const [first] = await RawPeer.hello(port, 1);
    const [second] = await RawPeer.hello(port, 2);
    const third = await RawPeer.connect(port);
    const refusal = await third.receive();
    assert.ok(refusal.type === MessageType.error && refusal.code === ErrorCode.tooManyConnections);
    third.close();
    await first.send({ type: MessageType.batch, first: 0, bets: wire(1, 1) });
    assert.equal((await first.receive()).type, MessageType.batchAck);
    first.close();
    second.close();
  });
});

Deno.test("a silent connection is closed after idleTimeoutMs with an idleTimeout error", async () => {
  await withServer({ idleTimeoutMs: 150 }, async ({ port, lines }) => {
    const [peer] = await RawPeer.hello(port, 1);
    const reply = await peer.receive();
    assert.ok(reply.type === MessageType.error && reply.code === ErrorCode.idleTimeout);
    assert.ok(await peer.closedByServer());
    peer.close();
    assert.equal(lines.filter((line) => line.includes("action: idle_timeout")).length, 1);
  });
});

Deno.test("a peer that stops reading its replies is still closed after idleTimeoutMs", async () => {
  await withServer({ idleTimeoutMs: 150 }, async ({ port, lines }) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    // Echo lines, never read: the server's reply writes fill both socket
    // buffers and block, and so does this write once the server stops reading.
    const line = new Uint8Array(ECHO_LINE_BYTES_MAX).fill(0x78);
    line[line.length - 1] = 0x0a;
    const flood = (async () => {
      // Ends only when a write fails: socket buffers may grow to tens of MB.
      while (true) await writeAll(conn, line);
    })().catch((error) => error);
    await waitForLine(lines, "close_connection");
    assert.ok((await flood) instanceof Error, "the flood ends on the closed connection");
    conn.close();
    assert.equal(lines.filter((entry) => entry.includes("action: idle_timeout")).length, 1);
  });
});

Deno.test("echo health check: each line comes back unchanged on the protocol's port", async () => {
  await withServer({}, async ({ port, lines }) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const text = "hola | mundo\nsegunda línea\n";
    await conn.write(new TextEncoder().encode(text));
    const received = new Uint8Array(256);
    let length = 0;
    while (length < new TextEncoder().encode(text).length) {
      const count = await conn.read(received.subarray(length));
      if (count === null) break;
      length += count;
    }
    conn.close();
    assert.equal(new TextDecoder().decode(received.subarray(0, length)), text);
    const echoed = lines.filter((line) => line.includes("action: receive_message"));
    assert.equal(echoed.length, 2);
    assert.ok(echoed[0]!.endsWith("msg: hola   mundo"), "the | is sanitized in the log");
  });
});

/** Everything the server sends on `conn` until it closes it. */
async function readToEnd(conn: Deno.Conn): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  let text = "";
  while (true) {
    const count = await conn.read(buffer);
    if (count === null) return text + decoder.decode();
    text += decoder.decode(buffer.subarray(0, count), { stream: true });
  }
}

Deno.test("an echo peer that goes idle is closed without a binary error frame", async () => {
  await withServer({ idleTimeoutMs: 150 }, async ({ port, lines }) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(conn, new TextEncoder().encode("hola\n"));
    assert.equal(await readToEnd(conn), "hola\n", "the echo, then the close, nothing else");
    conn.close();
    assert.equal(lines.filter((line) => line.includes("action: idle_timeout")).length, 1);
  });
});

Deno.test("an echo peer is closed at shutdown without a binary error frame", async () => {
  await withServer({}, async ({ port, server }) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(conn, new TextEncoder().encode("hola\n"));
    const echoed = new Uint8Array(5);
    assert.equal(await conn.read(echoed), 5);
    const closing = server.shutdown();
    assert.equal(await readToEnd(conn), "", "the close, no shuttingDown frame");
    await closing;
    conn.close();
  });
});

Deno.test("shutdown answers a waiting winners query with shuttingDown", async () => {
  await withServer({ agencies: 2 }, async ({ port, server, winnersAsked }) => {
    const [peer] = await RawPeer.hello(port, 1);
    await peer.send({ type: MessageType.finished, total: 0 });
    await peer.send({ type: MessageType.winnersQuery });
    await winnersAsked(1);
    const closing = server.shutdown();
    const reply = await peer.receive();
    assert.ok(reply.type === MessageType.error && reply.code === ErrorCode.shuttingDown);
    await closing;
    peer.close();
  });
});

/** The nack a batch at `first` gets, asserting it is one. */
async function nackOf(peer: RawPeer, first: number, bets: WireBet[]) {
  await peer.send({ type: MessageType.batch, first, bets });
  const reply = await peer.receive();
  assert.ok(reply.type === MessageType.batchNack, `expected a nack, got type ${reply.type}`);
  return reply;
}

Deno.test("batches out of position are refused with positionMismatch naming the expected position, and nothing of them is stored", async (t) => {
  await withServer({}, async ({ port, storage }) => {
    const [peer] = await RawPeer.hello(port, 1);
    const bets = wire(1, 300);
    await peer.send({ type: MessageType.batch, first: 0, bets: bets.slice(0, 100) });
    assert.deepEqual(await peer.receive(), { type: MessageType.batchAck, first: 0, count: 100 });
    await t.step("a gap (batches sent 1, 3, 2)", async () => {
      const nack = await nackOf(peer, 200, bets.slice(200));
      assert.equal(nack.code, ErrorCode.positionMismatch);
      assert.equal(nack.expected, 100);
      assert.equal(nack.first, 200);
    });
    await t.step("an overlap", async () => {
      const nack = await nackOf(peer, 50, bets.slice(50, 150));
      assert.equal(nack.code, ErrorCode.positionMismatch);
      assert.equal(nack.expected, 100);
    });
    await t.step("position 0 again with other bets", async () => {
      const nack = await nackOf(peer, 0, wire(1, 100, [7]));
      assert.equal(nack.code, ErrorCode.positionMismatch);
      assert.equal(nack.expected, 100);
    });
    await t.step("after the refusals the expected batches are stored", async () => {
      await peer.send({ type: MessageType.batch, first: 100, bets: bets.slice(100, 200) });
      await peer.send({ type: MessageType.batch, first: 200, bets: bets.slice(200) });
      assert.deepEqual(await peer.receive(), {
        type: MessageType.batchAck,
        first: 100,
        count: 100,
      });
      assert.deepEqual(await peer.receive(), {
        type: MessageType.batchAck,
        first: 200,
        count: 100,
      });
    });
    peer.close();
    const stored = await Array.fromAsync(loadBets(storage));
    assert.deepEqual(stored.map(({ agency: _, ...bet }) => bet), bets, "each bet once, in order");
  });
});

Deno.test("a second hello for an agency supersedes the first connection: it is closed with superseded, and the newcomer resumes after its batches", async () => {
  await withServer({}, async ({ port, storage, lines }) => {
    const [older] = await RawPeer.hello(port, 1);
    await older.send({ type: MessageType.batch, first: 0, bets: wire(1, 50) });
    assert.equal((await older.receive()).type, MessageType.batchAck);
    const [newer, helloAck] = await RawPeer.hello(port, 1);
    assert.ok(helloAck.type === MessageType.helloAck);
    assert.equal(helloAck.storedBets, 50);
    const refusal = await older.receive();
    assert.ok(refusal.type === MessageType.error && refusal.code === ErrorCode.superseded);
    assert.ok(await older.closedByServer());
    // The older connection is gone: whatever it tried now could not be stored.
    await older.send({ type: MessageType.batch, first: 50, bets: wire(1, 10, [0]) }).catch(
      () => {},
    );
    older.close();
    await newer.send({ type: MessageType.batch, first: 50, bets: wire(1, 100).slice(50) });
    assert.deepEqual(await newer.receive(), { type: MessageType.batchAck, first: 50, count: 50 });
    newer.close();
    const stored = await Array.fromAsync(loadBets(storage));
    assert.deepEqual(stored.map(({ agency: _, ...bet }) => bet), wire(1, 100));
    assert.equal(lines.filter((line) => isLine(line, "hello", "in_progress")).length, 1);
  });
});

Deno.test("a superseded connection gets the ack of every batch it had at the store before its superseded error", async () => {
  await withServer({}, async ({ port }) => {
    const [older] = await RawPeer.hello(port, 1);
    const bets = wire(1, 500);
    // 50 batches in one write: they reach the store together and settle in
    // the same group commits, while the newcomer takes the agency over.
    const batches = [];
    for (let first = 0; first < bets.length; first += 10) {
      batches.push(encodeMessage({
        type: MessageType.batch,
        first,
        bets: bets.slice(first, first + 10),
      }));
    }
    await older.sendBytes(concatBytes(batches));
    const [newer, helloAck] = await RawPeer.hello(port, 1);
    assert.ok(helloAck.type === MessageType.helloAck);
    const replies: Message[] = [];
    while (true) {
      const reply = await older.receive().catch(() => undefined);
      if (reply === undefined) break;
      replies.push(reply);
    }
    const errorAt = replies.findIndex((reply) =>
      reply.type === MessageType.error && reply.code === ErrorCode.superseded
    );
    assert.ok(errorAt !== -1, "the superseded error came");
    const isAck = (reply: Message) => reply.type === MessageType.batchAck;
    const acked = replies.slice(0, errorAt).filter(isAck);
    assert.equal(
      acked.length * 10,
      helloAck.storedBets,
      "each stored batch acked, before the error",
    );
    assert.ok(!replies.slice(errorAt).some(isAck), "no ack after the error");
    older.close();
    newer.close();
  });
});

Deno.test("a newcomer's helloAck waits for the batches its superseded predecessor left at the store", async () => {
  await withServer({ storeQueueBytesMax: 1 }, async ({ port }) => {
    const [older] = await RawPeer.hello(port, 1);
    // Queued, not yet answered: the newcomer must count them.
    for (let first = 0; first < 200; first += 20) {
      await older.send({
        type: MessageType.batch,
        first,
        bets: wire(1, 200).slice(first, first + 20),
      });
    }
    const [newer, helloAck] = await RawPeer.hello(port, 1);
    assert.ok(helloAck.type === MessageType.helloAck);
    const acked: number[] = [];
    while (true) {
      const reply = await older.receive().catch(() => undefined);
      if (reply?.type !== MessageType.batchAck) break;
      acked.push(reply.first);
    }
    for (const first of acked) {
      assert.ok(first + 20 <= helloAck.storedBets, `batch at ${first} acked but not counted`);
    }
    // Nothing of the predecessor is still on its way: the rest goes on from there.
    const rest = wire(1, 200).slice(helloAck.storedBets);
    await newer.send({ type: MessageType.batch, first: helloAck.storedBets, bets: rest });
    assert.deepEqual(await newer.receive(), {
      type: MessageType.batchAck,
      first: helloAck.storedBets,
      count: rest.length,
    });
    older.close();
    newer.close();
  });
});
