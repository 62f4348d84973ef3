/**
 * The swarm tasks: `deno task deploy` wraps `docker stack deploy` and waits
 * for the agency jobs; `deno task undeploy` wraps `docker stack rm` and waits
 * until the stack is gone. The stack's name, agencies and images come from
 * the file's `x-tp0` field (deno task compose N --target swarm writes it).
 *
 * deno task deploy [--file docker-stack.yaml] [--detach] [--timeout 5m]
 * deno task undeploy [--file docker-stack.yaml] [--volumes]
 */

import { parseArgs } from "node:util";
import { load, YAML11_SCHEMA } from "js-yaml";
import { parseDuration } from "../lib/config/duration.ts";
import {
  buildImage,
  dockerEngineStatus,
  imageId,
  noEngineMessage,
} from "../lib/containers/docker.ts";
import {
  APP_BUILD_ARGS,
  type AppImage,
  CLIENT_IMAGE,
  DENO_IMAGE,
  POSTGRES_IMAGE,
  SERVER_IMAGE,
} from "../lib/containers/images.ts";
import {
  STACK_STORAGE_VOLUME_KEY,
  type StackMeta,
  stackMeta,
} from "../lib/containers/stack_document.ts";
import {
  addNodeLabels,
  deployCommand,
  dockerVersions,
  drawsMade,
  hasRegistry,
  jobModeProblem,
  knowsDetachFlag,
  labelCommand,
  missingLabels,
  removeStack,
  serviceLogs,
  type StackProgress,
  swarmNodes,
  swarmState,
  waitForAgencies,
} from "../lib/containers/swarm.ts";
import { DATABASE_VOLUME_KEY } from "../lib/containers/database_service.ts";
import { fieldOf, linesOf } from "../lib/dev/local_cluster.ts";
import { runProgram } from "../lib/runtime/program.ts";
import { firstLine, runAttached, runCommand } from "../lib/runtime/run_command.ts";

const _USAGE = `Usage: deno task deploy [--file FILE] [--detach] [--timeout 5m]
       deno task undeploy [--file FILE] [--volumes]
  deploy    checks the swarm (a manager; job support when the file uses jobs),
            labels a single-node swarm's node as the file's placement asks
            (several nodes: prints the docker node update commands to run),
            builds the images (and pushes them when they name a registry),
            runs docker stack deploy, waits until every agency job completed
            and prints each agency's winners and the draw; --detach returns
            right after docker stack deploy
  undeploy  docker stack rm, then waits until services, containers, network,
            configs and secrets are gone; --volumes also removes the bets
            volume <stack>_${STACK_STORAGE_VOLUME_KEY} (with the PostgreSQL store, the
            database's <stack>_${DATABASE_VOLUME_KEY}) on this node
FILE defaults to docker-stack.yaml (deno task compose N --target swarm).
See docs/DEPLOY.md.`;

/** How long deploy waits for the agencies unless told otherwise. */
export const DEPLOY_TIMEOUT_MS_DEFAULT = 5 * 60_000;

/** How long undeploy waits for the stack to be gone. */
export const UNDEPLOY_TIMEOUT_MS = 2 * 60_000;

/** The parsed command line. */
export interface StackTaskArgs {
  action: "deploy" | "undeploy";
  file: string;
  detach: boolean;
  timeoutMs: number;
  volumes: boolean;
}

/**
 * Parses `deploy|undeploy` and its flags.
 * @throws {TypeError} on an unknown action or a flag of the other action
 */
