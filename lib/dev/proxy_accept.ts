/**
 * The accept side shared by the loopback TCP proxies (throttle_proxy.ts, the
 * fault tests' replica proxy): each accepted connection is served on its
 * own; closing stops accepting, closes every connection still open and
 * waits for every one being served.
 */

import { closeQuietly } from "../runtime/close_quietly.ts";

/** Serves one accepted connection; `open` holds what close() must close. */
export type ProxyServe = (agency: Deno.TcpConn, open: Set<Deno.Conn>) => Promise<void>;

/**
 * Accepts on `listener` until closed.
 * @returns close(): stops accepting and closes every proxied connection; safe to call twice
 */
export function acceptProxied(
  listener: Deno.TcpListener,
  serve: ProxyServe,
): () => Promise<void> {
  const open = new Set<Deno.Conn>();
  const served = new Set<Promise<void>>();
  const accepting = (async () => {
    for await (const agency of listener) {
      const done = serve(agency, open).finally(() => served.delete(done));
      served.add(done);
    }
  })().catch(() => {});
  let closing: Promise<void> | undefined;
  return () =>
    closing ??= (async () => {
      closeQuietly(listener);
      await accepting;
      for (const conn of open) closeQuietly(conn);
      await Promise.all(served);
    })();
}
