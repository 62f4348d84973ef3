import assert from "node:assert/strict";
import { TransientRefusal } from "../lib/client/upload_errors.ts";
import { UploadLink } from "../lib/client/upload_link.ts";
import { ErrorCode, MessageType } from "../lib/protocol/protocol.ts";
import { ScriptedConn } from "./helpers/scripted_conn.ts";

Deno.test("UploadLink.readReply() returns replies in order, then names the server's close as a reset", async () => {
  const conn = new ScriptedConn([
    { type: MessageType.batchAck, first: 0, count: 5 },
    { type: MessageType.error, code: ErrorCode.drawClosed, text: "closed" },
  ]);
  const link = new UploadLink(conn.asConn());
  assert.equal(link.hasWholeReply, false, "nothing read yet");
  assert.deepEqual(await link.readReply(), { type: MessageType.batchAck, first: 0, count: 5 });
  assert.equal(link.hasWholeReply, true, "the second reply came with the first");
  assert.deepEqual(await link.readReply(), {
    type: MessageType.error,
    code: ErrorCode.drawClosed,
    text: "closed",
  });
  assert.equal(link.hasWholeReply, false);
  await assert.rejects(
    link.readReply(),
    Deno.errors.ConnectionReset,
    "server closed the connection",
  );
});

Deno.test("UploadLink.readReply() throws a TransientRefusal for an error the server may not repeat", async () => {
  const conn = new ScriptedConn([
    { type: MessageType.error, code: ErrorCode.tooManyConnections, text: "full" },
  ]);
  await assert.rejects(
    new UploadLink(conn.asConn()).readReply(),
    TransientRefusal,
    "tooManyConnections: full",
  );
});

Deno.test("UploadLink.write() writes every byte and close() is safe to call twice", async () => {
  const conn = new ScriptedConn([]);
  const link = new UploadLink(conn.asConn());
  await link.write(new Uint8Array([1, 2, 3]));
  assert.deepEqual(conn.writtenBytes(), new Uint8Array([1, 2, 3]));
  link.close();
  link.close();
  assert.equal(conn.closed, true);
});
