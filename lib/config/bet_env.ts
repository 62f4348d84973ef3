/** The bet of bet mode (CLI_MODE=bet), read from environment variables. */

import { type Bet, todayIsoDate, validateBet } from "../bet/bet.ts";
import { ConfigError } from "./config_source.ts";
import { AGENCIES_MAX } from "../limits.ts";

/** Environment variables of the bet, by bet field. */
export const BET_ENV = {
  firstName: "NOMBRE",
  lastName: "APELLIDO",
  document: "DOCUMENTO",
  birthdate: "NACIMIENTO",
  number: "NUMERO",
} as const;

const _FIELD_ENV: Record<string, string> = {
  first_name: BET_ENV.firstName,
  last_name: BET_ENV.lastName,
  document: BET_ENV.document,
  birthdate: BET_ENV.birthdate,
  number: BET_ENV.number,
};

/**
 * Reads and validates the bet in NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO, NUMERO.
 * @throws {ConfigError} naming the missing or invalid variable
 */
export function betFromEnv(env: Readonly<Record<string, string | undefined>>, agency: number): Bet {
  for (const name of Object.values(BET_ENV)) {
    if ((env[name] ?? "").trim() === "") {
      throw new ConfigError(`environment variable ${name} is missing (bet mode needs it)`);
    }
  }
  const numberText = env[BET_ENV.number]!.trim();
  const bet: Bet = {
    agency,
    firstName: env[BET_ENV.firstName]!.trim(),
    lastName: env[BET_ENV.lastName]!.trim(),
    document: env[BET_ENV.document]!.trim(),
    birthdate: env[BET_ENV.birthdate]!.trim(),
    number: /^\d+$/.test(numberText) ? Number(numberText) : Number.NaN,
  };
  const violation = validateBet(bet, todayIsoDate(), AGENCIES_MAX);
  if (violation !== undefined) {
    const name = _FIELD_ENV[violation.field] ?? "CLI_ID";
    throw new ConfigError(`environment variable ${name}: ${violation.field} ${violation.reason}`);
  }
  return bet;
}
