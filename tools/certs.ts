/**
 * Makes development credentials with openssl: a CA, the server's
 * certificate, a certificate and a hello secret per agency.
 *
 * deno task certs [N] [--out secrets] [--server-name NAME]... [--days 30]
 */

import { parseArgs } from "node:util";
import { runProgram } from "../lib/runtime/program.ts";
import { wholeNumberFlag, withoutTaskSeparator } from "../lib/runtime/task_args.ts";
import {
  CERT_DAYS_DEFAULT,
  CREDENTIAL_AGENCIES_MAX,
  type DevCredentialOptions,
  makeDevCredentials,
  SERVER_NAMES_DEFAULT,
} from "../lib/dev/dev_credentials.ts";

const _USAGE = `Usage: deno task certs [N] [--out DIR] [--server-name NAME]... [--days D]
Makes, with openssl, in DIR (default secrets/, gitignored; keys and secrets mode 0600):
  ca.crt, ca.key            a development CA
  server.crt, server.key    the server's certificate, for every --server-name
                            (default: ${SERVER_NAMES_DEFAULT.join(", ")})
  agency-<k>.crt/.key       agency k's client certificate (CN=agency-<k>), k = 1..N
  agency-<k>.secret         agency k's hello secret (the client's CLI_SECRET_FILE)
  agencies.secrets          every k=secret line (the server's SECRETS_FILE)
N defaults to 5 (0..${CREDENTIAL_AGENCIES_MAX}); D to ${CERT_DAYS_DEFAULT}. Files of the same names are replaced.
Then: deno task compose N --credentials DIR [--client-certs | --plain] (see docs/DEPLOY.md).`;

/** Parses the command line. */
export function parseCertsArgs(args: string[]): DevCredentialOptions | "help" {
  const { values, positionals } = parseArgs({
    args: withoutTaskSeparator(args),
    options: {
      out: { type: "string" },
      "server-name": { type: "string", multiple: true },
      days: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return "help";
  if (positionals.length > 1) {
    throw new TypeError(`expected at most one argument N, got ${positionals.length}`);
  }
  return {
    dir: values.out ?? "secrets",
    agencies: wholeNumberFlag(positionals[0], "N", 5, 0, CREDENTIAL_AGENCIES_MAX),
    serverNames: values["server-name"] ?? [...SERVER_NAMES_DEFAULT],
    days: wholeNumberFlag(values.days, "--days", CERT_DAYS_DEFAULT, 1, 3650),
  };
}

async function _make(options: DevCredentialOptions): Promise<number> {
  const written = await makeDevCredentials(options);
  console.log(
    `wrote ${written.length} files to ${await Deno.realPath(options.dir)}/: CA ca.crt, ` +
      `server.crt for ${options.serverNames.join(", ")}, ${options.agencies} agency ` +
      `certificates and secrets, agencies.secrets (valid ${options.days} days; keep them out of git)`,
  );
  return 0;
}

if (import.meta.main) await runProgram("certs", _USAGE, parseCertsArgs, _make);
