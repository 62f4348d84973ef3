/**
 * A log line is on the server's stdout before the reply that follows from it
 * leaves the server: whoever reads the logs in order (the course's checks read
 * `docker compose logs -f`) never sees an answer before its cause.
 *
 * The server's stdout is a file here, not a pipe: the moment the test holds a
 * reply, the file shows every line the server wrote before sending it.
 */

import assert from "node:assert/strict";
import { MessageType } from "../lib/protocol/protocol.ts";
import { permissionSetFlags, V8_FLAGS } from "../lib/runtime/runtime_flags.ts";
import { makeBets } from "./helpers/bets.ts";
import { RawPeer } from "./helpers/raw_agency.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const _SERVER = new URL("../server.ts", import.meta.url).pathname;
const _LISTEN_WAIT_MS_MAX = 30_000;
const _POLL_MS = 20;

interface FileLoggedServer {
  port: number;
  /** The server's stdout so far. */
  logged(): string;
  stop(): Promise<void>;
}

async function startServerLoggingToFile(dir: string): Promise<FileLoggedServer> {
  const logFile = `${dir}/server.log`;
  const process = new Deno.Command("sh", {
    args: [
      "-c",
      'exec "$0" "$@" > "$LOG_FILE" 2>&1',
      Deno.execPath(),
      "run",
      V8_FLAGS,
      ...permissionSetFlags("server"),
      _SERVER,
    ],
    env: {
      LOG_FILE: logFile,
      SERVER_CONFIG: new URL("../config/server.ini", import.meta.url).pathname,
      SERVER_PORT: "0",
      SERVER_IP: "127.0.0.1",
      ADMIN_PORT: "off",
      AGENCIES: "1",
      STORAGE_DIR: `${dir}/storage`,
    },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const logged = () => {
    try {
      return Deno.readTextFileSync(logFile);
    } catch {
      return "";
    }
  };
  const stop = async () => {
    try {
      process.kill("SIGTERM");
    } catch { /* exited */ }
    await process.status;
  };
  for (let waitedMs = 0; waitedMs < _LISTEN_WAIT_MS_MAX; waitedMs += _POLL_MS) {
    const match = / action: listen \| result: success \|.* port: (\d+)/.exec(logged());
    if (match !== null) return { port: Number(match[1]), logged, stop };
    await new Promise((resolve) => setTimeout(resolve, _POLL_MS));
  }
  await stop();
  throw new Error(`server did not listen within ${_LISTEN_WAIT_MS_MAX} ms:\n${logged()}`);
}

Deno.test("server logs receive_message before the echo reply leaves", async () => {
  await withTempDir(async (dir) => {
    const server = await startServerLoggingToFile(dir);
    try {
      const peer = await RawPeer.connect(server.port);
      await peer.sendBytes(new TextEncoder().encode("hola\n"));
      const line = await peer.reader.readLine(64);
      assert.equal(new TextDecoder().decode(line!), "hola\n");
      assert.match(server.logged(), /action: receive_message \| result: success \|.* msg: hola/);
      peer.close();
    } finally {
      await server.stop();
    }
  });
});

Deno.test(
  "server logs apuesta_recibida before the ack, sorteo and ganadores_enviados before the winners",
  async () => {
    await withTempDir(async (dir) => {
      const server = await startServerLoggingToFile(dir);
      try {
        const [peer, ack] = await RawPeer.hello(server.port, 1);
        assert.equal(ack.type, MessageType.helloAck);
        const bets = makeBets(1, 3, { winnersAt: [1] });
        await peer.send({ type: MessageType.batch, first: 0, bets });
        assert.equal((await peer.receive()).type, MessageType.batchAck);
        assert.match(server.logged(), /action: apuesta_recibida \| result: success \| cantidad: 3/);

        await peer.send({ type: MessageType.finished, total: 3 });
        await peer.send({ type: MessageType.winnersQuery });
        const winners = await peer.receive();
        assert.equal(winners.type, MessageType.winners);
        const logged = server.logged();
        assert.match(logged, /action: sorteo \| result: success/);
        assert.match(
          logged,
          /action: ganadores_enviados \| result: success \|.* cant_ganadores: 1/,
        );
        peer.close();
      } finally {
        await server.stop();
      }
    });
  },
);
