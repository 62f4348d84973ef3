/**
 * Against the real server process with its default limits: 1,024 peers that
 * each park a frame one byte short of the largest one cost bounded memory
 * (the shared read budget), a normal agency is served meanwhile, and the
 * memory comes back once they leave. A SIGTERM while only such peers (and
 * idle, echo and winners-waiting ones) are attached exits at once, and logs
 * no `fail` line.
 */

import assert from "node:assert/strict";
import { startLocalServer } from "../../lib/dev/local_cluster.ts";
import { FRAME_BYTES_MAX_DEFAULT } from "../../lib/limits.ts";
import { ErrorCode, MessageType, PROTOCOL_VERSION } from "../../lib/protocol/protocol.ts";
import { makeBets } from "../helpers/bets.ts";
import { isLine, LineWatch } from "../helpers/log_lines.ts";
import { frameHeader, RawPeer } from "../helpers/raw_agency.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const _PARKED = 1_024;
/** The bound on server RSS while 1,024 maximal frames are parked. */
const _PEAK_RSS_BYTES_MAX = 300 * 1024 * 1024;
/** Once the parked peers left, RSS is back within this of where it started. */
const _RSS_RETURN_BYTES_MAX = 50 * 1024 * 1024;
/** How long the agency uploads after the parked peers left while RSS is above the bound. */
const _RSS_RETURN_MS = 10_000;
/** A SIGTERM with nothing at the store exits within this. */
const _SHUTDOWN_MS_MAX = 1_000;
/** Bytes a parked peer writes per call: the first call alone fills the server's first buffer. */
const _WRITE_CHUNK_BYTES = 64 * 1024;

/** A field of /proc/<pid>/status in bytes (VmHWM: peak resident, VmRSS: now). */
async function procStatusBytes(pid: number, field: "VmHWM" | "VmRSS"): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** A frame declaring `bodyBytes`, cut `missingBytes` short of its end. */
function partialFrame(type: number, bodyBytes: number, missingBytes: number): Uint8Array {
  return frameHeader(type, bodyBytes, PROTOCOL_VERSION, bodyBytes - missingBytes);
}

interface _Parked {
  conn: Deno.TcpConn;
  /** The first chunk is written. */
  started: Promise<void>;
  /** Every byte is written, or the connection closed. */
  written: Promise<boolean>;
}

/** Connects and writes `bytes` (never the frame's last byte), then holds the connection. */
async function park(port: number, bytes: Uint8Array): Promise<_Parked> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const started = Promise.withResolvers<void>();
  const written = (async () => {
    try {
      for (let offset = 0; offset < bytes.length;) {
        offset += await conn.write(bytes.subarray(offset, offset + _WRITE_CHUNK_BYTES));
        started.resolve();
      }
      return true;
    } catch {
      started.resolve();
      return false;
    }
  })();
  return { conn, started: started.promise, written };
}

