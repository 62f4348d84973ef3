/**
 * The Docker engine as the tasks, scripts and tests see it: is it reachable,
 * which compose binary is installed, build and inspect images. Shared so every
 * caller gives the same one-line answer when there is no engine.
 */

import type { AppImage } from "./images.ts";
import {
  type CommandResult,
  EXIT_NOT_INSTALLED,
  firstLine,
  runCommand,
} from "../runtime/run_command.ts";

/** Deadline for quick engine queries (version, inspect). */
export const DOCKER_QUERY_TIMEOUT_MS = 20_000;

/** Deadline for one image build; a cold build fetches npm packages. */
const DOCKER_BUILD_TIMEOUT_MS = 10 * 60_000;

/** What to do without an engine; every "no engine" message ends with it. */
const NO_ENGINE_ADVICE = "run the system without containers instead: deno task demo";

/** Whether a Docker engine answers, and if not, why. */
export type EngineStatus =
  | { reachable: true; serverVersion: string }
  | { reachable: false; reason: string };

/**
 * Asks the engine for its version.
 * @returns reachable with the server version, or unreachable with the reason
 */
export async function dockerEngineStatus(): Promise<EngineStatus> {
  const result = await runCommand(
    ["docker", "version", "--format", "{{.Server.Version}}"],
    { timeoutMs: DOCKER_QUERY_TIMEOUT_MS },
  );
  if (result.code === 0 && result.stdout.trim() !== "") {
    return { reachable: true, serverVersion: result.stdout.trim() };
  }
  if (result.code === EXIT_NOT_INSTALLED) {
    return { reachable: false, reason: "the docker CLI is not installed" };
  }
  if (result.timedOut) {
    return {
      reachable: false,
      reason: `docker version gave no answer within ${DOCKER_QUERY_TIMEOUT_MS / 1000}s`,
    };
  }
  return {
    reachable: false,
    reason: firstLine(result.stderr) || `docker version exited ${result.code}`,
  };
}

/**
 * The one line printed when no engine answers.
 * @example noEngineMessage("Cannot connect to the Docker daemon")
 */
export function noEngineMessage(reason: string): string {
  return `No Docker engine reachable (${reason}); ${NO_ENGINE_ADVICE}`;
}

let _composeCommand: Promise<string[] | undefined> | undefined;

/**
 * Finds the compose binary: the `docker compose` v2 plugin if installed,
 * else the standalone `docker-compose` v1.
 * @returns the argv prefix to run compose, or undefined when neither exists
 */
export function findComposeCommand(): Promise<string[] | undefined> {
  _composeCommand ??= (async () => {
    for (const argv of [["docker", "compose"], ["docker-compose"]]) {
      const probe = await runCommand([...argv, "version"], {
        timeoutMs: DOCKER_QUERY_TIMEOUT_MS,
      });
      if (probe.code === 0) return argv;
    }
    return undefined;
  })();
  return _composeCommand;
}

/**
 * The image id a tag points to.
 * @returns the `sha256:…` id, or undefined when the image is not present
 */
export async function imageId(tag: string): Promise<string | undefined> {
  const result = await runCommand(
    ["docker", "image", "inspect", "--format", "{{.Id}}", tag],
    { timeoutMs: DOCKER_QUERY_TIMEOUT_MS },
  );
  return result.code === 0 ? result.stdout.trim() : undefined;
}

/**
 * Builds one application image with the classic builder's syntax only.
 * @param contextDir the repository root (its .dockerignore applies)
 * @param buildArgs `--build-arg` values, e.g. the pinned DENO_VERSION
 * @returns the build's output
 * @throws {Error} quoting the tail of the build output when the build fails
 */
export async function buildImage(
  image: AppImage,
  contextDir: string,
  buildArgs: Readonly<Record<string, string>>,
): Promise<CommandResult> {
  const args = Object.entries(buildArgs).flatMap((
    [name, value],
  ) => ["--build-arg", `${name}=${value}`]);
  const result = await runCommand(
    [
      "docker",
      "build",
      "--force-rm",
      "--file",
      `${contextDir}/${image.dockerfile}`,
      "--tag",
      image.tag,
      ...args,
      contextDir,
    ],
    { timeoutMs: DOCKER_BUILD_TIMEOUT_MS },
  );
  if (result.code !== 0) {
    const tail = (result.stdout + result.stderr).trim().split("\n").slice(-8)
      .join("\n");
    throw new Error(
      `Cannot build ${image.tag} from ${image.dockerfile}${
        result.timedOut ? " (timed out)" : ""
      }:\n${tail}`,
    );
  }
  return result;
}
