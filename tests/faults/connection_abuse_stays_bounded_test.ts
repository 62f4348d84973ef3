/**
 * Abusive connections against the real server process while agencies are
 * uploading: silent connections and slowloris peers (trickling a frame or an
 * echo line a byte at a time) are cut by the idle timeout, a flood beyond
 * CONNECTIONS_MAX is refused at once, peers that park almost a maximal frame
 * each cost bounded memory; meanwhile a connected agency keeps getting its
 * acks promptly and every upload ends exact. The server's peak resident
 * memory (VmHWM of the process) stays under a stated bound.
 */

import assert from "node:assert/strict";
import { localBetsPath } from "../helpers/storage.ts";
import { writeAll } from "../../lib/runtime/write_all.ts";
import { startLocalServer } from "../../lib/dev/local_cluster.ts";
import { FRAME_HEADER_BYTES, MessageType } from "../../lib/protocol/protocol.ts";
import { errorCodeName } from "../../lib/protocol/protocol.ts";
import { makeBets } from "../helpers/bets.ts";
import { frameHeader, RawPeer } from "../helpers/raw_agency.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { assertStoreHoldsExactly, writeAgencyData } from "./helpers/agency_data.ts";
import { startTestServer } from "../helpers/test_server.ts";
import { assertUploadsExact, countLines, startUploads, waitUntil } from "./helpers/uploads.ts";

const _CONNECTIONS_MAX = 64;
const _IDLE_MS = 1_000;
const _FRAME_BYTES_MAX = 1024 * 1024;
/** Cut by the idle timeout: within the timeout plus this (timer granularity, a loaded machine). */
const _CUT_SLACK_MS = 1_500;
/** A connection over the cap is answered and closed within this. */
const _REFUSAL_MS_MAX = 1_000;
/** The connected agency's acks come within this while the abuse goes on. */
const _ACK_MS_MAX = 1_000;
/** Peak resident memory allowed to the server process under this abuse: a
 * Deno runtime (about 60 MiB) plus, for each of the 64 connections, at
 * most one frame of 1 MiB buffered and its copy. */
const _PEAK_RSS_BYTES_MAX = 256 * 1024 * 1024;
/** An abusive connection the server has not closed by then counts as not cut. */
const _ABUSE_MS_MAX = 15_000;

/** A field of /proc/<pid>/status in bytes (VmHWM: peak resident, VmRSS: now). */
async function procStatusBytes(pid: number, field: "VmHWM" | "VmRSS"): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

const _sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Opens a connection, sends `prefix`, then trickles `trickle` one byte every
 * `everyMs` until the server closes it.
 * @returns milliseconds from connect to the server's close, and what it sent
 */
async function abuse(
  port: number,
  prefix: Uint8Array,
  trickle: Uint8Array | undefined,
  everyMs: number,
): Promise<{ closedMs: number; received: Uint8Array }> {
  const started = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let closed = false;
  // Never hang the test: give up on a server that does not close in time.
  const deadline = setTimeout(() => conn.close(), _ABUSE_MS_MAX);
  const reading = (async () => {
    const chunks: number[] = [];
    const buffer = new Uint8Array(4096);
    while (true) {
      const count = await conn.read(buffer).catch(() => null);
      if (count === null) break;
      chunks.push(...buffer.subarray(0, count));
    }
    closed = true;
    return { closedMs: performance.now() - started, received: new Uint8Array(chunks) };
  })();
  try {
    await writeAll(conn, prefix);
    for (let index = 0; trickle !== undefined && !closed; index += 1) {
      await _sleep(everyMs);
      if (closed) break;
      await writeAll(conn, trickle.subarray(index % trickle.length, index % trickle.length + 1));
    }
  } catch {
    // the server closed it while we wrote
  }
  const result = await reading;
  clearTimeout(deadline);
  try {
    conn.close();
  } catch {
    // closed at the deadline
  }
  return result;
}

/** The error code name in an error frame the server sent before closing, if any. */
function errorNameIn(received: Uint8Array): string | undefined {
  if (received.length < FRAME_HEADER_BYTES + 1 || received[2] !== MessageType.error) {
    return undefined;
  }
  return errorCodeName(received[FRAME_HEADER_BYTES]!);
}

