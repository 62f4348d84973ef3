/** Assertion helpers for ProtocolError. */

import assert from "node:assert/strict";
import { type ErrorCode, errorCodeName, ProtocolError } from "../../lib/protocol/protocol.ts";

/**
 * A validator for `assert.throws` / `assert.rejects` that accepts only a
 * ProtocolError with `code` (and a message matching `message`, if given), and
 * says which code came instead.
 */
export function protocolError(code: ErrorCode, message?: RegExp): (error: unknown) => true {
  return (error) => {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${error}`);
    assert.equal(
      errorCodeName(error.code),
      errorCodeName(code),
      `wrong code for: ${error.message}`,
    );
    if (message !== undefined) assert.match(error.message, message);
    return true;
  };
}

/** Runs `body` and returns the ProtocolError it throws, failing if it does not. */
export async function catchProtocolError(body: () => unknown): Promise<ProtocolError> {
  try {
    await body();
  } catch (error) {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${error}`);
    return error;
  }
  assert.fail("expected a ProtocolError, nothing was thrown");
}
