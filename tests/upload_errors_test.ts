import assert from "node:assert/strict";
import {
  describeMessage,
  isConnectionLoss,
  isTransientCode,
  TransientRefusal,
  UploadRefusal,
} from "../lib/client/upload_errors.ts";
import { ErrorCode, MessageType, ProtocolError } from "../lib/protocol/protocol.ts";

Deno.test("isConnectionLoss() is true of a lost connection or a transient refusal only", async (t) => {
  const cases: [string, unknown, boolean][] = [
    ["transient refusal", new TransientRefusal("storeFailed: disk"), true],
    ["reset", new Deno.errors.ConnectionReset("reset"), true],
    ["broken pipe", new Deno.errors.BrokenPipe("pipe"), true],
    ["aborted", new Deno.errors.ConnectionAborted("aborted"), true],
    ["end of stream", new Deno.errors.UnexpectedEof("eof"), true],
    ["truncated frame", new ProtocolError(ErrorCode.truncatedFrame, "cut"), true],
    ["another protocol error", new ProtocolError(ErrorCode.malformedFrame, "bad"), false],
    ["refusal for good", new UploadRefusal("drawClosed"), false],
    ["closed socket (abort)", new Deno.errors.BadResource("closed"), false],
    ["plain error", new Error("bug"), false],
    ["not an error", "reset", false],
  ];
  for (const [name, error, loss] of cases) {
    await t.step(name, () => assert.equal(isConnectionLoss(error), loss));
  }
});

Deno.test("isTransientCode() names the four codes after which the server may accept later", () => {
  const transient = Object.entries(ErrorCode).filter(([, code]) => isTransientCode(code));
  assert.deepEqual(transient.map(([name]) => name).sort(), [
    "idleTimeout",
    "shuttingDown",
    "storeFailed",
    "tooManyConnections",
  ]);
  assert.equal(isTransientCode(0), false);
});

Deno.test("describeMessage() names an error's code and text, else the message type", () => {
  assert.equal(
    describeMessage({ type: MessageType.error, code: ErrorCode.unknownAgency, text: "no" }),
    "unknownAgency: no",
  );
  assert.equal(
    describeMessage({ type: MessageType.winnersQuery }),
    `message type ${MessageType.winnersQuery}`,
  );
});
