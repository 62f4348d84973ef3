/**
 * The soak's abuse run against the real server process: for a bounded
 * number of minutes, honest agencies upload (a new one every 2 s, each then
 * waiting for the draw) while peers park near-maximal frames, trickle bytes
 * (slowloris), flood connections and send malformed frames. Server RSS is
 * sampled every second. At the end every honest bet is stored exactly once
 * and RSS stayed under the bound; the peak and final RSS are printed.
 *
 * Minutes: `--abuse-minutes=<m>` after `--` (`deno task soak --abuse-minutes=5`),
 * else ABUSE_MINUTES, else 2 under the soak (FAULT_SCALE set) and 0.1 otherwise.
 */

import assert from "node:assert/strict";
import { startLocalServer } from "../../lib/dev/local_cluster.ts";
import { FRAME_BYTES_MAX_DEFAULT } from "../../lib/limits.ts";
import { FRAME_HEADER_BYTES, FRAME_MARKER, MessageType } from "../../lib/protocol/protocol.ts";
import { frameHeader } from "../helpers/raw_agency.ts";
import { localBetsPath } from "../helpers/storage.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { assertStoreHoldsExactly, writeAgencyData } from "./helpers/agency_data.ts";
import { assertUploadsExact, type RunningUpload, startUpload } from "./helpers/uploads.ts";

/** Longest abuse run accepted: an hour; longer is a typo. */
const _MINUTES_MAX = 60;
/** Server RSS allowed during the run (the same bound as for 1,024 parked frames). */
const _RSS_BYTES_MAX = 300 * 1024 * 1024;
const _NEW_AGENCY_EVERY_MS = 2_000;
const _PARKED = 200;
const _SLOWLORIS = 20;
const _FLOOD_PER_SECOND = 200;
const _IDLE_MS = 2_000;

/** The run's length from the flag, the environment or the default. */
export function abuseMinutes(
  args: readonly string[],
  env: (name: string) => string | undefined,
): number {
  const flag = args.find((arg) => arg.startsWith("--abuse-minutes="));
  const text = flag?.slice("--abuse-minutes=".length) ?? env("ABUSE_MINUTES");
  const minutes = text === undefined ? (env("FAULT_SCALE") === undefined ? 0.1 : 2) : Number(text);
  if (!(minutes > 0 && minutes <= _MINUTES_MAX)) {
    throw new RangeError(`abuse minutes "${text}" is not a number in (0, ${_MINUTES_MAX}]`);
  }
  return minutes;
}

