/**
 * The Docker engine as a swarm, for `deno task deploy` / `undeploy` and the
 * swarm tests: its state, its nodes and their labels, the tasks of a stack
 * and how far its agency jobs got. Pure parts (parsing, progress, the
 * commands) are split from the calls so they are tested without an engine.
 */

import { firstLine, runCommand } from "../runtime/run_command.ts";
import { DOCKER_QUERY_TIMEOUT_MS } from "./docker.ts";

/** Whether this engine is a swarm manager. */
export interface SwarmState {
  /** `inactive`, `pending`, `active`, `error` or `locked`. */
  state: string;
  manager: boolean;
  nodeId: string;
}

/** One node of the swarm. */
export interface SwarmNode {
  id: string;
  hostname: string;
  labels: Record<string, string>;
}

/** One task row of `docker stack ps`. */
export interface TaskRow {
  /** The service's full name, e.g. `tp0_client3`. */
  service: string;
  /** e.g. `Running 3 seconds ago`, `Complete 1 second ago`, `Pending …`. */
  currentState: string;
  desiredState: string;
  error: string;
}

/** How far a stack's server and agencies are. */
export interface StackProgress {
  serverRunning: boolean;
  /** Agencies with a task that completed (exit 0). */
  done: number[];
  /** Agencies without one yet. */
  waiting: number[];
  /** The latest error of each service that has one, e.g. `client2: no suitable node`. */
  errors: string[];
}

/** Docker CLI and engine API versions. */
export interface DockerVersions {
  client: string;
  serverApi: string;
}

/** A task of a job that finished with exit 0 shows this state. */
const _COMPLETE = /^Complete\b/;

/** How often the waits look at the swarm again. */
const _POLL_MS = 1_000;

/**
 * Parses `docker stack ps --format '{{.Name}}\t{{.CurrentState}}\t{{.DesiredState}}\t{{.Error}}'`.
 * @example parseStackPs("tp0_server.1\tRunning 2 seconds ago\tRunning\t")[0].service // "tp0_server"
 */
export function parseStackPs(text: string): TaskRow[] {
  return text.split("\n").filter((line) => line.trim() !== "").map((line) => {
    const [name = "", currentState = "", desiredState = "", error = ""] = line.split("\t");
    // Task names are <service>.<slot> or <service>.<node id> (older tasks of a
    // slot may come as `\_ <name>`); stack names hold no dot.
    const service = name.trim().replace(/^\\_\s*/, "").split(".")[0]!;
    return { service, currentState: currentState.trim(), desiredState, error: error.trim() };
  });
}

/**
 * Where a stack's agencies are: done once a task completed.
 * @param rows every task of the stack, newest first as `docker stack ps` lists them
 */
export function stackProgress(rows: readonly TaskRow[], stack: string, agencies: number) {
  const done: number[] = [];
  const waiting: number[] = [];
  for (let agency = 1; agency <= agencies; agency += 1) {
    const service = `${stack}_client${agency}`;
    const complete = rows.some((row) =>
      row.service === service && _COMPLETE.test(row.currentState)
    );
    (complete ? done : waiting).push(agency);
  }
  const errors: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    if (row.error === "" || seen.has(row.service)) continue;
    seen.add(row.service);
    errors.push(`${row.service.slice(stack.length + 1)}: ${row.error.replace(/^"|"$/g, "")}`);
  }
  const serverRunning = rows.some((row) =>
    row.service === `${stack}_server` && /^Running\b/.test(row.currentState)
  );
  return { serverRunning, done, waiting, errors } satisfies StackProgress;
}

/**
 * The labels no node carries as `key=true`.
 * @example missingLabels([{ id: "a", hostname: "h", labels: { x: "true" } }], ["x", "y"]) // ["y"]
 */
export function missingLabels(nodes: readonly SwarmNode[], labels: readonly string[]): string[] {
  return labels.filter((label) => !nodes.some((node) => node.labels[label] === "true"));
}

/** The command that puts labels on a node. */
export function labelCommand(labels: readonly string[], node: string): string[] {
  return [
    "docker",
    "node",
    "update",
    ...labels.flatMap((label) => ["--label-add", `${label}=true`]),
    node,
  ];
}

/** The major and minor of a version like `28.2.2`, `20.10.24+dfsg1` or `1.41`. */
function _majorMinor(version: string): [number, number] {
  const [major = "0", minor = "0"] = version.split(/[.+-]/);
  return [Number(major) || 0, Number(minor) || 0];
}

