/**
 * The benchmark's floor: the same agency files moved over TCP on 127.0.0.1
 * with no parsing, no validation and no durability. Senders cut each file
 * into length-prefixed frames of at most 8 KiB (u32 length + raw bytes); the
 * server appends every frame's bytes to one file (no fsync). Like the draw,
 * it answers only once it has read every connection to its end: then each
 * gets how many bytes were appended for it, all at once. The time from that
 * moment (`all_in_ms`) to the senders' last answer is the floor of the
 * winners fan-out. Like the lottery server and the load generator, it closes
 * connections once every answer is written, and a sender closes its
 * connections once every answer it waits for came.
 *
 * deno run --allow-net=127.0.0.1 --allow-write=FILE bench/baseline.ts serve --out FILE --connections N
 * deno run --allow-net=127.0.0.1 --allow-read=DIR bench/baseline.ts send --port P --data DIR \
 *   --first A --last B [--concurrency 50]
 *
 * The server logs its port, then exits after N connections with a
 * `baseline_stored` line (with `all_in_ms`, epoch ms); each sender logs a
 * `baseline_sent` line with the bytes the server confirmed and when its last
 * answer came (`last_answer_ms`), and exits 1 when the bytes differ from the
 * file.
 */

import { parseArgs } from "node:util";
import { BufferedReader } from "../lib/protocol/buffered_reader.ts";
import { writeAll } from "../lib/runtime/write_all.ts";
import { CLIENT_FRAME_BYTES_MAX } from "../lib/limits.ts";
import { Logger } from "../lib/runtime/log.ts";
import { agencyFilePath } from "./bench_data.ts";
import { nowMs } from "./watched_process.ts";
import { wholeNumberFlag, withoutTaskSeparator } from "../lib/runtime/task_args.ts";
import { requiredNumberFlag } from "./flags.ts";
import { runProgram } from "../lib/runtime/program.ts";
import { agencyRange, runPool } from "./pool.ts";

const _USAGE = `Usage: baseline.ts serve --out FILE --connections N
       baseline.ts send --port P --data DIR --first A --last B [--concurrency 50]`;

/** Bytes of a frame's length prefix. */
const _PREFIX_BYTES = 4;
/** Payload bytes per frame, so that a whole frame is at most the client's 8 KiB. */
const _PAYLOAD_BYTES_MAX = CLIENT_FRAME_BYTES_MAX - _PREFIX_BYTES;
/** Frames built per file read (one socket write each time). */
const _FRAMES_PER_WRITE = 8;
/** Connections a serve process accepts at most. */
const _CONNECTIONS_MAX = 100_000;
/** Senders' agencies connected at once when not told. */
const _CONCURRENCY_DEFAULT = 50;

/** Parsed command line of either mode. */
export type BaselineOptions =
  | { mode: "serve"; out: string; connections: number }
  | { mode: "send"; port: number; data: string; first: number; last: number; concurrency: number };

/**
 * Parses the command line.
 * @throws {RangeError} or {TypeError} on a bad, missing or unknown flag or mode
 */
