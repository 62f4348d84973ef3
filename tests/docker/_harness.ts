/**
 * Shared setup of the container tests: engine detection and skipping, images
 * built once per run, and throw-away compose projects with their own config,
 * data and names, removed even when a test fails.
 */

import { parseINI, stringifyINI } from "confbox/ini";
import { dump as stringifyYaml, load as parseYaml } from "js-yaml";
import type { Bet } from "../../lib/bet/bet.ts";
import { formatAgencyRow } from "../../lib/bet/bet_csv.ts";
import { generateAgencyBets } from "../../lib/dev/bet_generator.ts";
import type { ClientMode } from "../../lib/config/client_config.ts";
import { COMPOSE_DEFAULTS } from "../../lib/containers/compose_document.ts";
import type { CredentialChoice } from "../../lib/containers/credentials.ts";
import { makeDevCredentials } from "../../lib/dev/dev_credentials.ts";
import {
  buildImage,
  dockerEngineStatus,
  type EngineStatus,
  findComposeCommand,
  imageId,
  noEngineMessage,
} from "../../lib/containers/docker.ts";
import {
  APP_BUILD_ARGS,
  BUSYBOX_IMAGE,
  CLIENT_IMAGE,
  DENO_IMAGE,
  POSTGRES_IMAGE,
  SERVER_IMAGE,
} from "../../lib/containers/images.ts";
import { type CommandResult, runCommand } from "../../lib/runtime/run_command.ts";
import { renderCompose } from "../../lib/containers/compose_file.ts";
import { newDrawId } from "../../lib/config/draw_id.ts";
import {
  buildBusyboxStandin,
  buildDenoStandin,
  ensureImage,
  ensurePostgresImage,
  hostPostgresBinDir,
  POSTGRES_INSTALL_HINT,
  PULL_TIMEOUT_MS_DEFAULT,
} from "../../tools/images.ts";
import { DATABASE_NAME, newDatabasePassword } from "../../lib/containers/database_service.ts";
import { isCi } from "../helpers/ci_env.ts";

/** The repository root: build context and source of the shipped config. */
export const REPO_DIR = new URL("../../", import.meta.url).pathname.replace(
  /\/$/,
  "",
);

/** Bound on compose up/down/stop and on waiting for a container to exit. */
export const CONTAINER_STEP_TIMEOUT_MS = 120_000;

async function _engine(): Promise<EngineStatus> {
  let engine: EngineStatus;
  try {
    engine = await dockerEngineStatus();
    if (!engine.reachable) return engine;
    if (await findComposeCommand() === undefined) {
      return {
        reachable: false,
        reason: "neither docker compose nor docker-compose is installed",
      };
    }
  } catch (error) {
    // No permission to run docker: the container tests skip, the module loads.
    return { reachable: false, reason: (error as Error).message };
  }
  return engine;
}

/** Whether the engine (and a compose binary) answered at load time. */
export const ENGINE: EngineStatus = await _engine();

let _skipAnnounced = false;

/**
 * Registers a test that needs the engine. Without one it is ignored and one
 * line says why, except under CI=true where the missing engine fails it.
 */
export function containerTest(
  name: string,
  fn: (t: Deno.TestContext) => Promise<void>,
): void {
  if (ENGINE.reachable) {
    Deno.test({ name, fn });
    return;
  }
  const why = noEngineMessage(ENGINE.reason);
  if (isCi()) {
    Deno.test(name, () => {
      throw new Error(`CI=true requires a Docker engine. ${why}`);
    });
    return;
  }
  if (!_skipAnnounced) {
    _skipAnnounced = true;
    console.log(`Skipping container tests: ${why}`);
  }
  Deno.test({ name, ignore: true, fn });
}

/** Why the database image cannot be had here, or undefined when it can. */
async function _noDatabaseImage(): Promise<string | undefined> {
  if (!ENGINE.reachable) return undefined; // containerTest says why
  if (await imageId(POSTGRES_IMAGE) !== undefined) return undefined;
  if (await hostPostgresBinDir() !== undefined) return undefined;
  return `no ${POSTGRES_IMAGE} and no PostgreSQL 15 to build it from (${POSTGRES_INSTALL_HINT})`;
}

const _NO_DATABASE_IMAGE = await _noDatabaseImage().catch((error: Error) => error.message);

/**
 * Registers a container test that also needs the database image of
 * `--store postgres`. Without PostgreSQL on the host to build it from, it is
 * ignored with one line saying what to install, except under CI=true (where
 * .ci/run installs it) where that fails it.
 */
