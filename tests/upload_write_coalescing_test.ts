/**
 * The upload's writes: acknowledgements that arrive together free the window
 * together, and the batches they free go out in one write, not one each.
 */

import assert from "node:assert/strict";
import { AgencyUpload } from "../lib/client/agency_upload.ts";
import { BufferedReader } from "../lib/protocol/buffered_reader.ts";
import { encodeMessage } from "../lib/protocol/message_codec.ts";
import { FRAME_HEADER_BYTES, FRAME_LENGTH_OFFSET, MessageType } from "../lib/protocol/protocol.ts";
import { readBatchHeader } from "../lib/server/batch_scan.ts";
import { Logger } from "../lib/runtime/log.ts";
import { writeAll } from "../lib/runtime/write_all.ts";
import { concatBytes } from "../lib/runtime/bytes.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const _REPLY_BYTES_MAX = 1024 * 1024;

/** The message types of the whole frames in `bytes`. */
function _frameTypes(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const types: number[] = [];
  for (let at = 0; at + FRAME_HEADER_BYTES <= bytes.length;) {
    types.push(bytes[at + 2]!);
    at += FRAME_HEADER_BYTES + view.getUint32(at + FRAME_LENGTH_OFFSET);
  }
  return types;
}

/** A server that acknowledges a full window in one write, as a group commit does. */
async function _serveWindowAtOnce(listener: Deno.Listener, window: number): Promise<void> {
  using conn = await listener.accept();
  const reader = new BufferedReader(conn);
  await reader.readFrame(_REPLY_BYTES_MAX);
  await writeAll(
    conn,
    encodeMessage({
      type: MessageType.helloAck,
      drawId: "test",
      storedBets: 0,
      storedDigest: 0,
      checkpoints: [],
    }),
  );
  let unacknowledged: { first: number; count: number }[] = [];
  while (true) {
    const frame = await reader.readFrame(_REPLY_BYTES_MAX);
    if (frame === null) return;
    if (frame.type === MessageType.batch) {
      unacknowledged.push(readBatchHeader(frame.body));
      if (unacknowledged.length < window) continue;
      await writeAll(
        conn,
        concatBytes(
          unacknowledged.map(({ first, count }) =>
            encodeMessage({ type: MessageType.batchAck, first, count })
          ),
        ),
      );
      unacknowledged = [];
    } else if (frame.type === MessageType.winnersQuery) {
      await writeAll(conn, encodeMessage({ type: MessageType.winners, documents: [] }));
    }
  }
}

Deno.test("batches freed by acknowledgements read together go out in one write", async () => {
  await withTempDir(async (dir) => {
    const dataFile = `${dir}/agency-1.csv`;
    const rows = Array.from(
      { length: 12 },
      (_, index) => `Ana,Paz,${30_000_000 + index},1990-01-02,${index}`,
    );
    await Deno.writeTextFile(dataFile, rows.join("\n") + "\n");
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const window = 4;
    const serving = _serveWindowAtOnce(listener, window);
    /** Batch frames in each write the client made. */
    const batchesPerWrite: number[] = [];
    const connect = Deno.connect;
    Deno.connect = (async (options: Deno.ConnectOptions) => {
      const conn = await connect(options);
      const write = conn.write.bind(conn);
      conn.write = (bytes: Uint8Array) => {
        const batches = _frameTypes(bytes).filter((type) => type === MessageType.batch).length;
        if (batches > 0) batchesPerWrite.push(batches);
        return write(bytes);
      };
      return conn;
    }) as typeof Deno.connect;
    try {
      const summary = await new AgencyUpload({
        agency: 1,
        hostname: "127.0.0.1",
        port: (listener.addr as Deno.NetAddr).port,
        dataFile,
        batchMaxAmount: 1,
        batchWindow: window,
        reconnectBudgetMs: 1_000,
        signal: new AbortController().signal,
        logger: new Logger("ERROR", () => {}),
      }).run();
      assert.deepEqual(summary?.betsConfirmed, 12);
    } finally {
      Deno.connect = connect;
    }
    await serving;
    assert.deepEqual(batchesPerWrite, [4, 4, 4]);
  });
});