/**
 * Why swarm jobs cannot be deployed with these versions, or undefined when
 * they can: the engine needs API 1.41 (engine 20.10), and `docker stack
 * deploy` reads `mode: replicated-job` only from docker CLI 23.0 (CLI 20.10
 * answers "Unknown mode: replicated-job").
 */
export function jobModeProblem(versions: DockerVersions): string | undefined {
  const [apiMajor, apiMinor] = _majorMinor(versions.serverApi);
  if (apiMajor < 1 || (apiMajor === 1 && apiMinor < 41)) {
    return `engine API ${versions.serverApi} has no swarm jobs (API 1.41, engine 20.10, adds them)`;
  }
  if (_majorMinor(versions.client)[0] < 23) {
    return `docker CLI ${versions.client} cannot deploy replicated-job services from a stack file (CLI 23.0 can)`;
  }
  return undefined;
}

/**
 * How many `sorteo` lines of a server's log made the draw. With several
 * replicas on one database each logs the draw, and those that learnt it
 * from another replica say so with a `made_by` field.
 * @example drawsMade(["… action: sorteo | result: success | draw_id: d"]) // 1
 */
export function drawsMade(lines: readonly string[]): number {
  return lines.filter((line) =>
    / action: sorteo \| result: success\b/.test(line) && !/\| made_by: /.test(line)
  ).length;
}

/** Whether an image reference names a registry (`host[:port]/…` with a dot, a port or localhost). */
export function hasRegistry(image: string): boolean {
  const [first, ...rest] = image.split("/");
  return rest.length > 0 && first !== undefined &&
    (first.includes(".") || first.includes(":") || first === "localhost");
}

/**
 * The `docker stack deploy` command. Local images are not in any registry,
 * so the digest lookup is off (`--resolve-image never`); images from a
 * registry are pinned to their digest and the nodes get the login.
 * @param detachFlag whether the CLI knows `--detach` (23.0+; older ones never wait)
 */
export function deployCommand(
  file: string,
  stack: string,
  options: { registry: boolean; detachFlag: boolean },
): string[] {
  return [
    "docker",
    "stack",
    "deploy",
    "--compose-file",
    file,
    ...(options.registry ? ["--with-registry-auth", "--resolve-image", "always"] : [
      "--resolve-image",
      "never",
    ]),
    ...(options.detachFlag ? ["--detach=true"] : []),
    stack,
  ];
}

async function _docker(args: string[]): Promise<string> {
  const result = await runCommand(["docker", ...args], { timeoutMs: DOCKER_QUERY_TIMEOUT_MS });
  if (result.code !== 0) {
    throw new Error(
      `docker ${args.slice(0, 2).join(" ")} failed: ${
        firstLine(result.stderr) || `exit ${result.code}`
      }`,
    );
  }
  return result.stdout;
}

/** This engine's swarm state. */
export async function swarmState(): Promise<SwarmState> {
  const text = await _docker([
    "info",
    "--format",
    "{{.Swarm.LocalNodeState}}|{{.Swarm.ControlAvailable}}|{{.Swarm.NodeID}}",
  ]);
  const [state = "", manager = "", nodeId = ""] = text.trim().split("|");
  return { state, manager: manager === "true", nodeId };
}

/** Every node with its labels (needs a manager). */
export async function swarmNodes(): Promise<SwarmNode[]> {
  const ids = (await _docker(["node", "ls", "--quiet"])).split("\n").filter((id) => id !== "");
  if (ids.length === 0) return [];
  const text = await _docker([
    "node",
    "inspect",
    "--format",
    "{{.ID}}|{{.Description.Hostname}}|{{json .Spec.Labels}}",
    ...ids,
  ]);
  return text.split("\n").filter((line) => line !== "").map((line) => {
    const [id = "", hostname = "", labels = "{}"] = line.split("|");
    return { id, hostname, labels: (JSON.parse(labels) ?? {}) as Record<string, string> };
  });
}

/** Adds `label=true` for each label to a node. */
export async function addNodeLabels(node: string, labels: readonly string[]): Promise<void> {
  if (labels.length > 0) await _docker(labelCommand(labels, node).slice(1));
}

/** Removes labels from a node (tests restore what they found). */
export async function removeNodeLabels(node: string, labels: readonly string[]): Promise<void> {
  if (labels.length === 0) return;
  await _docker(["node", "update", ...labels.flatMap((label) => ["--label-rm", label]), node]);
}

/** The CLI's version and the engine's API version. */
export async function dockerVersions(): Promise<DockerVersions> {
  const text = await _docker(["version", "--format", "{{.Client.Version}}|{{.Server.APIVersion}}"]);
  const [client = "", serverApi = ""] = text.trim().split("|");
  return { client, serverApi };
}

