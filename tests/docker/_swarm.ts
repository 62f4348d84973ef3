/**
 * Shared setup of the swarm tests: a single-node swarm made for the test
 * when the engine is in none (and left again afterwards, gateway bridge
 * included), node labels put back as found, and throw-away stacks with their
 * own name, image tags, config, data and credentials, removed even when a
 * test fails.
 */

import { formatAgencyRow } from "../../lib/bet/bet_csv.ts";
import type { Bet } from "../../lib/bet/bet.ts";
import { generateAgencyBets } from "../../lib/dev/bet_generator.ts";
import { makeDevCredentials } from "../../lib/dev/dev_credentials.ts";
import type { CredentialChoice } from "../../lib/containers/credentials.ts";
import { ADMIN_PORT_DEFAULT } from "../../lib/containers/compose_document.ts";
import { BUSYBOX_IMAGE, DENO_IMAGE } from "../../lib/containers/images.ts";
import {
  type AgencyMode,
  STACK_STORAGE_VOLUME_KEY,
  type StackOptions,
} from "../../lib/containers/stack_document.ts";
import {
  removeNodeLabels,
  removeStack,
  type SwarmNode,
  swarmNodes,
  swarmState,
} from "../../lib/containers/swarm.ts";
import { type CommandResult, runCommand } from "../../lib/runtime/run_command.ts";
import { renderStack, stackOptionsFor } from "../../lib/containers/compose_file.ts";
import {
  buildBusyboxStandin,
  buildDenoStandin,
  ensureImage,
  PULL_TIMEOUT_MS_DEFAULT,
} from "../../tools/images.ts";
import { ensureDatabaseImage, REPO_DIR, writeProjectConfig } from "./_harness.ts";
import { DATABASE_VOLUME_KEY } from "../../lib/containers/database_service.ts";

/** Bound on one docker call of these tests. */
const _STEP_MS = 120_000;

/** The network swarm init creates beside the overlay ones; gone after leave only if removed. */
const _GATEWAY_BRIDGE = "docker_gwbridge";

async function _docker(args: string[], timeoutMs = _STEP_MS): Promise<CommandResult> {
  const result = await runCommand(["docker", ...args], { timeoutMs });
  if (result.code !== 0) {
    throw new Error(`docker ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
  }
  return result;
}

async function _networkExists(name: string): Promise<boolean> {
  const result = await runCommand(["docker", "network", "inspect", name], { timeoutMs: _STEP_MS });
  return result.code === 0;
}

/**
 * Runs `body` on a single-node swarm. When the engine is in no swarm, one is
 * made (advertised and listening on 127.0.0.1 only) and left afterwards,
 * with the gateway bridge it created; otherwise the labels `body` added to
 * the nodes are removed. One swarm user at a time across test processes.
 */
export async function withSwarm(body: (node: SwarmNode) => Promise<void>): Promise<void> {
  const lockPath = `${Deno.env.get("TMPDIR") ?? "/tmp"}/tp0-swarm-test.lock`;
  using lock = await Deno.open(lockPath, { create: true, write: true });
  await lock.lock(true);
  const before = await swarmState();
  const bridgeBefore = await _networkExists(_GATEWAY_BRIDGE);
  let initialised = false;
  if (before.state === "inactive") {
    await _docker([
      "swarm",
      "init",
      "--advertise-addr",
      "127.0.0.1",
      "--listen-addr",
      "127.0.0.1:2377",
    ]);
    initialised = true;
  } else if (before.state !== "active" || !before.manager) {
    throw new Error(
      `the engine's swarm is ${before.state} (manager: ${before.manager}): cannot test on it`,
    );
  }
  const nodesBefore = await swarmNodes();
  try {
    const node = nodesBefore.find((candidate) => candidate.id === (before.nodeId || candidate.id));
    await body(node ?? (await swarmNodes())[0]!);
  } finally {
    if (initialised) {
      await _docker(["swarm", "leave", "--force"]);
      if (!bridgeBefore && await _networkExists(_GATEWAY_BRIDGE)) {
        await _docker(["network", "rm", _GATEWAY_BRIDGE]);
      }
    } else {
      for (const node of await swarmNodes()) {
        const had = nodesBefore.find((old) => old.id === node.id)?.labels ?? {};
        await removeNodeLabels(node.id, Object.keys(node.labels).filter((key) => !(key in had)));
      }
    }
    await lock.unlock();
  }
}