Deno.test("1,024 peers parking a frame one byte short of FRAME_BYTES_MAX keep server RSS under 300 MB, a normal agency is served, and RSS comes back once they leave", async () => {
  await withTempDir(async (dir) => {
    const watch = new LineWatch();
    const server = await startLocalServer({
      STORAGE_DIR: dir,
      AGENCIES: "1",
      CONNECTIONS_MAX: String(_PARKED + 16),
      SERVER_LISTEN_BACKLOG: "2048",
    }, watch.onLine);
    const pid = server.process.pid;
    const parked: _Parked[] = [];
    try {
      const rssAtStart = await procStatusBytes(pid, "VmRSS");
      const spent = watch.waitFor(
        (line) => isLine(line, "read_budget", "in_progress"),
        "a spent read budget",
        60_000,
      );
      spent.catch(() => {});
      const frame = partialFrame(MessageType.hello, FRAME_BYTES_MAX_DEFAULT - 1, 1);
      for (let index = 0; index < _PARKED; index += 1) {
        parked.push(await park(server.port, frame));
      }
      await Promise.all(parked.map(({ started }) => started));
      // Every frame is read whole (no budget: the server holds them all), or
      // the server says its read budget is spent and the rest wait in TCP.
      const allWritten = Promise.all(parked.map(({ written }) => written));
      await Promise.race([allWritten, spent]);
      const [agency] = await RawPeer.hello(server.port, 1);
      const bets = makeBets(1, 5).map(({ agency: _, ...bet }) => bet);
      await agency.send({ type: MessageType.batch, first: 0, bets });
      assert.deepEqual(await agency.receive(), { type: MessageType.batchAck, first: 0, count: 5 });
      const peak = await procStatusBytes(pid, "VmHWM");
      const closed = watch.waitFor(
        (() => {
          let count = 0;
          return (line: string) => isLine(line, "close_connection") && ++count === _PARKED;
        })(),
        "every parked connection closed",
        60_000,
      );
      for (const { conn } of parked) conn.close();
      await closed;
      await Promise.all(parked.map(({ written }) => written));
      // The agency goes on uploading (its garbage lets the collector run) until
      // RSS is back within the bound, or for at most _RSS_RETURN_MS.
      let rssAfter = await procStatusBytes(pid, "VmRSS");
      const returnStarted = performance.now();
      for (let first = 5; rssAfter > rssAtStart + _RSS_RETURN_BYTES_MAX; first += 100) {
        if (performance.now() - returnStarted > _RSS_RETURN_MS) break;
        const more = makeBets(1, 100, { firstDocument: 30_000_000 + first }).map((
          { agency: _, ...bet },
        ) => bet);
        await agency.send({ type: MessageType.batch, first, bets: more });
        assert.equal((await agency.receive()).type, MessageType.batchAck);
        rssAfter = await procStatusBytes(pid, "VmRSS");
      }
      const returnMs = performance.now() - returnStarted;
      const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
      console.log(
        `parked_frames: ${_PARKED} peers of ${
          FRAME_BYTES_MAX_DEFAULT - 1
        }-byte frames; server VmRSS ${mib(rssAtStart)} MiB at start, VmHWM ${
          mib(peak)
        } MiB while parked (bound ${mib(_PEAK_RSS_BYTES_MAX)}), VmRSS ${
          mib(rssAfter)
        } MiB after they closed (bound start + ${mib(_RSS_RETURN_BYTES_MAX)}), after ${
          Math.round(returnMs)
        } ms of uploading`,
      );
      assert.ok(peak <= _PEAK_RSS_BYTES_MAX, `server peak RSS ${mib(peak)} MiB`);
      assert.ok(
        rssAfter <= rssAtStart + _RSS_RETURN_BYTES_MAX,
        `server RSS ${mib(rssAfter)} MiB after the peers left, ${mib(rssAtStart)} MiB at start`,
      );
      agency.close();
    } finally {
      for (const { conn } of parked) {
        try {
          conn.close();
        } catch {
          // closed above
        }
      }
      assert.equal(await server.stop(), 0);
    }
  });
});

Deno.test("SIGTERM with only partial frames, idle, echo and winners-waiting peers attached exits within 1 s, answers shuttingDown and logs no fail line", async () => {
  await withTempDir(async (dir) => {
    const watch = new LineWatch();
    // AGENCIES 2: agency 1 finishes and waits for a draw that does not come.
    const server = await startLocalServer({ STORAGE_DIR: dir, AGENCIES: "2" }, watch.onLine);
    const peers: Deno.TcpConn[] = [];
    try {
      const connect = async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
        peers.push(conn);
        return conn;
      };
      // Accepted in order: once agency 2's helloAck came, these three are served too.
      const preHello = await connect();
      await preHello.write(partialFrame(MessageType.hello, FRAME_BYTES_MAX_DEFAULT - 1, 200_000));
      await connect(); // idle
      const echo = await connect();
      await echo.write(new TextEncoder().encode("half a li"));
      const [waiting] = await RawPeer.hello(server.port, 1);
      await waiting.send({ type: MessageType.finished, total: 0 });
      await waiting.send({ type: MessageType.winnersQuery });
      await watch.waitFor((line) => isLine(line, "agencia_finalizada"), "agency 1 finished");
      const [partialBatch] = await RawPeer.hello(server.port, 2);
      await partialBatch.sendBytes(partialFrame(MessageType.batch, 4_000, 1));
      const started = performance.now();
      const code = await server.stop();
      const exitMs = performance.now() - started;
      console.log(
        `shutdown with partial frames attached: exit ${code} after ${Math.round(exitMs)} ms`,
      );
      assert.equal(code, 0);
      assert.ok(exitMs < _SHUTDOWN_MS_MAX, `exited after ${Math.round(exitMs)} ms`);
      const failures = server.lines.filter((line) => line.includes("result: fail"));
      assert.deepEqual(failures, [], "a requested shutdown logs no fail line");
      assert.ok(
        server.lines.some((line) =>
          isLine(line, "consulta_ganadores", "in_progress") && line.includes("reason: ")
        ),
        "the refused winners query is logged in_progress with a reason",
      );
      const reply = await waiting.receive();
      assert.ok(
        reply.type === MessageType.error && reply.code === ErrorCode.shuttingDown,
        `winners query answered ${JSON.stringify(reply)}`,
      );
      const batchReply = await partialBatch.receive();
      assert.ok(
        batchReply.type === MessageType.error && batchReply.code === ErrorCode.shuttingDown,
      );
      assert.equal(server.lines.filter((line) => isLine(line, "close_connection")).length, 5);
      assert.ok(isLine(server.lines.at(-1)!, "shutdown"), "shutdown last");
      waiting.close();
      partialBatch.close();
    } finally {
      for (const conn of peers) {
        try {
          conn.close();
        } catch {
          // closed by the server's end
        }
      }
      await server.stop();
    }
  });
});