/** Whether the CLI knows `docker stack deploy --detach` (23.0 and later). */
export function knowsDetachFlag(versions: DockerVersions): boolean {
  return _majorMinor(versions.client)[0] >= 23;
}

/** Every task of a stack (an empty list once it is gone). */
export async function stackTasks(stack: string): Promise<TaskRow[]> {
  const result = await runCommand([
    "docker",
    "stack",
    "ps",
    "--no-trunc",
    "--format",
    "{{.Name}}\t{{.CurrentState}}\t{{.DesiredState}}\t{{.Error}}",
    stack,
  ], { timeoutMs: DOCKER_QUERY_TIMEOUT_MS });
  if (result.code !== 0) {
    if (/nothing found in stack/i.test(result.stderr)) return [];
    throw new Error(`docker stack ps ${stack} failed: ${firstLine(result.stderr)}`);
  }
  return parseStackPs(result.stdout);
}

/**
 * Polls the stack until every agency has a completed task.
 * @param onChange called whenever the progress looks different
 * @returns the last progress seen: complete, or what it was at the deadline
 */
export async function waitForAgencies(
  stack: string,
  agencies: number,
  timeoutMs: number,
  onChange: (progress: StackProgress) => void = () => {},
): Promise<StackProgress> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (true) {
    const progress = stackProgress(await stackTasks(stack), stack, agencies);
    const key = JSON.stringify(progress);
    if (key !== last) onChange(progress);
    last = key;
    if (progress.waiting.length === 0 || Date.now() >= deadline) return progress;
    await new Promise((resolve) => setTimeout(resolve, _POLL_MS));
  }
}

/** A service's log lines, every task's, without docker's prefixes. */
export async function serviceLogs(service: string): Promise<string[]> {
  const result = await runCommand(["docker", "service", "logs", "--raw", service], {
    timeoutMs: DOCKER_QUERY_TIMEOUT_MS,
  });
  if (result.code !== 0) {
    throw new Error(`docker service logs ${service} failed: ${firstLine(result.stderr)}`);
  }
  return (result.stdout + result.stderr).split("\n").filter((line) => line !== "");
}

/** What of a stack is still there, by kind (services, containers, networks, configs, secrets). */
async function stackLeftovers(stack: string): Promise<string[]> {
  const filter = `label=com.docker.stack.namespace=${stack}`;
  const left: string[] = [];
  const kinds: [string, string[]][] = [
    ["service", ["service", "ls", "--quiet", "--filter", filter]],
    ["container", ["ps", "--all", "--quiet", "--filter", filter]],
    ["network", ["network", "ls", "--quiet", "--filter", filter]],
    ["config", ["config", "ls", "--quiet", "--filter", filter]],
    ["secret", ["secret", "ls", "--quiet", "--filter", filter]],
  ];
  for (const [kind, args] of kinds) {
    const count = (await _docker(args)).split("\n").filter((id) => id !== "").length;
    if (count > 0) left.push(`${count} ${kind}${count === 1 ? "" : "s"}`);
  }
  return left;
}

/**
 * `docker stack rm`, then waits until the stack's services, containers,
 * network, configs and secrets are gone (they go in the background, and a
 * deploy right after would find the network still there). Engine 20.10
 * keeps the exited containers of completed jobs after their service is
 * gone: those of this node are removed here.
 * @throws {Error} when something is left after `timeoutMs`
 */
export async function removeStack(stack: string, timeoutMs: number): Promise<void> {
  const result = await runCommand(["docker", "stack", "rm", stack], {
    timeoutMs: DOCKER_QUERY_TIMEOUT_MS,
  });
  if (result.code !== 0) throw new Error(`docker stack rm ${stack}: ${firstLine(result.stderr)}`);
  const filter = `label=com.docker.stack.namespace=${stack}`;
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const left = await stackLeftovers(stack);
    if (left.length === 0) return;
    if (!left.some((kind) => kind.endsWith("service") || kind.endsWith("services"))) {
      const exited =
        (await _docker(["ps", "--all", "--quiet", "--filter", filter, "--filter", "status=exited"]))
          .split("\n").filter((id) => id !== "");
      if (exited.length > 0) await _docker(["container", "rm", ...exited]);
    }
    if (Date.now() >= deadline) {
      throw new Error(`stack ${stack} not gone after ${timeoutMs / 1000} s: ${left.join(", ")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, _POLL_MS));
  }
}
