/**
 * The container tasks: `deno task up`, `deno task down`, `deno task logs`.
 * Each picks `docker compose` (v2) or `docker-compose` (v1), and says in one
 * line when no engine is reachable.
 *
 * deno task up|down|logs [--file docker-compose-dev.yaml] [--project tp0]
 *   down also takes --volumes (delete the bets volume too); logs takes
 *   service names (default: all).
 */

import { parseArgs } from "node:util";
import { runProgram } from "../lib/runtime/program.ts";
import {
  buildImage,
  dockerEngineStatus,
  findComposeCommand,
  imageId,
  noEngineMessage,
} from "../lib/containers/docker.ts";
import {
  APP_BUILD_ARGS,
  CLIENT_IMAGE,
  DENO_IMAGE,
  POSTGRES_IMAGE,
  SERVER_IMAGE,
} from "../lib/containers/images.ts";
import { runAttached } from "../lib/runtime/run_command.ts";

const _USAGE =
  `Usage: deno task up|down|logs [--file FILE] [--project NAME] [--volumes] [SERVICE...]
  up     build tp0-server and tp0-client (cached: quick when nothing changed)
         and start FILE in the background (with --store postgres, after
         checking that deno task images made ${POSTGRES_IMAGE})
  down   stop with a grace period (stop -t 10: SIGTERM first, SIGKILL after
         10 s), then remove containers and network; --volumes also deletes
         the bets volume
  logs   follow the logs of every service, or of the SERVICEs named
FILE defaults to docker-compose-dev.yaml (deno task compose N writes it),
NAME to tp0.`;

/** `docker stop -t`: seconds between SIGTERM and SIGKILL. The server's
 * SHUTDOWN_GRACE (5 s) fits inside it. */
export const STOP_TIMEOUT_SECONDS = 10;

/** One container task. */
export type ComposeAction = "up" | "down" | "logs";

/** The parsed command line. */
export interface ComposeTaskArgs {
  action: ComposeAction;
  file: string;
  project: string;
  volumes: boolean;
  services: readonly string[];
}

/**
 * Parses `up|down|logs` and its flags.
 * @throws {TypeError} on an unknown action or flag
 */
export function parseComposeTaskArgs(args: string[]): ComposeTaskArgs | "help" {
  const { values, positionals } = parseArgs({
    // `deno task down -- --volumes` passes the `--` along; it means nothing here.
    args: args.filter((arg) => arg !== "--"),
    options: {
      file: { type: "string" },
      project: { type: "string" },
      volumes: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return "help";
  const [action, ...services] = positionals;
  if (action !== "up" && action !== "down" && action !== "logs") {
    throw new TypeError(`unknown action "${action ?? ""}": expected up, down or logs`);
  }
  if (action !== "logs" && services.length > 0) {
    throw new TypeError(`${action} takes no service names, got "${services.join(" ")}"`);
  }
  return {
    action,
    file: values.file ?? "docker-compose-dev.yaml",
    project: values.project ?? "tp0",
    volumes: values.volumes ?? false,
    services,
  };
}

/**
 * The compose invocations of a task, in order (image builds for `up` are
 * separate). Pure, so the exact commands are tested without Docker.
 * @param compose `["docker", "compose"]` or `["docker-compose"]`
 */
export function composeSteps(compose: readonly string[], args: ComposeTaskArgs): string[][] {
  const base = [...compose, "--project-name", args.project, "--file", args.file];
  switch (args.action) {
    case "up":
      return [[...base, "up", "--detach", "--no-build"]];
    case "down":
      return [
        [...base, "stop", "--timeout", String(STOP_TIMEOUT_SECONDS)],
        [...base, "down", ...(args.volumes ? ["--volumes"] : [])],
      ];
    case "logs":
      return [[...base, "logs", "--follow", ...args.services]];
  }
}

async function _buildAppImages(): Promise<void> {
  if (await imageId(DENO_IMAGE) === undefined) {
    throw new Error(
      `${DENO_IMAGE} is missing: run deno task images (pulls it, or builds a local stand-in)`,
    );
  }
  const context = new URL("..", import.meta.url).pathname.replace(/\/$/, ""); // the repository root
  for (const image of [SERVER_IMAGE, CLIENT_IMAGE]) {
    await buildImage(image, context, APP_BUILD_ARGS);
    console.log(`built ${image.tag} (${(await imageId(image.tag))?.slice(0, 19)})`);
  }
}

/** A file from `--store postgres` runs the database image, which no build makes. */
async function _requireDatabaseImage(file: string): Promise<void> {
  const text = await Deno.readTextFile(file);
  const uses = new RegExp(`^\\s+image: "?${POSTGRES_IMAGE.replace(".", "\\.")}"?$`, "m");
  if (uses.test(text) && await imageId(POSTGRES_IMAGE) === undefined) {
    throw new Error(
      `${POSTGRES_IMAGE} is missing: run deno task images (it builds it from Debian's postgresql)`,
    );
  }
}

async function _run(args: ComposeTaskArgs): Promise<number> {
  try {
    await Deno.stat(args.file);
  } catch {
    console.error(`${args.file} not found: generate it first, e.g. deno task compose 5`);
    return 2;
  }
  const engine = await dockerEngineStatus();
  if (!engine.reachable) {
    console.error(noEngineMessage(engine.reason));
    return 1;
  }
  const compose = await findComposeCommand();
  if (compose === undefined) {
    console.error(
      "Neither docker compose nor docker-compose is installed (apt-get install docker-compose)",
    );
    return 1;
  }
  if (args.action === "up") {
    await _requireDatabaseImage(args.file);
    await _buildAppImages();
  }
  for (const step of composeSteps(compose, args)) {
    const code = await runAttached(step);
    if (code !== 0) {
      console.error(`${step.join(" ")} exited ${code}`);
      return code;
    }
  }
  return 0;
}

if (import.meta.main) await runProgram("compose_task", _USAGE, parseComposeTaskArgs, _run);
