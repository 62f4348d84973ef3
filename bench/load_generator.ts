/**
 * Drives many agencies from one process over the real protocol (scenario c):
 * each agency scans its file and packs batches the way the client does
 * (AgencyRowScanner + BatchBuilder.addRow),
 * keeps a bounded window of unacknowledged batches, sends `finished` and the
 * winners query, and checks that the winners are exactly the winning rows of
 * its file. At most `--concurrency` agencies upload at once; an agency that
 * finished keeps its connection open until its winners arrive (the draw waits
 * for every agency), so the server sees up to last - first + 1 connections.
 * With `--connect-first`, every agency of the process connects and says hello
 * before any uploads (at most `--connect-concurrency` handshakes at once, so
 * the server's accept queue is not overrun), then they upload `--concurrency`
 * at a time over the connections already open (scenario e: 10,000 agencies
 * connected within about a second).
 * They close together once every agency of the process has its answer:
 * closing a socket costs tens of µs here, and closing each as its answer
 * arrived would hold back the reading of the answers behind it in this one
 * process, a cost agencies on machines of their own do not pay.
 *
 * deno run --allow-net=127.0.0.1 --allow-read=DIR bench/load_generator.ts \
 *   --port P --data DIR --first 1 --last 500 [--max-amount 100] [--window 64] [--concurrency 50]
 *   [--connect-first] [--connect-concurrency 256]
 *
 * Prints a `load_summary` log line with epoch-millisecond timestamps of the
 * last `finished` sent and the last winners answer received, the first
 * connect and the last helloAck, and the longest connect → helloAck wait;
 * exits 1 when an agency failed.
 */

import { parseArgs } from "node:util";
import { AgencyRowScanner, type SkippedRow } from "../lib/bet/agency_row_scanner.ts";
import { WINNER_NUMBER } from "../lib/bet/bet.ts";
import { dateNumber } from "../lib/bet/bet_bytes.ts";
import { BatchBuilder } from "../lib/client/batch_builder.ts";
import { BufferedReader } from "../lib/protocol/buffered_reader.ts";
import { writeAll } from "../lib/runtime/write_all.ts";
import { concatBytes } from "../lib/runtime/bytes.ts";
import { closeQuietly } from "../lib/runtime/close_quietly.ts";
import {
  AGENCIES_MAX,
  BATCH_BETS_DEFAULT,
  BATCH_BETS_MAX,
  BATCH_WINDOW_DEFAULT,
  BATCH_WINDOW_MAX,
  CLIENT_FRAME_BYTES_MAX,
  FILE_CHUNK_BYTES,
  UPLOAD_REPLY_BYTES_MAX,
} from "../lib/limits.ts";
import { Logger } from "../lib/runtime/log.ts";
import {
  decodeMessage,
  encodeMessage,
  type Frame,
  type Message,
} from "../lib/protocol/message_codec.ts";
import { errorCodeName, MessageType } from "../lib/protocol/protocol.ts";
import { agencyFilePath } from "./bench_data.ts";
import { wholeNumberFlag, withoutTaskSeparator } from "../lib/runtime/task_args.ts";
import { requiredNumberFlag } from "./flags.ts";
import { runProgram } from "../lib/runtime/program.ts";
import { agencyRange, runPool } from "./pool.ts";
import { nowMs } from "./watched_process.ts";

const _USAGE = `Usage: load_generator.ts --port P --data DIR --first A --last B
  [--max-amount ${BATCH_BETS_DEFAULT}] [--window ${BATCH_WINDOW_DEFAULT}] [--concurrency 50]
  [--connect-first] [--connect-concurrency 256]`;

/** Agencies uploading at once per process when not told. */
const _CONCURRENCY_DEFAULT = 50;
/** Upper bound for --concurrency: bounds memory (concurrency × window × 8 KiB). */
const _CONCURRENCY_MAX = 1024;
/** Handshakes (connect + hello) in flight at once with --connect-first when
 * not told: 4 processes × 256 stay within config/server.ini's accept queue
 * of 1,024, so no SYN waits on a retransmit. */
const _CONNECT_CONCURRENCY_DEFAULT = 256;
/** Upper bound for --connect-concurrency: the kernel caps accept queues at
 * net.core.somaxconn (4,096 here) anyway. */
const _CONNECT_CONCURRENCY_MAX = 4096;