export function parseStackTaskArgs(args: string[]): StackTaskArgs | "help" {
  const { values, positionals } = parseArgs({
    args: args.filter((arg) => arg !== "--"),
    options: {
      file: { type: "string" },
      detach: { type: "boolean" },
      timeout: { type: "string" },
      volumes: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return "help";
  const [action, ...rest] = positionals;
  if ((action !== "deploy" && action !== "undeploy") || rest.length > 0) {
    throw new TypeError(`expected deploy or undeploy, got "${positionals.join(" ")}"`);
  }
  if (action === "deploy" && values.volumes) throw new TypeError("--volumes is for undeploy");
  if (action === "undeploy" && (values.detach || values.timeout !== undefined)) {
    throw new TypeError("--detach and --timeout are for deploy");
  }
  return {
    action,
    file: values.file ?? "docker-stack.yaml",
    detach: values.detach ?? false,
    timeoutMs: values.timeout === undefined
      ? DEPLOY_TIMEOUT_MS_DEFAULT
      : parseDuration(values.timeout),
    volumes: values.volumes ?? false,
  };
}

/**
 * Reads a stack file's `x-tp0` field.
 * @throws {Error} when the file is missing, not YAML, or not from gen_compose
 */
export async function readStackMeta(file: string): Promise<StackMeta> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    throw new Error(
      `${file} not found: generate it first, e.g. deno task compose 5 --target swarm`,
    );
  }
  try {
    return stackMeta(load(text, { schema: YAML11_SCHEMA }));
  } catch (error) {
    throw new Error(`${file}: ${firstLine((error as Error).message)}`);
  }
}

/** Fails unless this engine is a swarm manager. */
async function _requireManager(): Promise<void> {
  const engine = await dockerEngineStatus();
  if (!engine.reachable) throw new Error(noEngineMessage(engine.reason));
  const swarm = await swarmState();
  if (swarm.state !== "active") {
    throw new Error(
      `this engine is in no swarm (state ${swarm.state || "unknown"}): docker swarm init ` +
        "(one machine: docker swarm init --advertise-addr 127.0.0.1); see docs/DEPLOY.md",
    );
  }
  if (!swarm.manager) throw new Error("this node is no swarm manager: deploy from a manager");
}

/** Labels a single node as the file asks; on several nodes says what to run. */
async function _ensureLabels(meta: StackMeta): Promise<void> {
  const nodes = await swarmNodes();
  const missing = missingLabels(nodes, meta.labels);
  if (missing.length === 0) return;
  if (nodes.length === 1) {
    await addNodeLabels(nodes[0]!.id, missing);
    console.log(`single-node swarm: labelled ${nodes[0]!.hostname} ${missing.join(", ")} (=true)`);
    return;
  }
  const commands = missing.map((label) => labelCommand([label], "<node>").join(" "));
  throw new Error(
    `no node carries ${missing.join(", ")}: label the node that holds the storage volume ` +
      `(tp0.storage) and each agency's data (tp0.agency.<k>), e.g. ${commands[0]}` +
      (commands.length > 1 ? ` (and ${commands.length - 1} more)` : ""),
  );
}

/** Builds the file's two images from this repository (cached); pushes registry ones. */
async function _images(meta: StackMeta): Promise<boolean> {
  if (await imageId(DENO_IMAGE) === undefined) {
    throw new Error(
      `${DENO_IMAGE} is missing: run deno task images (pulls it, or builds a stand-in)`,
    );
  }
  const [serverTag, clientTag] = meta.images;
  const images: AppImage[] = [
    { tag: serverTag ?? SERVER_IMAGE.tag, dockerfile: SERVER_IMAGE.dockerfile },
    { tag: clientTag ?? CLIENT_IMAGE.tag, dockerfile: CLIENT_IMAGE.dockerfile },
  ];
  const context = new URL("..", import.meta.url).pathname.replace(/\/$/, ""); // the repository root
  const registry = images.some((image) => hasRegistry(image.tag)) ||
    (meta.databaseImage !== undefined && hasRegistry(meta.databaseImage));
  if (meta.databaseImage !== undefined) await _databaseImage(meta.databaseImage);
  for (const image of images) {
    await buildImage(image, context, APP_BUILD_ARGS);
    console.log(`built ${image.tag} (${(await imageId(image.tag))?.slice(0, 19)})`);
    if (!hasRegistry(image.tag)) continue;
    const push = await runCommand(["docker", "push", image.tag], { timeoutMs: 10 * 60_000 });
    if (push.code !== 0) {
      throw new Error(`docker push ${image.tag} failed: ${firstLine(push.stderr)}`);
    }
    console.log(`pushed ${image.tag}`);
  }
  return registry;
}

/** The database image is made by deno task images, never built here; a
 * registry reference gets the local image tagged and pushed. */
async function _databaseImage(tag: string): Promise<void> {
  if (await imageId(POSTGRES_IMAGE) === undefined) {
    throw new Error(
      `${POSTGRES_IMAGE} is missing: run deno task images (it builds it from Debian's postgresql)`,
    );
  }
  if (!hasRegistry(tag)) return;
  for (const step of [["tag", POSTGRES_IMAGE, tag], ["push", tag]]) {
    const result = await runCommand(["docker", ...step], { timeoutMs: 10 * 60_000 });
    if (result.code !== 0) {
      throw new Error(`docker ${step.join(" ")} failed: ${firstLine(result.stderr)}`);
    }
  }
  console.log(`pushed ${tag}`);
}

function _describe(progress: StackProgress, agencies: number): string {
  return `server ${progress.serverRunning ? "running" : "not running"}, ` +
    `${progress.done.length}/${agencies} agencies done` +
    (progress.errors.length > 0 ? `; ${progress.errors.join("; ")}` : "");
}

/** Prints each agency's winners and the draw from the services' logs. */
async function _report(meta: StackMeta): Promise<boolean> {
  let ok = true;
  for (let agency = 1; agency <= meta.agencies; agency += 1) {
    const answers = linesOf(
      await serviceLogs(`${meta.stack}_client${agency}`),
      "consulta_ganadores",
    );
    const winners = fieldOf(answers.at(-1) ?? "", "cant_ganadores");
    if (winners === undefined) ok = false;
    console.log(`agency ${agency}: ${winners ?? "no answer in its log"} winners`);
  }
  const draws = drawsMade(await serviceLogs(`${meta.stack}_server`));
  console.log(
    `server: ${draws} draw${draws === 1 ? "" : "s"} (action: sorteo)` +
      (draws === 0
        ? `: its store held a finished lottery already (a fresh one: deno task undeploy --volumes)`
        : ""),
  );
  return ok && draws <= 1;
}

async function _deploy(args: StackTaskArgs): Promise<number> {
  const meta = await readStackMeta(args.file);
  await _requireManager();
  const versions = await dockerVersions();
  const problem = meta.agencyMode === "job" ? jobModeProblem(versions) : undefined;
  if (problem !== undefined) {
    throw new Error(
      `${problem}: regenerate with deno task compose N --target swarm --agency-mode restart`,
    );
  }
  await _ensureLabels(meta);
  const registry = await _images(meta);
  const command = deployCommand(args.file, meta.stack, {
    registry,
    detachFlag: knowsDetachFlag(versions),
  });
  const code = await runAttached(command);
  if (code !== 0) throw new Error(`${command.join(" ")} exited ${code}`);
  if (args.detach || meta.agencies === 0) return 0;
  console.log(`waiting up to ${args.timeoutMs / 1000} s for ${meta.agencies} agencies …`);
  const progress = await waitForAgencies(meta.stack, meta.agencies, args.timeoutMs, (now) => {
    console.log(_describe(now, meta.agencies));
  });
  if (progress.waiting.length > 0) {
    console.error(
      `agencies ${progress.waiting.join(", ")} not done within ${args.timeoutMs / 1000} s: ` +
        `docker service logs ${meta.stack}_client${progress.waiting[0]}`,
    );
    return 1;
  }
  return (await _report(meta)) ? 0 : 1;
}

async function _undeploy(args: StackTaskArgs): Promise<number> {
  const meta = await readStackMeta(args.file);
  await _requireManager();
  await removeStack(meta.stack, UNDEPLOY_TIMEOUT_MS);
  console.log(`removed stack ${meta.stack}: services, containers, network, configs and secrets`);
  if (!args.volumes) return 0;
  for (const key of meta.volumes ?? [STACK_STORAGE_VOLUME_KEY]) {
    const volume = `${meta.stack}_${key}`;
    const removed = await runCommand(["docker", "volume", "rm", volume], { timeoutMs: 30_000 });
    if (removed.code !== 0 && !/no such volume/i.test(removed.stderr)) {
      throw new Error(`docker volume rm ${volume}: ${firstLine(removed.stderr)}`);
    }
    console.log(`removed volume ${volume} on this node (other nodes keep theirs)`);
  }
  return 0;
}

function _run(args: StackTaskArgs): Promise<number> {
  return args.action === "deploy" ? _deploy(args) : _undeploy(args);
}

if (import.meta.main) await runProgram("stack_task", _USAGE, parseStackTaskArgs, _run);
