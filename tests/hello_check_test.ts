import assert from "node:assert/strict";
import { checkHello, type HelloRules } from "../lib/server/hello_check.ts";
import { encodeMessage, type Frame, type Message } from "../lib/protocol/message_codec.ts";
import { ErrorCode, FRAME_HEADER_BYTES, MessageType } from "../lib/protocol/protocol.ts";
import { protocolError } from "./helpers/protocol_errors.ts";

function _frame(message: Message): Frame {
  const bytes = encodeMessage(message);
  return { type: bytes[2]!, body: bytes.subarray(FRAME_HEADER_BYTES) };
}

const _open: HelloRules = { agencies: 5, identity: {}, agencySecrets: undefined };

Deno.test("checkHello() returns the agency of a hello in 1..agencies and refuses 0 and agencies + 1", async (t) => {
  for (const agency of [1, 5]) {
    await t.step(`agency ${agency}`, async () => {
      assert.equal(await checkHello(_frame({ type: MessageType.hello, agency }), _open), agency);
    });
  }
  for (const agency of [0, 6]) {
    await t.step(`agency ${agency}`, async () => {
      await assert.rejects(
        checkHello(_frame({ type: MessageType.hello, agency }), _open),
        protocolError(ErrorCode.unknownAgency),
      );
    });
  }
});

Deno.test("checkHello() refuses a first frame that is no hello with helloRequired", async () => {
  await assert.rejects(
    checkHello(_frame({ type: MessageType.finished, total: 0 }), _open),
    protocolError(ErrorCode.helloRequired),
  );
});

Deno.test("checkHello() refuses what the transport or the secrets do not allow with authenticationFailed", async (t) => {
  await t.step("another agency than the certificate's", async () => {
    await assert.rejects(
      checkHello(_frame({ type: MessageType.hello, agency: 2 }), {
        ..._open,
        identity: { certifiedAgency: 3 },
      }),
      /names agency 3, not 2/,
    );
  });
  const secrets: HelloRules = { ..._open, agencySecrets: new Map([[2, "s3cret"]]) };
  await t.step("a wrong secret", async () => {
    await assert.rejects(
      checkHello(_frame({ type: MessageType.hello, agency: 2, secret: "guess" }), secrets),
      protocolError(ErrorCode.authenticationFailed),
    );
  });
  await t.step("no secret", async () => {
    await assert.rejects(
      checkHello(_frame({ type: MessageType.hello, agency: 2 }), secrets),
      /agency 2: wrong or missing secret/,
    );
  });
  await t.step("the right secret", async () => {
    const hello = _frame({ type: MessageType.hello, agency: 2, secret: "s3cret" });
    assert.equal(await checkHello(hello, secrets), 2);
  });
});
