import assert from "node:assert/strict";
import {
  closingOnce,
  type ConnectionContext,
  ServedConnection,
} from "../lib/server/served_connection.ts";
import { AgencyClaims } from "../lib/server/agency_claims.ts";
import type { Lottery } from "../lib/server/lottery.ts";
import type { BetLedger } from "../lib/store/bet_ledger.ts";
import { ReadBudget } from "../lib/protocol/read_budget.ts";
import { Logger } from "../lib/runtime/log.ts";
import { ErrorCode, MessageType } from "../lib/protocol/protocol.ts";
import { RawPeer } from "./helpers/raw_agency.ts";

/** Serves the next connection to `listener` with a server context; its log lines go to `lines`. */
async function _serveNext(
  listener: Deno.TcpListener,
  idleTimeoutMs: number,
  lines: string[],
): Promise<ServedConnection> {
  const logger = new Logger("INFO", (line) => lines.push(line));
  const context: ConnectionContext = {
    logger,
    idleTimeoutMs,
    metrics: undefined,
    readBudget: new ReadBudget(1 << 20),
    sessions: {
      ledger: {} as BetLedger,
      lottery: { agencies: 1 } as Lottery,
      logger,
      frameBytesMax: 1 << 16,
      shutdown: new AbortController().signal,
      agencySecrets: undefined,
      claims: new AgencyClaims(),
      metrics: undefined,
    },
  };
  const conn = await listener.accept();
  return new ServedConnection(conn, "127.0.0.1", {}, context);
}

Deno.test("ServedConnection tells a silent peer idleTimeout, closes, and logs the close", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lines: string[] = [];
  const peer = await RawPeer.connect(listener.addr.port);
  const served = await _serveNext(listener, 50, lines);
  const refusal = await peer.receive();
  assert.ok(refusal.type === MessageType.error && refusal.code === ErrorCode.idleTimeout);
  assert.equal(await peer.closedByServer(), true);
  peer.close();
  await served.done;
  assert.ok(lines.some((line) => line.includes("action: idle_timeout | result: fail")));
  assert.ok(lines.some((line) => line.includes("action: close_connection | result: success")));
});

Deno.test("ServedConnection.stopGently() tells a peer without a session shuttingDown and closes it", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peer = await RawPeer.connect(listener.addr.port);
  const served = await _serveNext(listener, 60_000, []);
  served.stopGently();
  const refusal = await peer.receive();
  assert.ok(refusal.type === MessageType.error && refusal.code === ErrorCode.shuttingDown);
  assert.equal(await peer.closedByServer(), true);
  peer.close();
  await served.done;
});

Deno.test("ServedConnection.stopGently() closes an echo peer without an error frame", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peer = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const served = await _serveNext(listener, 60_000, []);
  await peer.write(new TextEncoder().encode("hi\n"));
  const echoed = new Uint8Array(3);
  let got = 0;
  while (got < 3) got += (await peer.read(echoed.subarray(got))) ?? 3;
  assert.equal(new TextDecoder().decode(echoed), "hi\n");
  served.stopGently();
  const rest = new Uint8Array(16);
  assert.equal(await peer.read(rest), null, "closed with nothing more written");
  peer.close();
  await served.done;
});

Deno.test("closingOnce() closes the connection on the first close() only", () => {
  let closes = 0;
  const conn = closingOnce({
    read: () => Promise.resolve(null),
    write: (bytes) => Promise.resolve(bytes.length),
    closeWrite: () => Promise.resolve(),
    close: () => {
      closes += 1;
      if (closes > 1) throw new Deno.errors.BadResource("Bad resource ID");
    },
  });
  conn.close();
  conn.close();
  conn.close();
  assert.equal(closes, 1);
});
