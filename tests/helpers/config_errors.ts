/** Assertion helpers for ConfigError. */

import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/config_source.ts";

/**
 * A validator for `assert.throws` / `assert.rejects` that accepts only a
 * one-line ConfigError whose message matches every pattern.
 */
export function configError(...patterns: RegExp[]): (error: unknown) => true {
  return (error) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    assert.equal(error.name, "ConfigError");
    for (const pattern of patterns) assert.match(error.message, pattern);
    assert.ok(!error.message.includes("\n"), `one line: ${error.message}`);
    return true;
  };
}
