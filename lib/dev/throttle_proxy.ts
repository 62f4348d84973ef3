/**
 * A TCP proxy on 127.0.0.1 that slows what agencies send to the server to a
 * fixed rate per connection, so an upload of a few kilobytes takes seconds
 * and the status page can be watched filling up (demo --upload-rate, the
 * browser and Prometheus tests). Answers from the server pass at full speed.
 * Half-closes are passed on, so a winners query still gets its answer.
 */

import { writeAll } from "../runtime/write_all.ts";
import { closeQuietly } from "../runtime/close_quietly.ts";
import { acceptProxied } from "./proxy_accept.ts";

/** A running proxy. */
export interface ThrottleProxy {
  /** Where agencies connect instead of the server. */
  port: number;
  /** Stops accepting and closes every proxied connection. Safe to call twice. */
  close(): Promise<void>;
}

/** Where the proxy forwards and how fast. */
export interface ThrottleOptions {
  /** The server's port on 127.0.0.1. */
  targetPort: number;
  /** Agency-to-server bytes per second, per connection. */
  bytesPerS: number;
}

/** Bytes read per step: about 20 steps a second, at most 16 KiB. */
function _chunkBytes(bytesPerS: number): number {
  return Math.max(1, Math.min(16 * 1024, Math.floor(bytesPerS / 20)));
}

/** Copies `from` to `to`; with a rate, never ahead of `bytesPerS` since the first byte. */
async function _pipe(
  from: Deno.TcpConn,
  to: Deno.TcpConn,
  bytesPerS: number | undefined,
): Promise<void> {
  const buffer = new Uint8Array(bytesPerS === undefined ? 64 * 1024 : _chunkBytes(bytesPerS));
  let sent = 0;
  let startedMs: number | undefined;
  try {
    while (true) {
      const count = await from.read(buffer);
      if (count === null) break;
      await writeAll(to, buffer.subarray(0, count));
      if (bytesPerS === undefined) continue;
      startedMs ??= performance.now();
      sent += count;
      // Rate control of the proxied stream, not synchronization: wait until
      // the bytes sent so far are due.
      const dueMs = startedMs + (sent * 1000) / bytesPerS - performance.now();
      if (dueMs > 0) await new Promise((resolve) => setTimeout(resolve, dueMs));
    }
    await to.closeWrite().catch(() => {});
  } catch {
    // A reset on either side ends both directions.
    closeQuietly(from);
    closeQuietly(to);
  }
}

/**
 * Starts a proxy on a free port of 127.0.0.1.
 * @throws {RangeError} when bytesPerS is not a whole number of at least 1
 */
export function startThrottleProxy(options: ThrottleOptions): ThrottleProxy {
  if (!Number.isInteger(options.bytesPerS) || options.bytesPerS < 1) {
    throw new RangeError(
      `Cannot throttle to ${options.bytesPerS} bytes/s: expected a whole number >= 1`,
    );
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const close = acceptProxied(listener, async (agency, open) => {
    let server: Deno.TcpConn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: options.targetPort });
    } catch {
      closeQuietly(agency);
      return;
    }
    open.add(agency).add(server);
    await Promise.all([
      _pipe(agency, server, options.bytesPerS),
      _pipe(server, agency, undefined),
    ]);
    for (const conn of [agency, server]) {
      open.delete(conn);
      closeQuietly(conn);
    }
  });
  return { port: listener.addr.port, close };
}