Deno.test("idle and slowloris connections are cut, a connection flood is refused at once, memory stays bounded, and a connected agency goes on", async () => {
  await withTempDir(async (dir) => {
    const data = await writeAgencyData(dir, [{ bets: 3000, winners: 2 }, {
      bets: 2500,
      winners: 1,
    }], 3);
    const storage = localBetsPath(dir);
    const server = await startLocalServer({
      STORAGE_DIR: dir,
      AGENCIES: "3",
      CONNECTIONS_MAX: String(_CONNECTIONS_MAX),
      IDLE_TIMEOUT: `${_IDLE_MS}ms`,
      FRAME_BYTES_MAX: String(_FRAME_BYTES_MAX),
      // The exercise's backlog of 5 would leave a burst of connects waiting in
      // the kernel (SYN retries), before the server can answer them at all.
      SERVER_LISTEN_BACKLOG: "512",
    });
    const pid = server.process.pid;
    const rssAtStart = await procStatusBytes(pid, "VmHWM");
    const heartbeatBets = makeBets(3, 0);
    const ackMs: number[] = [];
    try {
      // A connected agency sends a small batch every 25 ms throughout.
      const [agency3] = await RawPeer.hello(server.port, 3);
      let stopBeating = false;
      const heartbeat = (async () => {
        for (let first = 0; !stopBeating; first += 2) {
          const bets = makeBets(3, 2, { firstDocument: 70_000_000 + first * 10 });
          const sent = performance.now();
          await agency3.send({
            type: MessageType.batch,
            first,
            bets: bets.map(({ agency: _, ...bet }) => bet),
          });
          const reply = await agency3.receive();
          assert.deepEqual(reply, { type: MessageType.batchAck, first, count: 2 });
          ackMs.push(performance.now() - sent);
          heartbeatBets.push(...bets);
          await _sleep(25);
        }
      })();
      heartbeat.catch(() => {}); // awaited below, after the abuse
      const uploads = startUploads(data.files, {
        port: server.port,
        batchMaxAmount: 10,
        batchWindow: 2,
      });

      const endlessFrame = frameHeader(MessageType.hello, 1000);
      const silent = Array.from(
        { length: 8 },
        () => abuse(server.port, new Uint8Array(0), undefined, 0),
      );
      const slowFrames = Array.from(
        { length: 8 },
        () => abuse(server.port, new Uint8Array(0), endlessFrame, 150),
      );
      const slowEcho = Array.from(
        { length: 4 },
        () => abuse(server.port, new Uint8Array(0), new TextEncoder().encode("slow"), 150),
      );
      // Almost a whole maximal frame each, then silence: buffered, then cut.
      const parked = Array.from({ length: 16 }, () => {
        const bytes = new Uint8Array(FRAME_HEADER_BYTES + _FRAME_BYTES_MAX - 1024);
        bytes.set(frameHeader(MessageType.hello, _FRAME_BYTES_MAX));
        return abuse(server.port, bytes, undefined, 0);
      });
      await _sleep(200);
      // The flood: far more connections than the slots left.
      const flood = await Promise.all(
        Array.from({ length: 300 }, () => abuse(server.port, new Uint8Array(0), undefined, 0)),
      );
      const refused = flood.filter(({ received }) =>
        errorNameIn(received) === "tooManyConnections"
      );
      const admitted = flood.filter(({ received }) => errorNameIn(received) === "idleTimeout");
      assert.equal(refused.length + admitted.length, flood.length, "each is refused or cut idle");
      assert.ok(refused.length >= flood.length - _CONNECTIONS_MAX, `${refused.length} refused`);
      const refusalMsMax = Math.max(...refused.map(({ closedMs }) => closedMs));
      assert.ok(refusalMsMax < _REFUSAL_MS_MAX, `slowest refusal ${Math.round(refusalMsMax)} ms`);

      const cut = await Promise.all([...silent, ...slowFrames, ...slowEcho, ...parked]);
      for (const [index, { closedMs, received }] of cut.entries()) {
        assert.ok(
          closedMs < _IDLE_MS + _CUT_SLACK_MS,
          `connection ${index} cut after ${Math.round(closedMs)} ms`,
        );
        if (index < silent.length + slowFrames.length || index >= cut.length - parked.length) {
          assert.equal(errorNameIn(received), "idleTimeout", `connection ${index}`);
        }
      }
      const cutMsMax = Math.max(...cut.map(({ closedMs }) => closedMs));

      // Agencies 1 and 2 finish, then wait for the draw, which agency 3 completes.
      await waitUntil(
        () => countLines(server.lines, "agencia_finalizada") >= 2,
        "agencies 1 and 2 finishing",
        30_000,
      );
      stopBeating = true;
      await heartbeat;
      await agency3.send({ type: MessageType.finished, total: heartbeatBets.length });
      await agency3.send({ type: MessageType.winnersQuery });
      assert.deepEqual(await agency3.receive(), { type: MessageType.winners, documents: [] });
      agency3.close();
      await assertUploadsExact(uploads, data.bets);
      const ackMsMax = Math.max(...ackMs);
      assert.ok(ackMsMax < _ACK_MS_MAX, `slowest heartbeat ack ${Math.round(ackMsMax)} ms`);
      const peak = await procStatusBytes(pid, "VmHWM");
      assert.ok(peak < _PEAK_RSS_BYTES_MAX, `peak RSS ${peak} bytes`);
      console.log(
        `connection_abuse: ${flood.length} flood connections (${refused.length} refused, slowest refusal ${
          Math.round(refusalMsMax)
        } ms), ${cut.length} idle/slowloris/parked cut (slowest ${
          Math.round(cutMsMax)
        } ms, idle timeout ${_IDLE_MS} ms), ${ackMs.length} heartbeat acks (slowest ${
          Math.round(ackMsMax)
        } ms), server VmHWM ${(rssAtStart / 2 ** 20).toFixed(1)} MiB at start, ${
          (peak / 2 ** 20).toFixed(1)
        } MiB peak (bound ${_PEAK_RSS_BYTES_MAX / 2 ** 20} MiB)`,
      );
    } finally {
      assert.equal(await server.stop(), 0);
    }
    await assertStoreHoldsExactly(storage, [...data.bets, ...heartbeatBets]);
  });
});