export function parseBaselineArgs(args: string[]): BaselineOptions | "help" {
  const { values, positionals } = parseArgs({
    args: withoutTaskSeparator(args),
    options: {
      out: { type: "string" },
      connections: { type: "string" },
      port: { type: "string" },
      data: { type: "string" },
      first: { type: "string" },
      last: { type: "string" },
      concurrency: { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return "help";
  const mode = positionals[0];
  if (mode === "serve") {
    if (values.out === undefined) throw new RangeError("--out is required");
    return {
      mode,
      out: values.out,
      connections: requiredNumberFlag(values.connections, "--connections", 1, _CONNECTIONS_MAX),
    };
  }
  if (mode === "send") {
    if (values.data === undefined) throw new RangeError("--data is required");
    const first = requiredNumberFlag(values.first, "--first", 1, _CONNECTIONS_MAX);
    return {
      mode,
      port: requiredNumberFlag(values.port, "--port", 1, 65_535),
      data: values.data,
      first,
      last: requiredNumberFlag(values.last, "--last", first, _CONNECTIONS_MAX),
      concurrency: wholeNumberFlag(
        values.concurrency,
        "--concurrency",
        _CONCURRENCY_DEFAULT,
        1,
        _CONNECTIONS_MAX,
      ),
    };
  }
  throw new RangeError(`mode "${mode ?? ""}" is not serve or send`);
}

/**
 * Appends one connection's frames to the file; once `allIn` resolves, answers
 * the bytes appended.
 * @param onEnd called when the sender closed its side
 * @returns the bytes appended
 */
async function _receive(
  conn: Deno.TcpConn,
  file: Deno.FsFile,
  onEnd: () => void,
  allIn: Promise<void>,
): Promise<number> {
  const reader = new BufferedReader(conn);
  let bytes = 0;
  while (true) {
    const prefix = await reader.readExact(_PREFIX_BYTES, "frame length");
    if (prefix === null) break;
    const length = new DataView(prefix.buffer).getUint32(0);
    if (length > _PAYLOAD_BYTES_MAX) {
      throw new RangeError(`frame of ${length} bytes exceeds ${_PAYLOAD_BYTES_MAX}`);
    }
    const payload = await reader.readExact(length, "frame payload");
    if (payload === null) throw new Error("stream ended before a frame payload");
    // O_APPEND: each write lands whole at the end, whatever other connections do.
    await writeAll(file, payload);
    bytes += length;
  }
  onEnd();
  await allIn;
  const reply = new Uint8Array(8);
  new DataView(reply.buffer).setFloat64(0, bytes);
  await writeAll(conn, reply);
  return bytes;
}

/** Serves `connections` senders, then closes. */
async function _serve(out: string, connections: number, logger: Logger): Promise<void> {
  using file = await Deno.open(out, { append: true, create: true, truncate: false });
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  logger.info("listen", "success", { ip: "127.0.0.1", port: listener.addr.port });
  const served: Promise<number>[] = [];
  const allIn = Promise.withResolvers<void>();
  let ended = 0;
  let allInMs = 0;
  const onEnd = () => {
    ended += 1;
    if (ended < connections) return;
    allInMs = nowMs();
    allIn.resolve();
  };
  const conns: Deno.TcpConn[] = [];
  for (let accepted = 0; accepted < connections; accepted += 1) {
    const conn = await listener.accept();
    conn.setNoDelay(true);
    conns.push(conn);
    served.push(_receive(conn, file, onEnd, allIn.promise));
  }
  const counts = await Promise.all(served).finally(() => {
    for (const conn of conns) conn.close();
  });
  logger.info("baseline_stored", "success", {
    connections,
    bytes: counts.reduce((sum, count) => sum + count, 0),
    all_in_ms: allInMs.toFixed(3),
  });
}

/** A sent file: its bytes and the server's answer to come. */
interface _Sent {
  sent: number;
  /** The bytes the server confirmed and when they arrived (epoch ms). */
  answer: Promise<{ confirmed: number; answeredMs: number }>;
}

/**
 * Sends one file and closes its side; the answer comes after every sender's.
 * @param open holds the connection, for the caller to close
 */
async function _sendFile(port: number, path: string, open: Set<Deno.TcpConn>): Promise<_Sent> {
  using file = await Deno.open(path, { read: true });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  open.add(conn);
  conn.setNoDelay(true);
  const frames = new Uint8Array(_FRAMES_PER_WRITE * CLIENT_FRAME_BYTES_MAX);
  const view = new DataView(frames.buffer);
  let sent = 0;
  while (true) {
    let used = 0;
    for (let frame = 0; frame < _FRAMES_PER_WRITE; frame += 1) {
      const payload = frames.subarray(used + _PREFIX_BYTES, used + CLIENT_FRAME_BYTES_MAX);
      const count = await file.read(payload);
      if (count === null) break;
      view.setUint32(used, count);
      used += _PREFIX_BYTES + count;
      sent += count;
    }
    if (used === 0) break;
    await writeAll(conn, frames.subarray(0, used));
  }
  await conn.closeWrite();
  const answer = new BufferedReader(conn).readExact(8, "byte count").then((reply) => {
    const answeredMs = nowMs();
    if (reply === null) throw new Error("server closed without a byte count");
    return { confirmed: new DataView(reply.buffer).getFloat64(0), answeredMs };
  });
  return { sent, answer };
}

async function _send(
  options: Extract<BaselineOptions, { mode: "send" }>,
  logger: Logger,
): Promise<boolean> {
  let ok = true;
  let bytes = 0;
  let lastAnswerMs = 0;
  const open = new Set<Deno.TcpConn>();
  // A sender waits for its answer off the pool: answers come only after all sent.
  const answers: Promise<void>[] = [];
  try {
    await runPool(agencyRange(options.first, options.last), options.concurrency, async (agency) => {
      const path = agencyFilePath(options.data, agency);
      const { sent, answer } = await _sendFile(options.port, path, open);
      answers.push(answer.then(({ confirmed, answeredMs }) => {
        bytes += confirmed;
        lastAnswerMs = Math.max(lastAnswerMs, answeredMs);
        if (sent !== confirmed) {
          ok = false;
          logger.error("baseline_sent", "fail", { agency, sent, confirmed });
        }
      }));
    });
    await Promise.all(answers);
  } finally {
    // Every answer came, or a failure: the server answers no one until
    // everyone sent, so closing also releases what waits.
    for (const conn of open) conn.close();
    await Promise.allSettled(answers);
  }
  logger.info("baseline_sent", ok ? "success" : "fail", {
    first: options.first,
    last: options.last,
    bytes,
    last_answer_ms: lastAnswerMs.toFixed(3),
  });
  return ok;
}

/** Serves or sends; returns the exit code. */
async function _main(options: BaselineOptions): Promise<number> {
  const logger = new Logger("INFO");
  try {
    if (options.mode === "serve") await _serve(options.out, options.connections, logger);
    else if (!(await _send(options, logger))) return 1;
    return 0;
  } catch (error) {
    logger.error(options.mode === "serve" ? "baseline_stored" : "baseline_sent", "fail", {
      error: (error as Error).message,
    });
    return 1;
  }
}

if (import.meta.main) await runProgram("baseline", _USAGE, parseBaselineArgs, _main);
