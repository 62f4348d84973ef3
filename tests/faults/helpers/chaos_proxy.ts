/**
 * A TCP proxy on 127.0.0.1 that drops connections in the middle of the byte
 * stream: each of the first `cutConnections` connections is cut (both sides
 * closed) after a random number of bytes in one direction, mostly in the
 * middle of a frame. Later connections pass untouched, so work can finish.
 */

import { writeAll } from "../../../lib/runtime/write_all.ts";
import { closeQuietly } from "../../../lib/runtime/close_quietly.ts";
import type { Rng } from "./trials.ts";

/** A running proxy. */
export interface ChaosProxy {
  port: number;
  /** Connections cut so far. */
  readonly cuts: number;
  close(): Promise<void>;
}

/**
 * Starts a proxy to `targetPort`.
 * @param cutConnections how many connections to cut
 * @param bytesMax largest byte budget of a cut direction
 */
export function startChaosProxy(
  targetPort: number,
  rng: Rng,
  cutConnections: number,
  bytesMax: number,
): ChaosProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pipes = new Set<Promise<void>>();
  const open = new Set<Deno.Conn>();
  let accepted = 0;
  let cuts = 0;
  const serve = async (client: Deno.Conn, index: number) => {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
    } catch {
      closeQuietly(client);
      return;
    }
    open.add(client).add(server);
    const cutHere = index < cutConnections;
    const upstreamBudget = cutHere && rng.chance(0.5) ? rng.int(1, bytesMax) : Infinity;
    const downstreamBudget = cutHere && upstreamBudget === Infinity
      ? rng.int(1, bytesMax)
      : Infinity;
    let closed = false;
    const closeBoth = (cut: boolean) => {
      if (closed) return;
      closed = true;
      if (cut) cuts += 1;
      for (const conn of [client, server]) {
        open.delete(conn);
        closeQuietly(conn);
      }
    };
    const pump = async (from: Deno.Conn, to: Deno.Conn, budget: number) => {
      const buffer = new Uint8Array(4096);
      let left = budget;
      try {
        while (true) {
          const count = await from.read(buffer);
          if (count === null) break;
          const take = Math.min(count, left);
          await writeAll(to, buffer.subarray(0, take));
          left -= take;
          if (left <= 0) return closeBoth(true);
        }
      } catch {
        // the other pump closed both sides
      }
      closeBoth(false);
    };
    await Promise.all([
      pump(client, server, upstreamBudget),
      pump(server, client, downstreamBudget),
    ]);
  };
  const accepting = (async () => {
    for await (const client of listener) {
      const pipe = serve(client, accepted);
      accepted += 1;
      pipes.add(pipe);
      pipe.finally(() => pipes.delete(pipe));
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    get cuts() {
      return cuts;
    },
    close: async () => {
      closeQuietly(listener);
      await accepting;
      for (const conn of open) closeQuietly(conn);
      await Promise.all(pipes);
    },
  };
}
