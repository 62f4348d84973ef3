/** A free TCP port on loopback, for servers that cannot listen on port 0 and say which. */

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}
