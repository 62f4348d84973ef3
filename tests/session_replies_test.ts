import assert from "node:assert/strict";
import {
  logRefusedBatch,
  logSessionError,
  logStoredBatch,
  nackOf,
  storeRefusal,
} from "../lib/server/session_replies.ts";
import { Logger } from "../lib/runtime/log.ts";
import { ErrorCode, MessageType, ProtocolError } from "../lib/protocol/protocol.ts";
import { encodeMessage } from "../lib/protocol/message_codec.ts";
import { makeBets } from "./helpers/bets.ts";

/** A logger at `level` and the lines it wrote, without their timestamps. */
function _logger(level: "DEBUG" | "INFO" = "INFO"): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = new Logger(
    level,
    (line) => lines.push(line.replace(/^\S+ \S+ /, "").replace(/^(\S+) +/, "$1 ")),
  );
  return { logger, lines };
}

Deno.test("nackOf() names the batch, the error's code, bet and field, and the expected position", async (t) => {
  await t.step("a bet's field", () => {
    const error = new ProtocolError(ErrorCode.invalidBet, "bad date", {
      first: 10,
      betIndex: 3,
      field: "nacimiento",
    });
    assert.deepEqual(nackOf(10, 5, error, 10), {
      type: MessageType.batchNack,
      first: 10,
      count: 5,
      code: ErrorCode.invalidBet,
      betIndex: 3,
      field: "nacimiento",
      reason: "bad date",
      expected: 10,
    });
  });
  await t.step("no bet: index 0, empty field", () => {
    const nack = nackOf(0, 0, new ProtocolError(ErrorCode.shuttingDown, "stop"), 0);
    assert.equal(nack.type === MessageType.batchNack && nack.betIndex, 0);
    assert.equal(nack.type === MessageType.batchNack && nack.field, "");
  });
});

Deno.test("storeRefusal() keeps a protocol error and makes any other one storeFailed", () => {
  const drawClosed = new ProtocolError(ErrorCode.drawClosed, "drawn");
  assert.equal(storeRefusal(drawClosed), drawClosed);
  const failed = storeRefusal(new Error("store write failed: disk full"));
  assert.equal(failed.code, ErrorCode.storeFailed);
  assert.equal(failed.message, "store write failed: disk full");
});

Deno.test("logRefusedBatch() logs a shutdown refusal at INFO and any other one as a WARNING", () => {
  const { logger, lines } = _logger();
  logRefusedBatch(logger, 2, 10, 5, 10, new ProtocolError(ErrorCode.shuttingDown, "stop"));
  logRefusedBatch(logger, 2, 20, 5, 10, new ProtocolError(ErrorCode.positionMismatch, "gap"));
  assert.deepEqual(lines, [
    "INFO action: apuesta_recibida | result: in_progress | cantidad: 5 | agency: 2 | first: 10 | expected: 10 | code: shuttingDown | reason: stop",
    "WARNING action: apuesta_recibida | result: fail | cantidad: 5 | agency: 2 | first: 20 | expected: 10 | code: positionMismatch | error: gap",
  ]);
});

Deno.test("logStoredBatch() logs a stored batch, a duplicate, and at DEBUG each bet", () => {
  const { logger, lines } = _logger("DEBUG");
  const bets = makeBets(1, 2).map(({ agency: _, ...bet }) => bet);
  const frame = encodeMessage({ type: MessageType.batch, first: 0, bets });
  logStoredBatch(logger, 1, 0, 2, false, frame.subarray(7));
  logStoredBatch(logger, 1, 0, 2, true, undefined);
  assert.deepEqual(lines, [
    "INFO action: apuesta_recibida | result: success | cantidad: 2",
    `DEBUG action: apuesta_almacenada | result: success | dni: ${bets[0]!.document} | numero: ${
      bets[0]!.number
    }`,
    `DEBUG action: apuesta_almacenada | result: success | dni: ${bets[1]!.document} | numero: ${
      bets[1]!.number
    }`,
    "INFO action: apuesta_duplicada | result: success | agency: 1 | first: 0 | cantidad: 2",
  ]);
});

Deno.test("logSessionError() logs shuttingDown at INFO only during a shutdown", () => {
  const { logger, lines } = _logger();
  const stop = new ProtocolError(ErrorCode.shuttingDown, "server shutting down");
  logSessionError(logger, 3, stop, true);
  logSessionError(logger, 3, stop, false);
  assert.deepEqual(lines, [
    "INFO action: protocol_error | result: in_progress | agency: 3 | code: shuttingDown | reason: server shutting down",
    "WARNING action: protocol_error | result: fail | agency: 3 | code: shuttingDown | error: server shutting down",
  ]);
});
