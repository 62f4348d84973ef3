/**
 * Writes the compose file (or with --target swarm the stack file) for a
 * server and N agencies: the flags (lib/containers/compose_args.ts), then the
 * file they describe (lib/containers/compose_file.ts).
 *
 * deno task compose <N> [--target compose|swarm] [--output FILE] [--mode lottery|bet|echo]
 *                       [--config-dir config] [--data-dir data] [--credentials DIR]
 *                       [--client-certs] [--plain] [--store file|postgres] [--store-url URL]
 *                       [swarm: --stack NAME --agency-mode job|restart --attachable
 *                       --publish-tls --registry HOST[:PORT] --replicas R]
 */

import { runProgram } from "./lib/runtime/program.ts";
import {
  ADMIN_PORT_DEFAULT,
  COMPOSE_CLIENTS_MAX,
  COMPOSE_DEFAULTS,
  NETWORK_KEY,
} from "./lib/containers/compose_document.ts";
import { TLS_PORT_DEFAULT } from "./lib/containers/credentials.ts";
import { POSTGRES_IMAGE } from "./lib/containers/images.ts";
import { SERVER_REPLICAS_MAX } from "./lib/limits.ts";
import { parseComposeArgs } from "./lib/containers/compose_args.ts";
import {
  type ComposeFile,
  composeFileFor,
  writeComposeFile,
} from "./lib/containers/compose_file.ts";

const _USAGE = `Usage: deno task compose <N> [--target compose|swarm] [--output FILE]
                         [--mode lottery|bet|echo] [--config-dir DIR] [--data-dir DIR]
                         [--draw ID] [--admin-port P]
                         [--credentials DIR [--client-certs | --plain]]
                         [--store file|postgres] [--store-url URL]
       swarm only:       [--stack NAME] [--agency-mode job|restart] [--attachable]
                         [--publish-tls] [--registry HOST[:PORT]] [--replicas R]

Writes a compose file (default docker-compose-dev.yaml) with services
server and client1..clientN (container names exactly those), all on the
internal network ${COMPOSE_DEFAULTS.project}_${NETWORK_KEY}. N is 0..${COMPOSE_CLIENTS_MAX}; 0 gives a server-only file.

  --target      compose (default) or swarm: a stack file for docker stack
                deploy (default docker-stack.yaml; see docs/DEPLOY.md), with
                config files as swarm configs, credentials as swarm secrets,
                an encrypted overlay network and agencies placed by node label.
  --mode        every client's CLI_MODE (default lottery). In bet mode each
                client also gets NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO and
                NUMERO from the first row of its agency file.
  --config-dir  holds server.ini and client.yaml (default config); each is
                bind-mounted read-only (swarm: a config), so edits need a
                restart (swarm: generate and deploy again), not a build.
  --data-dir    holds agency-<k>.csv for k = 1..N (default data), mounted
                read-only into client k (create them: deno task data). In a
                stack it is the same absolute path on each agency's node.
  --output      where to write; paths inside are relative to it (swarm: absolute).
  --draw        the draw (sorteo) id to stamp into the server (DRAW_ID).
                Default: a new one (UTC time and 4 random hex digits), so
                every generated deployment is a new lottery; give the id of
                an earlier one to continue it. Restarting the same file
                (deno task up again) always continues its draw.
  --admin-port  the server's admin port (status page, /metrics), in the container
                and on the host's 127.0.0.1 (default ${ADMIN_PORT_DEFAULT}).
  --credentials a deno task certs directory: hello secrets (the server's
                SECRETS_FILE, each agency's CLI_SECRET_FILE, as secrets) and
                TLS to the server's port ${TLS_PORT_DEFAULT}, verified against its CA.
  --client-certs  also require each agency's certificate (TLS_CLIENT_CA).
  --plain       with --credentials: the hello secrets only, no TLS.
  --stack       the stack's name (default tp0); deno task deploy reads it.
  --agency-mode job (default): agencies are replicated-job services (needs
                engine API 1.41 and a docker CLI 23.0+); restart: replicated
                services that restart on failure only, for older CLIs.
  --attachable  let standalone containers join the network (validate_echo).
  --publish-tls publish the TLS port on the server's node, for agencies
                outside the swarm (needs --credentials without --plain).
  --registry    image references HOST[:PORT]/tp0-server:latest and
                …/tp0-client:latest, for nodes that pull from a registry.
  --store       file (default): the server keeps the bets in its own files
                on a named volume. postgres: a PostgreSQL service (${POSTGRES_IMAGE},
                made by deno task images) with its own volume and health
                check, on a network only the server joins; the server gets
                STORE_URL and starts once the database is healthy.
  --store-url   with --store postgres: no bundled database; the server's
                STORE_URL is URL (postgres://USER:PASSWORD@HOST:PORT/DB), a
                managed or replicated PostgreSQL (docs/DEPLOY.md).
  --replicas    with --store postgres: R server tasks on the one database
                (1..${SERVER_REPLICAS_MAX}, default 1); agencies reach any of them.

The server gets AGENCIES=N (unless N is 0) and a named volume for its bets
(with --store postgres the database has the volume).
Bad input prints one line and exits 2, leaving the output file untouched.
Then: deno task up, deno task logs, deno task down
(swarm: deno task deploy, deno task undeploy).`;

async function _prepare(argv: string[]): Promise<ComposeFile | "help"> {
  const args = parseComposeArgs(argv);
  return args === "help" ? "help" : await composeFileFor(args);
}

async function _write(file: ComposeFile): Promise<number> {
  console.log(await writeComposeFile(file));
  return 0;
}

if (import.meta.main) await runProgram("gen_compose", _USAGE, _prepare, _write);