Deno.test("peers that ask for winners and leave before the draw do not keep their connections until it", async () => {
  const agencies = 20;
  await withTempDir(async (dir) => {
    const server = await startTestServer({ storageDir: dir, agencies });
    try {
      // One connection per agency: a second hello of an agency would supersede the first.
      const leaving = await Promise.all(
        Array.from({ length: agencies }, async (_, index) => {
          const [peer] = await RawPeer.hello(server.port, index + 1);
          await peer.send({ type: MessageType.winnersQuery });
          return peer;
        }),
      );
      await waitUntil(
        () => server.server.connectionCount === agencies,
        `${agencies} connections waiting`,
      );
      for (const peer of leaving) peer.close();
      await waitUntil(
        () => server.server.connectionCount === 0,
        "the waiting connections closed",
        2_000,
      );
      // One that stays still gets its answer at the draw.
      const [staying] = await RawPeer.hello(server.port, 1);
      await staying.send({ type: MessageType.finished, total: 0 });
      await staying.send({ type: MessageType.winnersQuery });
      const finishing = await Promise.all(
        Array.from({ length: agencies - 1 }, async (_, index) => {
          const [peer] = await RawPeer.hello(server.port, index + 2);
          await peer.send({ type: MessageType.finished, total: 0 });
          await peer.send({ type: MessageType.winnersQuery });
          return peer;
        }),
      );
      for (const peer of finishing) {
        assert.deepEqual(await peer.receive(), { type: MessageType.winners, documents: [] });
        peer.close();
      }
      assert.deepEqual(await staying.receive(), { type: MessageType.winners, documents: [] });
      staying.close();
    } finally {
      await server.close();
    }
  });
});
