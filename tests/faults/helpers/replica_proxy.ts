/**
 * A TCP proxy on 127.0.0.1 in front of several server replicas, standing in
 * for a swarm's routing mesh: each new connection goes to the next replica
 * in turn (round robin), skipping one that refuses the connection (killed,
 * not restarted yet). When either side ends or breaks, both are closed, so
 * an agency sees its replica's death as a lost connection and reconnects
 * through the proxy to another one.
 */

import { writeAll } from "../../../lib/runtime/write_all.ts";
import { closeQuietly } from "../../../lib/runtime/close_quietly.ts";
import { acceptProxied } from "../../../lib/dev/proxy_accept.ts";

/** A running proxy. */
export interface ReplicaProxy {
  /** Where agencies connect. */
  port: number;
  /** Sets replica `index`'s port; undefined while it is down. */
  setReplica(index: number, port: number | undefined): void;
  /** Connections handed to each replica index so far. */
  readonly routed: readonly number[];
  /** Connections closed at once because no replica accepted them. */
  readonly unrouted: number;
  /** Stops accepting and closes every proxied connection. */
  close(): Promise<void>;
}

/** Copies `from` to `to` until either ends; then closes both. */
async function _pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const count = await from.read(buffer);
      if (count === null) break;
      await writeAll(to, buffer.subarray(0, count));
    }
  } catch {
    // A reset or a close by the other pump: both sides end below.
  }
  closeQuietly(from);
  closeQuietly(to);
}

/**
 * Starts a proxy with `replicas` slots, all down until set.
 * @param replicas how many replica slots
 */
export function startReplicaProxy(replicas: number): ReplicaProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const ports: (number | undefined)[] = Array.from({ length: replicas }, () => undefined);
  const routed = Array.from({ length: replicas }, () => 0);
  let next = 0;
  let unrouted = 0;

  /** Connects to the next replica that accepts, starting after the last one used. */
  const connectNext = async (): Promise<Deno.Conn | undefined> => {
    for (let tried = 0; tried < replicas; tried += 1) {
      const index = next;
      next = (next + 1) % replicas;
      const port = ports[index];
      if (port === undefined) continue;
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        routed[index]! += 1;
        return conn;
      } catch {
        // Refused: this replica is dead; try the next.
      }
    }
    return undefined;
  };

  const close = acceptProxied(listener, async (agency, open) => {
    const replica = await connectNext();
    if (replica === undefined) {
      unrouted += 1;
      closeQuietly(agency);
      return;
    }
    open.add(agency).add(replica);
    await Promise.all([_pump(agency, replica), _pump(replica, agency)]);
    open.delete(agency);
    open.delete(replica);
  });
  return {
    port: listener.addr.port,
    setReplica: (index, port) => {
      ports[index] = port;
    },
    routed,
    get unrouted() {
      return unrouted;
    },
    close,
  };
}
