import assert from "node:assert/strict";
import { isOutOfFiles, OpenFileGuard } from "../lib/server/open_file_guard.ts";
import { Logger } from "../lib/runtime/log.ts";
import { ErrorCode, MessageType } from "../lib/protocol/protocol.ts";
import { RawPeer } from "./helpers/raw_agency.ts";

Deno.test("isOutOfFiles() recognizes EMFILE and ENFILE, and nothing else", async (t) => {
  const cases: [string, boolean][] = [
    ["Too many open files (os error 24)", true],
    ["Too many open files in system (os error 23)", true],
    ["os error 24", true],
    ["Connection reset by peer (os error 104)", false],
    ["os error 240", false],
  ];
  for (const [message, expected] of cases) {
    await t.step(message, () => assert.equal(isOutOfFiles(new Error(message)), expected));
  }
  await t.step("not an error", () => assert.equal(isOutOfFiles(undefined), false));
});

Deno.test("OpenFileGuard.refuseOne() refuses the waiting connection with tooManyConnections and warns once until an accept succeeds", async () => {
  const lines: string[] = [];
  const shutdown = new AbortController();
  const guard = new OpenFileGuard(
    new Logger("INFO", (line) => lines.push(line)),
    undefined,
    shutdown.signal,
  );
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    for (const round of [1, 2, 3]) {
      if (round === 3) guard.accepted();
      const peer = await RawPeer.connect(listener.addr.port);
      await guard.refuseOne(listener, 5);
      const refusal = await peer.receive();
      peer.close();
      assert.ok(
        refusal.type === MessageType.error && refusal.code === ErrorCode.tooManyConnections,
        JSON.stringify(refusal),
      );
      assert.equal(refusal.text, "open-file limit reached at 5 connections");
    }
    const warnings = lines.filter((line) => line.includes("action: accept | result: fail"));
    assert.equal(warnings.length, 2, "warned at the first refusal and again after an accept");
  } finally {
    shutdown.abort();
    guard.close();
    guard.close();
  }
});