export function databaseContainerTest(
  name: string,
  fn: (t: Deno.TestContext) => Promise<void>,
): void {
  if (_NO_DATABASE_IMAGE === undefined || isCi()) {
    containerTest(name, async (t) => {
      if (_NO_DATABASE_IMAGE !== undefined) throw new Error(_NO_DATABASE_IMAGE);
      await ensureDatabaseImage();
      await fn(t);
    });
    return;
  }
  console.log(`Skipping PostgreSQL container tests: ${_NO_DATABASE_IMAGE}`);
  Deno.test({ name, ignore: true, fn });
}

let _databaseImage: Promise<void> | undefined;

/** The database image present or built once per test process (the build is cheap). */
export function ensureDatabaseImage(): Promise<void> {
  _databaseImage ??= (async () => {
    const lockPath = `${Deno.env.get("TMPDIR") ?? "/tmp"}/tp0-image-build.lock`;
    using lock = await Deno.open(lockPath, { create: true, write: true });
    await lock.lock(true);
    try {
      if (!await ensurePostgresImage(() => {})) throw new Error(`${POSTGRES_IMAGE} is missing`);
    } finally {
      await lock.unlock();
    }
  })();
  return _databaseImage;
}

let _images: Promise<void> | undefined;

async function _buildImagesLocked(): Promise<void> {
  await ensureImage(DENO_IMAGE, buildDenoStandin, PULL_TIMEOUT_MS_DEFAULT, () => {});
  await ensureImage(BUSYBOX_IMAGE, buildBusyboxStandin, PULL_TIMEOUT_MS_DEFAULT, () => {});
  // Test files run in parallel processes: one builds, the others then hit
  // the layer cache.
  const lockPath = `${Deno.env.get("TMPDIR") ?? "/tmp"}/tp0-image-build.lock`;
  using lock = await Deno.open(lockPath, { create: true, write: true });
  await lock.lock(true);
  try {
    for (const image of [SERVER_IMAGE, CLIENT_IMAGE]) {
      await buildImage(image, REPO_DIR, APP_BUILD_ARGS);
    }
  } finally {
    await lock.unlock();
  }
}

/** Base images present (pulled or stand-in) and app images built, once. */
export function ensureTestImages(): Promise<void> {
  _images ??= _buildImagesLocked();
  return _images;
}

/** One agency's generated data: bets and exact winners. */
export interface AgencySpec {
  bets: number;
  winners: number;
}

/** What a throw-away project runs. */
export interface ProjectSpec {
  /** Short label for names, e.g. `echo5`. */
  label: string;
  mode: ClientMode;
  /** Agencies; 0 gives a server-only project. */
  agencies: readonly AgencySpec[];
  /** Changes to client.yaml (parsed), e.g. a short loop period. */
  clientConfig?: (config: Record<string, Record<string, unknown>>) => void;
  /** Changes to server.ini's [DEFAULT] section. */
  serverConfig?: (section: Record<string, string>) => void;
  /** Credentials to make (deno task certs) and hand out with compose secrets. */
  credentials?: Omit<CredentialChoice, "dir">;
  /** `--store postgres`: a database service, the server on it. */
  store?: "postgres";
  /** A directory of agency-<k>.csv to copy (e.g. the repository's data/)
   * instead of generating them; `agencies` then gives only their number. */
  dataFrom?: string;
}

/** A compose project with its own directory, names and network. */
export class TestProject {
  readonly name: string;
  readonly dir: string;
  readonly file: string;
  readonly network: string;
  /** The named volume of the server's storage. */
  readonly storageVolume: string;
  readonly #compose: string[];
  /** Writes agency data and a compose file with a new draw id; returns the id. */
  readonly #deploy: (agencies: readonly AgencySpec[], seed: number) => Promise<string>;
  #drawId = "";

  constructor(
    name: string,
    dir: string,
    compose: string[],
    deploy: (agencies: readonly AgencySpec[], seed: number) => Promise<string>,
  ) {
    this.name = name;
    this.dir = dir;
    this.file = `${dir}/docker-compose.yaml`;
    this.network = `${name}_testing_net`;
    this.storageVolume = `${name}_storage`;
    this.#compose = compose;
    this.#deploy = deploy;
  }

  /** The draw id of the compose file written last. */
  get drawId(): string {
    return this.#drawId;
  }