/** What a load generator process runs. */
export interface LoadOptions {
  port: number;
  /** Folder with agency-<k>.csv files. */
  data: string;
  first: number;
  last: number;
  maxAmount: number;
  window: number;
  concurrency: number;
  /** Every agency connects and says hello before any uploads. */
  connectFirst: boolean;
  /** Handshakes at once while connecting first. */
  connectConcurrency: number;
}

/**
 * Parses the command line.
 * @throws {RangeError} or {TypeError} on a bad, missing or unknown flag
 */
export function parseLoadArgs(args: string[]): LoadOptions | "help" {
  const { values } = parseArgs({
    args: withoutTaskSeparator(args),
    options: {
      port: { type: "string" },
      data: { type: "string" },
      first: { type: "string" },
      last: { type: "string" },
      "max-amount": { type: "string" },
      window: { type: "string" },
      concurrency: { type: "string" },
      "connect-first": { type: "boolean" },
      "connect-concurrency": { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return "help";
  if (values.data === undefined) throw new RangeError("--data is required");
  const first = requiredNumberFlag(values.first, "--first", 1, AGENCIES_MAX);
  return {
    port: requiredNumberFlag(values.port, "--port", 1, 65_535),
    data: values.data,
    first,
    last: requiredNumberFlag(values.last, "--last", first, AGENCIES_MAX),
    maxAmount: wholeNumberFlag(
      values["max-amount"],
      "--max-amount",
      BATCH_BETS_DEFAULT,
      1,
      BATCH_BETS_MAX,
    ),
    window: wholeNumberFlag(values.window, "--window", BATCH_WINDOW_DEFAULT, 1, BATCH_WINDOW_MAX),
    concurrency: wholeNumberFlag(
      values.concurrency,
      "--concurrency",
      _CONCURRENCY_DEFAULT,
      1,
      _CONCURRENCY_MAX,
    ),
    connectFirst: values["connect-first"] === true,
    connectConcurrency: wholeNumberFlag(
      values["connect-concurrency"],
      "--connect-concurrency",
      _CONNECT_CONCURRENCY_DEFAULT,
      1,
      _CONNECT_CONCURRENCY_MAX,
    ),
  };
}

/** What the whole process did. */
export interface LoadSummary {
  agencies: number;
  bets: number;
  /** Epoch ms of the last `finished` sent, 0 when none. */
  lastFinishedMs: number;
  /** Epoch ms of the last winners answer received, 0 when none. */
  lastWinnersMs: number;
  /** Longest connect → helloAck of an agency: long ones mean a full accept queue. */
  helloMaxMs: number;
  /** Epoch ms of the first connect started, 0 when none. */
  firstConnectMs: number;
  /** Epoch ms of the last helloAck received, 0 when none. */
  lastHelloMs: number;
}

const _decoder = new TextDecoder();

/** File chunks of agencies done uploading, for the next ones: at most
 * `--concurrency` exist, so thousands of small agencies do not each allocate
 * a 256 KiB chunk. The scanner copies what it is given. */
const _spareChunks: Uint8Array[] = [];

function _describe(message: Message): string {
  if (message.type === MessageType.error) {
    return `error ${errorCodeName(message.code)}: ${message.text}`;
  }
  if (message.type === MessageType.batchNack) {
    return `batchNack ${errorCodeName(message.code)}: ${message.reason}`;
  }
  return `message type ${message.type}`;
}

async function _readFrame(reader: BufferedReader): Promise<Frame> {
  const frame = await reader.readFrame(UPLOAD_REPLY_BYTES_MAX);
  if (frame === null) throw new Error("server closed the connection");
  return frame;
}

async function _read(reader: BufferedReader): Promise<Message> {
  return decodeMessage(await _readFrame(reader));
}

function _sameDocuments(got: readonly string[], expected: readonly string[]): boolean {
  if (got.length !== expected.length) return false;
  const sortedGot = [...got].sort();
  const sortedExpected = [...expected].sort();
  return sortedGot.every((document, index) => document === sortedExpected[index]);
}

/** One agency's connection from hello to its winners. */
class _Agency {
  readonly #options: LoadOptions;
  readonly agency: number;
  readonly #conn: Deno.TcpConn;
  readonly #reader: BufferedReader;
  /** Documents of the file's winning rows. */
  readonly #expected: string[] = [];
  #rows = 0;
  #confirmed = 0;
  #inFlight = 0;
  #pending: Uint8Array[] = [];

  constructor(options: LoadOptions, agency: number, conn: Deno.TcpConn) {
    this.#options = options;
    this.agency = agency;
    this.#conn = conn;
    this.#reader = new BufferedReader(conn);
  }

  get rows(): number {
    return this.#rows;
  }

  close(): void {
    closeQuietly(this.#conn);
  }

  /** Says hello; the store must know nothing of this agency yet. */
  async hello(): Promise<void> {
    await writeAll(this.#conn, encodeMessage({ type: MessageType.hello, agency: this.agency }));
    const hello = await _read(this.#reader);
    if (hello.type !== MessageType.helloAck || hello.storedBets !== 0) {
      throw new Error(`expected a helloAck for an empty store, got ${_describe(hello)}`);
    }
  }

  /**
   * Uploads the file and sends finished with the winners query.
   * @returns epoch ms when finished was sent
   */
  async upload(): Promise<number> {
    const builder = new BatchBuilder(this.#options.maxAmount, CLIENT_FRAME_BYTES_MAX, false);
    let badRow: SkippedRow | undefined;
    const scanner = new AgencyRowScanner(
      dateNumber(new Date()),
      (row) => {
        this.#rows += 1;
        if (row.number === WINNER_NUMBER) {
          this.#expected.push(_decoder.decode(row.bytes.subarray(row.starts[2]!, row.ends[2]!)));
        }
        const batch = builder.addRow(row);
        if (batch !== undefined) this.#pending.push(batch.frame);
      },
      (row) => badRow ??= row,
    );
    using file = await Deno.open(agencyFilePath(this.#options.data, this.agency), { read: true });
    const chunk = _spareChunks.pop() ?? new Uint8Array(FILE_CHUNK_BYTES);
    try {
      while (true) {
        const count = await file.read(chunk);
        if (count === null) break;
        scanner.push(chunk.subarray(0, count));
        await this.#send();
      }
    } finally {
      _spareChunks.push(chunk);
    }
    scanner.end();
    if (badRow !== undefined) {
      throw new Error(`line ${badRow.lineNumber} of the data file is bad: ${badRow.reason}`);
    }
    const last = builder.flush();
    if (last !== undefined) this.#pending.push(last.frame);
    await this.#send();
    while (this.#inFlight > 0) await this.#awaitAck();
    if (this.#confirmed !== this.#rows) {
      throw new Error(`server confirmed ${this.#confirmed} bets of ${this.#rows}`);
    }
    const finishedMs = nowMs();
    await writeAll(
      this.#conn,
      concatBytes([
        encodeMessage({ type: MessageType.finished, total: this.#confirmed }),
        encodeMessage({ type: MessageType.winnersQuery }),
      ]),
    );
    return finishedMs;
  }

  /**
   * Waits for the winners answer; checking it is left to {@link check}, so
   * that answers arriving together are stamped as they arrive, not one
   * decode and comparison after another.
   * @returns epoch ms when it arrived, and the answer's frame
   */
  async winners(): Promise<{ arrivedMs: number; frame: Frame }> {
    const frame = await _readFrame(this.#reader);
    return { arrivedMs: nowMs(), frame };
  }

  /**
   * Checks a winners answer against the file's winning rows.
   * @throws {Error} when it is not a winners answer with exactly those documents
   */
  check(frame: Frame): void {
    const reply = decodeMessage(frame);
    if (reply.type !== MessageType.winners) {
      throw new Error(`expected winners, got ${_describe(reply)}`);
    }
    if (!_sameDocuments(reply.documents, this.#expected)) {
      throw new Error(
        `got ${reply.documents.length} winners, the file has ${this.#expected.length} winning rows` +
          " (or the documents differ)",
      );
    }
  }

  /** Writes the pending batches, never more than the window unacknowledged. */
  async #send(): Promise<void> {
    let next = 0;
    while (next < this.#pending.length) {
      while (this.#inFlight >= this.#options.window) await this.#awaitAck();
      // As the client: acks that came with the one awaited free their batches
      // for this same write.
      while (this.#inFlight > 0 && this.#reader.hasWholeFrame) await this.#awaitAck();
      const slice = this.#pending.slice(next, next + this.#options.window - this.#inFlight);
      next += slice.length;
      this.#inFlight += slice.length;
      await writeAll(this.#conn, concatBytes(slice));
    }
    this.#pending = [];
  }

  async #awaitAck(): Promise<void> {
    const reply = await _read(this.#reader);
    if (reply.type !== MessageType.batchAck) {
      throw new Error(`a batch was answered with ${_describe(reply)}`);
    }
    this.#confirmed += reply.count;
    this.#inFlight -= 1;
  }
}

/**
 * Runs every agency of the range; on the first failure closes every
 * connection and rethrows.
 * @throws {Error} naming the agency that failed and why
 */
export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  const open = new Set<_Agency>();
  const waiting: Promise<void>[] = [];
  const answers: { entry: _Agency; frame: Frame }[] = [];
  const summary: LoadSummary = {
    agencies: 0,
    bets: 0,
    lastFinishedMs: 0,
    lastWinnersMs: 0,
    helloMaxMs: 0,
    firstConnectMs: 0,
    lastHelloMs: 0,
  };
  let failure: { error: Error } | undefined;
  const fail = (agency: number, error: unknown) => {
    failure ??= { error: new Error(`agency ${agency}: ${(error as Error).message}`) };
    for (const entry of open) entry.close();
  };
  const connect = async (agency: number): Promise<_Agency> => {
    const connectMs = nowMs();
    if (summary.firstConnectMs === 0) summary.firstConnectMs = connectMs;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: options.port });
    conn.setNoDelay(true);
    const entry = new _Agency(options, agency, conn);
    open.add(entry);
    await entry.hello();
    const helloMs = nowMs();
    summary.helloMaxMs = Math.max(summary.helloMaxMs, helloMs - connectMs);
    summary.lastHelloMs = Math.max(summary.lastHelloMs, helloMs);
    return entry;
  };
  const upload = async (entry: _Agency) => {
    summary.lastFinishedMs = Math.max(summary.lastFinishedMs, await entry.upload());
    summary.bets += entry.rows;
    waiting.push(
      entry.winners().then(({ arrivedMs, frame }) => {
        summary.lastWinnersMs = Math.max(summary.lastWinnersMs, arrivedMs);
        answers.push({ entry, frame });
      }, (error) => fail(entry.agency, error)),
    );
  };
  const guarded = <T>(agency: number, task: () => Promise<T>) =>
    task().catch((error) => {
      fail(agency, error);
      throw error;
    });
  const agencies = agencyRange(options.first, options.last);
  if (options.connectFirst) {
    const connected = new Map<number, _Agency>();
    await runPool(agencies, options.connectConcurrency, async (agency) => {
      connected.set(agency, await guarded(agency, () => connect(agency)));
    }).catch(() => {});
    if (failure === undefined) {
      await runPool(
        agencies,
        options.concurrency,
        (agency) => guarded(agency, () => upload(connected.get(agency)!)),
      ).catch(() => {});
    }
  } else {
    await runPool(
      agencies,
      options.concurrency,
      (agency) => guarded(agency, async () => upload(await connect(agency))),
    ).catch(() => {});
  }
  await Promise.all(waiting);
  for (const entry of open) entry.close();
  for (const { entry, frame } of answers) {
    try {
      entry.check(frame);
      summary.agencies += 1;
    } catch (error) {
      fail(entry.agency, error);
    }
  }
  if (failure !== undefined) throw failure.error;
  return summary;
}

/** Runs the load and logs its summary; returns the exit code. */
async function _main(options: LoadOptions): Promise<number> {
  const logger = new Logger("INFO");
  const startedMs = nowMs();
  try {
    const summary = await runLoad(options);
    logger.info("load_summary", "success", {
      first: options.first,
      last: options.last,
      agencies: summary.agencies,
      bets: summary.bets,
      last_finished_ms: summary.lastFinishedMs.toFixed(3),
      last_winners_ms: summary.lastWinnersMs.toFixed(3),
      hello_max_ms: summary.helloMaxMs.toFixed(1),
      first_connect_ms: summary.firstConnectMs.toFixed(3),
      last_hello_ms: summary.lastHelloMs.toFixed(3),
      elapsed_ms: Math.round(nowMs() - startedMs),
    });
    return 0;
  } catch (error) {
    logger.error("load_summary", "fail", {
      first: options.first,
      last: options.last,
      error: (error as Error).message,
    });
    return 1;
  }
}

if (import.meta.main) await runProgram("load_generator", _USAGE, parseLoadArgs, _main);
