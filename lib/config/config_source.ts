/**
 * Typed reads of configuration values that remember where each value came
 * from (a file key or an environment variable), so every error names both.
 */

import { parseDuration } from "./duration.ts";
import { type LogLevel, parseLogLevel } from "../runtime/log.ts";

/** A configuration value could not be used. Callers print it and exit 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** One raw value and where it was found. */
interface _RawValue {
  text: string;
  origin: string;
}

/** Values of one config file, overridable from the environment. */
export class ConfigSource {
  readonly #file: string;
  readonly #values: Map<string, unknown>;
  readonly #env: Readonly<Record<string, string | undefined>>;

  /**
   * @param file path of the config file, for messages
   * @param values the file's keys (dotted paths for nested YAML) and values
   * @param env environment variables that may override them
   */
  constructor(
    file: string,
    values: Map<string, unknown>,
    env: Readonly<Record<string, string | undefined>>,
  ) {
    this.#file = file;
    this.#values = values;
    this.#env = env;
  }

  /** The file this source reads, for messages. */
  get file(): string {
    return this.#file;
  }

  #raw(key: string, envName: string | undefined): _RawValue | undefined {
    const fromEnv = envName === undefined ? undefined : this.#env[envName];
    if (fromEnv !== undefined && fromEnv !== "") {
      return { text: fromEnv, origin: `environment variable ${envName}` };
    }
    if (!this.#values.has(key)) return undefined;
    const value = this.#values.get(key);
    if (value !== null && typeof value === "object") {
      throw new ConfigError(
        `${key} in ${this.#file} must be a single value, not a section`,
      );
    }
    return { text: String(value ?? ""), origin: `${this.#file}` };
  }

  #missing(key: string, envName: string | undefined): never {
    throw new ConfigError(
      `${key} is missing in ${this.#file}${envName ? ` (or set ${envName})` : ""}`,
    );
  }

  #fail(key: string, raw: _RawValue, expected: string): never {
    throw new ConfigError(`${key} "${raw.text}" in ${raw.origin} ${expected}`);
  }

  /**
   * Reads a text value.
   * @param fallback used when the key is absent; undefined makes it required
   * @throws {ConfigError} when required and absent or empty
   */
  text(key: string, envName: string | undefined, fallback?: string): string {
    const raw = this.#raw(key, envName);
    if (raw === undefined || raw.text.trim() === "") {
      if (fallback !== undefined) return fallback;
      return this.#missing(key, envName);
    }
    return raw.text.trim();
  }

  /**
   * Reads a text value that must pass a check.
   * @param violation says why a text is not acceptable, or undefined when it is
   * @throws {ConfigError} naming the key, the value and its origin
   */
  checkedText(
    key: string,
    envName: string | undefined,
    fallback: string,
    violation: (text: string) => string | undefined,
  ): string {
    const raw = this.#raw(key, envName);
    if (raw === undefined || raw.text.trim() === "") return fallback;
    const problem = violation(raw.text.trim());
    if (problem !== undefined) this.#fail(key, raw, problem);
    return raw.text.trim();
  }

  /**
   * Reads a whole number within bounds.
   * @throws {ConfigError} when it is not a whole number in min..max
   */
  integer(
    key: string,
    envName: string | undefined,
    min: number,
    max: number,
    fallback?: number,
  ): number {
    const raw = this.#raw(key, envName);
    if (raw === undefined || raw.text.trim() === "") {
      if (fallback !== undefined) return fallback;
      return this.#missing(key, envName);
    }
    const text = raw.text.trim();
    if (!/^-?\d+$/.test(text) || Number(text) < min || Number(text) > max) {
      this.#fail(key, raw, `is not a whole number in ${min}..${max}`);
    }
    return Number(text);
  }

  /**
   * Reads a duration such as `5s` or `100ms`.
   * @returns the text as written and its value in milliseconds
   * @throws {ConfigError} when it is not a duration within maxMs
   */
  duration(
    key: string,
    envName: string | undefined,
    maxMs: number,
    fallback: string,
  ): { text: string; ms: number } {
    const raw = this.#raw(key, envName) ??
      { text: fallback, origin: "the defaults" };
    const text = raw.text.trim();
    let ms: number;
    try {
      ms = parseDuration(text);
    } catch {
      this.#fail(key, raw, "is not a duration such as 5s or 100ms");
    }
    if (ms > maxMs) this.#fail(key, raw, `exceeds the maximum of ${maxMs} ms`);
    return { text, ms };
  }

  /**
   * Reads a log level name.
   * @throws {ConfigError} when it is not DEBUG, INFO, WARNING, ERROR or CRITICAL
   */
  level(
    key: string,
    envName: string | undefined,
    fallback: LogLevel,
  ): LogLevel {
    const raw = this.#raw(key, envName);
    if (raw === undefined) return fallback;
    try {
      return parseLogLevel(raw.text);
    } catch (error) {
      return this.#fail(
        key,
        raw,
        `is not a log level: ${(error as Error).message}`,
      );
    }
  }

  /**
   * Rejects keys the program does not know, so typos do not pass silently.
   * @throws {ConfigError} naming the first unknown key
   */
  rejectUnknownKeys(known: readonly string[]): void {
    for (const key of this.#values.keys()) {
      if (!known.includes(key)) {
        throw new ConfigError(
          `unknown key ${key} in ${this.#file} (known keys: ${known.join(", ")})`,
        );
      }
    }
  }
}

/**
 * Reads a config file's text.
 * @throws {ConfigError} when the file cannot be read
 */
export async function readConfigFile(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "not found" : (error as Error).message;
    throw new ConfigError(`cannot read config file ${path}: ${reason}`);
  }
}