/** One agency of a test stack: its bets and winners. */
export interface StackAgency {
  bets: number;
  winners: number;
}

/** What a throw-away stack runs. */
export interface StackSpec {
  /** Short lowercase label for names, e.g. `tls`. */
  label: string;
  agencies: readonly StackAgency[];
  agencyMode: AgencyMode;
  /** Credentials to make and hand out; undefined: none. */
  credentials?: Omit<CredentialChoice, "dir">;
  clientConfig?: (config: Record<string, Record<string, unknown>>) => void;
  /** `--store postgres`, with this many server replicas. */
  database?: { replicas: number };
}

/** A deployed (or deployable) stack. */
export interface TestStack {
  name: string;
  dir: string;
  file: string;
  /** Each agency's generated bets, in file order. */
  bets: Bet[][];
  /** The credentials directory, when the spec asked for credentials. */
  credentials: string | undefined;
  /** What the stack file was rendered from (images under the stack's own tags). */
  options: StackOptions;
}

async function _writeData(dir: string, agencies: readonly StackAgency[]): Promise<Bet[][]> {
  await Deno.mkdir(`${dir}/data`);
  const all: Bet[][] = [];
  for (const [index, spec] of agencies.entries()) {
    const bets = [...generateAgencyBets({ agency: index + 1, seed: 13, ...spec })];
    all.push(bets);
    await Deno.writeTextFile(
      `${dir}/data/agency-${index + 1}.csv`,
      bets.map(formatAgencyRow).join(""),
    );
  }
  return all;
}

/**
 * Runs `body` with a stack file for `spec` in a temporary directory (its
 * images under tags of its own, so no other build moves them), then removes
 * the stack, its volume, its image tags and the directory.
 */