async function vmRss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Connects, writes `bytes`, then `trickle` a byte every `everyMs`, until closed or stopped. */
async function abuser(
  port: number,
  bytes: Uint8Array,
  trickle: Uint8Array | undefined,
  everyMs: number,
  stop: AbortSignal,
): Promise<void> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return; // refused at the cap or the backlog: that is the flood working
  }
  const onStop = () => conn.close();
  stop.addEventListener("abort", onStop, { once: true });
  const draining = (async () => {
    const buffer = new Uint8Array(4096);
    while ((await conn.read(buffer).catch(() => null)) !== null);
  })();
  try {
    for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset));
    for (let index = 0; trickle !== undefined && !stop.aborted; index += 1) {
      await new Promise((resolve) => setTimeout(resolve, everyMs));
      await conn.write(trickle.subarray(index % trickle.length, index % trickle.length + 1));
    }
    await draining;
  } catch {
    // closed by the server (idle timeout, refusal) or by stop
  } finally {
    stop.removeEventListener("abort", onStop);
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

/** Keeps `count` copies of `run` going until `stop`. */
function keep(count: number, run: () => Promise<void>, stop: AbortSignal): Promise<void>[] {
  return Array.from({ length: count }, async () => {
    while (!stop.aborted) await run();
  });
}

Deno.test("abuse soak: honest agencies stored exactly once while parked frames, slowloris, floods and malformed frames go on; server RSS stays under 300 MB", async () => {
  const minutes = abuseMinutes(Deno.args, (name) => Deno.env.get(name));
  const durationMs = minutes * 60_000;
  const agencies = Math.ceil(durationMs / _NEW_AGENCY_EVERY_MS) + 1;
  await withTempDir(async (dir) => {
    const data = await writeAgencyData(
      dir,
      Array.from({ length: agencies }, () => ({ bets: 400, winners: 1 })),
      15,
    );
    const server = await startLocalServer({
      STORAGE_DIR: dir,
      AGENCIES: String(agencies),
      CONNECTIONS_MAX: "1024",
      IDLE_TIMEOUT: `${_IDLE_MS}ms`,
      SERVER_LISTEN_BACKLOG: "1024",
    });
    const pid = server.process.pid;
    const stop = new AbortController();
    const samples: number[] = [await vmRss(pid)];
    const sampler = setInterval(() => vmRss(pid).then((rss) => samples.push(rss), () => {}), 1_000);
    const uploads: RunningUpload[] = [];
    try {
      const parkedFrame = new Uint8Array(FRAME_HEADER_BYTES + FRAME_BYTES_MAX_DEFAULT - 2);
      parkedFrame.set(frameHeader(MessageType.hello, FRAME_BYTES_MAX_DEFAULT - 1));
      const malformed = [
        frameHeader(MessageType.hello, 0xffff_ffff),
        frameHeader(MessageType.hello, 10, 255),
        frameHeader(200, 0),
        Uint8Array.of(FRAME_MARKER, ...crypto.getRandomValues(new Uint8Array(64))),
        frameHeader(MessageType.batch, 8),
      ];
      let malformedSent = 0;
      const abusers = [
        ...keep(
          _PARKED,
          () => abuser(server.port, parkedFrame, undefined, 0, stop.signal),
          stop.signal,
        ),
        ...keep(
          _SLOWLORIS,
          () =>
            abuser(
              server.port,
              new Uint8Array(0),
              frameHeader(MessageType.hello, 100),
              200,
              stop.signal,
            ),
          stop.signal,
        ),
        ...keep(4, async () => {
          await abuser(
            server.port,
            malformed[malformedSent++ % malformed.length]!,
            undefined,
            0,
            stop.signal,
          );
        }, stop.signal),
      ];
      let floods = 0;
      const flooding = setInterval(() => {
        floods += 1;
        for (let index = 0; index < _FLOOD_PER_SECOND; index += 1) {
          abuser(server.port, new Uint8Array(0), undefined, 0, stop.signal);
        }
      }, 1_000);
      const started = Date.now();
      for (let agency = 1; agency <= agencies; agency += 1) {
        uploads.push(startUpload({
          agency,
          port: server.port,
          dataFile: data.files[agency - 1]!,
          batchMaxAmount: 20,
          batchWindow: 4,
          reconnectBudgetMs: 60_000,
        }));
        const nextAt = started + agency * _NEW_AGENCY_EVERY_MS;
        if (agency < agencies) {
          await new Promise((resolve) => setTimeout(resolve, nextAt - Date.now()));
        }
      }
      await assertUploadsExact(uploads, data.bets);
      clearInterval(flooding);
      stop.abort();
      await Promise.all(abusers);
      samples.push(await vmRss(pid));
      const peak = Math.max(...samples);
      const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
      console.log(
        `abuse_soak: ${minutes} min, ${agencies} honest agencies (${data.bets.length} bets), ${_PARKED} parked, ${_SLOWLORIS} slowloris, ${floods} floods of ${_FLOOD_PER_SECOND}, ${malformedSent} malformed; server RSS ${
          mib(samples[0]!)
        } MiB at start, ${mib(peak)} MiB peak, ${
          mib(samples.at(-1)!)
        } MiB at the end (${samples.length} samples, bound ${mib(_RSS_BYTES_MAX)})`,
      );
      assert.ok(peak <= _RSS_BYTES_MAX, `server RSS peaked at ${mib(peak)} MiB`);
    } finally {
      clearInterval(sampler);
      stop.abort();
      for (const upload of uploads) upload.abort();
      assert.equal(await server.stop(), 0);
    }
    await assertStoreHoldsExactly(localBetsPath(dir), data.bets);
  });
});

Deno.test("abuseMinutes() reads the flag, then ABUSE_MINUTES, and refuses 0 and more than an hour", () => {
  const none = () => undefined;
  assert.equal(abuseMinutes(["--abuse-minutes=3"], none), 3);
  assert.equal(abuseMinutes([], (name) => (name === "ABUSE_MINUTES" ? "0.5" : undefined)), 0.5);
  assert.equal(abuseMinutes([], (name) => (name === "FAULT_SCALE" ? "10" : undefined)), 2);
  assert.equal(abuseMinutes([], none), 0.1);
  assert.equal(abuseMinutes(["--abuse-minutes=60"], none), 60);
  assert.throws(() => abuseMinutes(["--abuse-minutes=0"], none), RangeError);
  assert.throws(() => abuseMinutes(["--abuse-minutes=61"], none), RangeError);
  assert.throws(() => abuseMinutes(["--abuse-minutes=x"], none), RangeError);
});
