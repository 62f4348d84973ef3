/** Tests for the open-file limit and the connection cap it leaves (lib/runtime/open_file_limit.ts, server.ts). */

import assert from "node:assert/strict";
import {
  connectionsWithin,
  parseOpenFileLimit,
  readOpenFileLimit,
} from "../lib/runtime/open_file_limit.ts";
import { OPEN_FILES_RESERVED } from "../lib/limits.ts";
import { fieldOf, startLocalServer } from "../lib/dev/local_cluster.ts";
import { ErrorCode, FRAME_MARKER, MessageType } from "../lib/protocol/protocol.ts";
import { RawPeer } from "./helpers/raw_agency.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const _LIMITS = `Limit                     Soft Limit           Hard Limit           Units     
Max processes             95844                95844                processes 
Max open files            1024                 524288               files     
Max locked memory         8388608              8388608              bytes     
`;

Deno.test("parseOpenFileLimit() reads the soft and hard limits of /proc/<pid>/limits", async (t) => {
  await t.step("numbers", () => {
    assert.deepEqual(parseOpenFileLimit(_LIMITS), { soft: 1024, hard: 524288 });
  });
  await t.step("unlimited", () => {
    const text = "Max open files            unlimited            unlimited            files\n";
    assert.deepEqual(parseOpenFileLimit(text), { soft: Infinity, hard: Infinity });
  });
  await t.step(
    "no such line",
    () => assert.equal(parseOpenFileLimit("Max processes 1 1 x"), undefined),
  );
  await t.step("this process (Linux)", () => {
    const limit = readOpenFileLimit();
    assert.ok(limit !== undefined && limit.soft >= 1 && limit.soft <= limit.hard);
  });
});

Deno.test("connectionsWithin() keeps CONNECTIONS_MAX while it fits the limit, else caps below it", async (t) => {
  const limit = (soft: number) => ({ soft, hard: soft });
  await t.step("unknown limit", () => assert.equal(connectionsWithin(16_384, undefined), 16_384));
  await t.step("exactly fits", () => {
    assert.equal(connectionsWithin(1000, limit(1000 + OPEN_FILES_RESERVED)), 1000);
  });
  await t.step("one descriptor short", () => {
    assert.equal(connectionsWithin(1000, limit(999 + OPEN_FILES_RESERVED)), 999);
  });
  await t.step("unlimited", () => assert.equal(connectionsWithin(1000, limit(Infinity)), 1000));
  await t.step("a limit below the reserve still leaves one", () => {
    assert.equal(connectionsWithin(1000, limit(OPEN_FILES_RESERVED)), 1);
  });
});

/** An echo round trip: true when the line came back, false when the server
 * answered with a frame (a refusal) instead. */
async function _echoes(conn: Deno.TcpConn): Promise<boolean> {
  await conn.write(new TextEncoder().encode("hi\n"));
  const reply = new Uint8Array(3);
  let got = 0;
  while (got < reply.length) {
    const count = await conn.read(reply.subarray(got));
    if (count === null) return false;
    got += count;
    if (reply[0] === FRAME_MARKER) return false;
  }
  return new TextDecoder().decode(reply) === "hi\n";
}

Deno.test("a server out of file descriptors refuses the next connection with tooManyConnections, warns once, and logs no error", async () => {
  // The default CONNECTIONS_MAX (16,384) far above a limit of 64: the
  // descriptors run out first. -P=server cannot read /proc/self/limits.
  const openFiles = 64;
  await withTempDir(async (dir) => {
    const server = await startLocalServer(
      { STORAGE_DIR: dir, ADMIN_PORT: "off" },
      () => {},
      openFiles,
    );
    const open: Deno.TcpConn[] = [];
    try {
      let refused: RawPeer | undefined;
      while (refused === undefined) {
        assert.ok(open.length < openFiles, "every connection was echoed");
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
        if (await _echoes(conn)) {
          open.push(conn);
          continue;
        }
        conn.close();
        refused = await RawPeer.connect(server.port);
      }
      const refusal = await refused.receive();
      refused.close();
      assert.ok(
        refusal.type === MessageType.error && refusal.code === ErrorCode.tooManyConnections,
        `got ${JSON.stringify(refusal)}`,
      );
    } finally {
      for (const conn of open) conn.close();
      assert.equal(await server.stop(), 0);
    }
    const warnings = server.lines.filter((line) => line.includes(" action: accept | result: fail"));
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.deepEqual(server.lines.filter((line) => / (ERROR|CRITICAL) /.test(line)), []);
  });
});

Deno.test("the server logs its open-file limit (or that it cannot read it) and the connection cap", async () => {
  await withTempDir(async (dir) => {
    const server = await startLocalServer({ STORAGE_DIR: dir, ADMIN_PORT: "off" });
    try {
      const line = server.lines.find((text) => text.includes(" action: open_files |"));
      assert.ok(line !== undefined, server.lines.join("\n"));
      assert.equal(fieldOf(line, "connections_max"), "16384");
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