export async function withStack(spec: StackSpec, body: (stack: TestStack) => Promise<void>) {
  await ensureImage(DENO_IMAGE, buildDenoStandin, PULL_TIMEOUT_MS_DEFAULT, () => {});
  await ensureImage(BUSYBOX_IMAGE, buildBusyboxStandin, PULL_TIMEOUT_MS_DEFAULT, () => {});
  if (spec.database !== undefined) await ensureDatabaseImage();
  const id = crypto.randomUUID().slice(0, 6);
  const name = `tp0e2e${spec.label}${id}`;
  // The data must be readable by the containers' deno user (uid 1993).
  const dir = await Deno.makeTempDir({ prefix: `tp0_swarm_${spec.label}_` });
  await Deno.chmod(dir, 0o755);
  const images = { server: `tp0-test/server:swarm-${id}`, client: `tp0-test/client:swarm-${id}` };
  const credentials = spec.credentials === undefined ? undefined : `${dir}/credentials`;
  try {
    await writeProjectConfig(dir, spec);
    const bets = await _writeData(dir, spec.agencies);
    if (credentials !== undefined) {
      await makeDevCredentials({
        dir: credentials,
        agencies: spec.agencies.length,
        serverNames: ["server"],
        days: 1,
      });
    }
    const options = await stackOptionsFor({
      clients: spec.agencies.length,
      target: "swarm",
      mode: "lottery",
      output: `${dir}/stack.yaml`,
      configDir: `${dir}/config`,
      dataDir: `${dir}/data`,
      drawId: undefined,
      adminPort: ADMIN_PORT_DEFAULT,
      credentials: credentials === undefined
        ? undefined
        : { dir: credentials, ...spec.credentials! },
      store: spec.database === undefined ? "file" : "postgres",
      swarm: {
        stack: name,
        agencyMode: spec.agencyMode,
        attachable: false,
        publishTls: false,
        registry: "",
        replicas: spec.database?.replicas ?? 1,
      },
    });
    const file = `${dir}/stack.yaml`;
    const own = { ...options, serverImage: images.server, clientImage: images.client };
    await Deno.writeTextFile(file, renderStack(own));
    await body({ name, dir, file, bets, credentials, options: own });
  } finally {
    // Only a swarm has stacks (the stack-file checks run without one).
    if ((await swarmState()).state === "active") {
      await removeStack(name, _STEP_MS).catch((error) =>
        console.error(`cleanup of stack ${name} failed: ${(error as Error).message}`)
      );
    }
    for (const key of [STACK_STORAGE_VOLUME_KEY, DATABASE_VOLUME_KEY]) {
      await runCommand(["docker", "volume", "rm", `${name}_${key}`], { timeoutMs: _STEP_MS });
    }
    await runCommand(["docker", "image", "rm", images.server, images.client], {
      timeoutMs: _STEP_MS,
    });
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `deno task deploy` (tools/stack_task.ts) on a stack file; returns its output lines. */
export async function deployStack(file: string, ...flags: string[]): Promise<string[]> {
  const result = await runCommand(
    [
      Deno.execPath(),
      "run",
      "--allow-run",
      "--allow-read",
      "--allow-env",
      `${REPO_DIR}/tools/stack_task.ts`,
      "deploy",
      "--file",
      file,
      ...flags,
    ],
    { timeoutMs: 6 * 60_000 },
  );
  const lines = (result.stdout + result.stderr).split("\n").filter((line) => line !== "");
  if (result.code !== 0) {
    throw new Error(`deno task deploy exited ${result.code}:\n${lines.slice(-15).join("\n")}`);
  }
  return lines;
}

/** The stack's bets file (of its one draw), copied out of its volume with a throw-away busybox. */
export async function readStoredBets(stack: string, into: string): Promise<string> {
  const result = await _docker([
    "run",
    "--rm",
    "--network",
    "none",
    "--volume",
    `${stack}_${STACK_STORAGE_VOLUME_KEY}:/s:ro`,
    BUSYBOX_IMAGE,
    "sh",
    "-c",
    "cat /s/draws/*/bets.csv",
  ]);
  await Deno.writeTextFile(into, result.stdout);
  return into;
}

/** Everything `docker inspect` says about a stack's services, containers and network. */
export async function inspectStack(stack: string): Promise<string> {
  const filter = `label=com.docker.stack.namespace=${stack}`;
  const ids = async (args: string[]) =>
    (await _docker(args)).stdout.split("\n").filter((line) => line !== "");
  const services = await ids(["service", "ls", "--quiet", "--filter", filter]);
  const containers = await ids(["ps", "--all", "--quiet", "--filter", filter]);
  const parts = [
    (await _docker(["service", "inspect", ...services])).stdout,
    (await _docker(["inspect", ...containers])).stdout,
    (await _docker(["network", "inspect", `${stack}_testing_net`])).stdout,
  ];
  return parts.join("\n");
}

/** The ids of a service's running task containers (this node's). */
export async function runningContainers(stack: string, service: string): Promise<string[]> {
  const result = await _docker([
    "ps",
    "--quiet",
    "--filter",
    `label=com.docker.swarm.service.name=${stack}_${service}`,
    "--filter",
    "status=running",
  ]);
  return result.stdout.split("\n").filter((id) => id !== "");
}

/**
 * The log lines of every task container of a service on this node, running
 * or exited, read with `docker logs` one container at a time (`docker service
 * logs` can fail while swarm replaces a killed task).
 */
export async function taskLogs(stack: string, service: string): Promise<string[]> {
  const ids = (await _docker([
    "ps",
    "--all",
    "--quiet",
    "--filter",
    `label=com.docker.swarm.service.name=${stack}_${service}`,
  ])).stdout.split("\n").filter((id) => id !== "");
  const lines: string[] = [];
  for (const id of ids) {
    const logs = await _docker(["logs", id]);
    lines.push(...`${logs.stdout}${logs.stderr}`.split("\n").filter((line) => line !== ""));
  }
  return lines;
}

/** The id of the server's running task container. */
export async function serverContainer(stack: string): Promise<string> {
  const id = (await runningContainers(stack, "server"))[0];
  if (id === undefined) throw new Error(`no running container of ${stack}_server`);
  return id;
}