  /**
   * Writes new agency files (from `seed`) and a new compose file, as
   * `deno task data` and `deno task compose` would: a new draw.
   */
  async deploy(agencies: readonly AgencySpec[], seed: number): Promise<void> {
    this.#drawId = await this.#deploy(agencies, seed);
  }

  /** The container name of a service (`server`, `client1`, …). */
  container(service: string): string {
    return `${this.name}-${service}`;
  }

  /** Runs a compose subcommand for this project. */
  compose(...args: string[]): Promise<CommandResult> {
    return runCommand(
      [...this.#compose, "--project-name", this.name, "--file", this.file, ...args],
      { timeoutMs: CONTAINER_STEP_TIMEOUT_MS },
    );
  }

  /** Runs a compose subcommand and fails with its output if it fails. */
  async composeOk(...args: string[]): Promise<CommandResult> {
    const result = await this.compose(...args);
    if (result.code !== 0) {
      throw new Error(`compose ${args.join(" ")} exited ${result.code}:\n${result.stderr}`);
    }
    return result;
  }

  /** A service's log lines so far (stdout and stderr). */
  async logs(service: string): Promise<string[]> {
    const result = await runCommand(["docker", "logs", this.container(service)], {
      timeoutMs: CONTAINER_STEP_TIMEOUT_MS,
    });
    return (result.stdout + result.stderr).split("\n").filter((line) => line !== "");
  }

  /** Waits until a service logs a line containing `marker`. */
  async waitForLog(service: string, marker: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.logs(service)).some((line) => line.includes(marker))) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(
      `${this.container(service)} did not log "${marker}" within ${timeoutMs} ms:\n${
        (await this.logs(service)).slice(-10).join("\n")
      }`,
    );
  }

  /** Waits for a container to exit and returns its exit code. */
  async exitCode(service: string): Promise<number> {
    const result = await runCommand(["docker", "wait", this.container(service)], {
      timeoutMs: CONTAINER_STEP_TIMEOUT_MS,
    });
    if (result.code !== 0) {
      throw new Error(`docker wait ${this.container(service)} failed: ${result.stderr}`);
    }
    return Number(result.stdout.trim());
  }

  /**
   * The host address Docker published a container port on, e.g. `127.0.0.1:32770`.
   * @throws {Error} when the port is not published
   */
  async publishedAddress(service: string, port: number): Promise<string> {
    const result = await runCommand(["docker", "port", this.container(service), String(port)], {
      timeoutMs: CONTAINER_STEP_TIMEOUT_MS,
    });
    const address = result.stdout.split("\n")[0]?.trim() ?? "";
    if (result.code !== 0 || address === "") {
      throw new Error(`${this.container(service)} publishes no port ${port}: ${result.stderr}`);
    }
    return address;
  }

  /**
   * Runs one SQL statement with psql inside the project's database container
   * (the socket in /tmp, trusted inside the container only).
   * @returns the result rows, fields split on tabs
   * @throws {Error} with psql's message when it fails
   */
  async sql(statement: string): Promise<string[][]> {
    return await databaseRows(this.container("postgres"), statement);
  }

  /** A field of `docker inspect`, e.g. `{{.State.Running}}`. */
  async inspect(service: string, format: string): Promise<string> {
    const result = await runCommand(
      ["docker", "inspect", "--format", format, this.container(service)],
      { timeoutMs: CONTAINER_STEP_TIMEOUT_MS },
    );
    return result.stdout.trim();
  }
}

/**
 * Writes `dir/config/server.ini` and `client.yaml`: the repository's, with
 * the spec's changes applied (compose projects and swarm stacks share it).
 */
export async function writeProjectConfig(
  dir: string,
  spec: Pick<ProjectSpec, "serverConfig" | "clientConfig">,
): Promise<void> {
  await Deno.mkdir(`${dir}/config`);
  const server = parseINI<Record<string, unknown>>(
    await Deno.readTextFile(`${REPO_DIR}/config/server.ini`),
  );
  spec.serverConfig?.(server["DEFAULT"] as Record<string, string>);
  await Deno.writeTextFile(`${dir}/config/server.ini`, stringifyINI(server));
  const client = parseYaml(await Deno.readTextFile(`${REPO_DIR}/config/client.yaml`)) as Record<
    string,
    Record<string, unknown>
  >;
  spec.clientConfig?.(client);
  await Deno.writeTextFile(`${dir}/config/client.yaml`, stringifyYaml(client));
}

/**
 * Runs one SQL statement with psql in a database container.
 * @returns the result rows, fields split on tabs
 * @throws {Error} with psql's message when it fails
 */
export async function databaseRows(container: string, statement: string): Promise<string[][]> {
  const result = await runCommand([
    "docker",
    "exec",
    container,
    "psql",
    ...["--username", DATABASE_NAME, "--dbname", DATABASE_NAME],
    ...["--no-align", "--tuples-only", "--field-separator", "\t", "--set", "ON_ERROR_STOP=1"],
    ...["--command", statement],
  ], { timeoutMs: CONTAINER_STEP_TIMEOUT_MS });
  if (result.code !== 0) {
    throw new Error(`psql in ${container} exited ${result.code}: ${result.stderr.trim()}`);
  }
  return result.stdout.split("\n").filter((line) => line !== "").map((line) => line.split("\t"));
}

async function _copyData(dir: string, from: string, agencies: number): Promise<Bet[]> {
  await Deno.mkdir(`${dir}/data`, { recursive: true });
  for (let agency = 1; agency <= agencies; agency += 1) {
    await Deno.copyFile(`${from}/agency-${agency}.csv`, `${dir}/data/agency-${agency}.csv`);
  }
  return []; // bet mode's example bets are not needed for copied lottery data
}

async function _writeData(
  dir: string,
  agencies: readonly AgencySpec[],
  seed: number,
): Promise<Bet[]> {
  await Deno.mkdir(`${dir}/data`, { recursive: true });
  const firstBets: Bet[] = [];
  for (const [index, spec] of agencies.entries()) {
    const agency = index + 1;
    const bets = [...generateAgencyBets({ agency, seed, ...spec })];
    firstBets.push(bets[0]!);
    await Deno.writeTextFile(
      `${dir}/data/agency-${agency}.csv`,
      bets.map(formatAgencyRow).join(""),
    );
  }
  return firstBets;
}

/** Makes credentials readable by the containers' uid 1993: compose, unlike
 * swarm, mounts secret files as they are on the host (docs/DEPLOY.md). */
async function _writeCredentials(dir: string, agencies: number): Promise<string> {
  const credentials = `${dir}/credentials`;
  await makeDevCredentials({ dir: credentials, agencies, serverNames: ["server"], days: 1 });
  await Deno.chmod(credentials, 0o755);
  for await (const entry of Deno.readDir(credentials)) {
    await Deno.chmod(`${credentials}/${entry.name}`, 0o644);
  }
  return credentials;
}

/**
 * Runs `body` with a project written to a temporary directory: config copied
 * from the repository (then adjusted), generated data, a compose file from
 * renderCompose. Brings the project down and removes everything afterwards.
 */
export async function withProject(
  spec: ProjectSpec,
  body: (project: TestProject) => Promise<void>,
): Promise<void> {
  await ensureTestImages();
  const compose = (await findComposeCommand())!;
  const dir = await Deno.makeTempDir({ prefix: `tp0_e2e_${spec.label}_` });
  const name = `tp0e2e_${spec.label}_${crypto.randomUUID().slice(0, 6)}`;
  const deploy = async (agencies: readonly AgencySpec[], seed: number) => {
    const exampleBets = spec.dataFrom === undefined
      ? await _writeData(dir, agencies, seed)
      : await _copyData(dir, spec.dataFrom, agencies.length);
    const drawId = newDrawId();
    const credentials = spec.credentials === undefined
      ? undefined
      : { dir: await _writeCredentials(dir, agencies.length), ...spec.credentials };
    await Deno.writeTextFile(
      `${dir}/docker-compose.yaml`,
      renderCompose({
        ...COMPOSE_DEFAULTS,
        clients: agencies.length,
        mode: spec.mode,
        project: name,
        containerPrefix: `${name}-`,
        contextDir: REPO_DIR,
        configDir: `${dir}/config`,
        dataDir: `${dir}/data`,
        exampleBets,
        drawId,
        // Projects run in parallel: each gets a free host port for its admin port.
        adminHostPort: 0,
        credentials,
        ...(spec.store === "postgres" ? { database: { password: newDatabasePassword() } } : {}),
      }),
    );
    return drawId;
  };
  const project = new TestProject(name, dir, compose, deploy);
  try {
    await writeProjectConfig(dir, spec);
    await project.deploy(spec.agencies, 11);
    await body(project);
  } finally {
    const down = await project.compose("down", "--volumes", "--timeout", "2");
    if (down.code !== 0) {
      console.error(`cleanup of ${name} failed (exit ${down.code}): ${down.stderr.trim()}`);
    }
    await Deno.remove(dir, { recursive: true });
  }
}
