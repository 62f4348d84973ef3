/**
 * Makes the pinned base images available: keeps them when present, else
 * pulls them, else (no registry reachable) builds local stand-ins with the
 * same name and tag from the host's Deno and busybox-static binaries. Then
 * builds the bundled database image of `--store postgres` from the host's
 * Debian PostgreSQL 15, or says in one line what to install.
 *
 * deno task images [--pull-timeout 30s]
 */

import { parseArgs } from "node:util";
import { runProgram } from "../lib/runtime/program.ts";
import { dockerEngineStatus, imageId, noEngineMessage } from "../lib/containers/docker.ts";
import { parseDuration } from "../lib/config/duration.ts";
import {
  BUSYBOX_IMAGE,
  DENO_IMAGE,
  DENO_VERSION,
  POSTGRES_IMAGE,
} from "../lib/containers/images.ts";
import { firstLine, runCommand } from "../lib/runtime/run_command.ts";
import { withoutTaskSeparator } from "../lib/runtime/task_args.ts";
import {
  DENO_DIR,
  DENO_UID,
  importRootfs,
  writeBusyboxRootfs,
  writeDenoRootfs,
} from "../lib/containers/standin_image.ts";
import {
  POSTGRES_BIN_DIR,
  POSTGRES_OWNED_PATHS,
  POSTGRES_PROGRAMS,
  writePostgresRootfs,
} from "../lib/containers/postgres_image.ts";

const _USAGE = `Usage: deno task images [--pull-timeout 30s]
For ${DENO_IMAGE} and ${BUSYBOX_IMAGE}: nothing when present locally; else
docker pull (bounded by --pull-timeout); if that fails, a local stand-in with
the same name:tag built from this machine's Deno ${DENO_VERSION} binary (plus
the libraries it links and the host CA bundle) and from busybox-static.
Then ${POSTGRES_IMAGE} (for deno task compose N --store postgres), when
missing: built from this machine's PostgreSQL programs in ${POSTGRES_BIN_DIR}
(Debian: apt-get install -y postgresql); without them it says so and goes on.`;

/** Default bound on one `docker pull`; an unreachable registry fails fast. */
export const PULL_TIMEOUT_MS_DEFAULT = 30_000;

/** Host CA bundles trusted inside the Deno stand-in, first found wins. Read
 * when needed, not at import: a module importing this one needs no env. */
function _caBundleCandidates(): (string | undefined)[] {
  return [Deno.env.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"];
}

/** Where busybox-static puts its binary on Debian. */
const _BUSYBOX_CANDIDATES = ["/bin/busybox", "/usr/bin/busybox"];

/** How an image became available. */
export type ImageSource = "present" | "pulled" | "stand-in";

async function _firstExisting(
  paths: readonly (string | undefined)[],
): Promise<string | undefined> {
  for (const path of paths) {
    if (path === undefined || path === "") continue;
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch {
      // not there: try the next one
    }
  }
  return undefined;
}

/**
 * Builds the `denoland/deno` stand-in from the running Deno binary.
 * @throws {Error} when this Deno is not the pinned version
 */
export async function buildDenoStandin(tag: string): Promise<string> {
  if (Deno.version.deno !== DENO_VERSION) {
    throw new Error(
      `Cannot build ${tag} from Deno ${Deno.version.deno}: the project pins ${DENO_VERSION} (npm i -g deno@${DENO_VERSION})`,
    );
  }
  const denoBinary = await Deno.realPath(Deno.execPath());
  const caBundle = await _firstExisting(_caBundleCandidates());
  const root = await Deno.makeTempDir({ prefix: "tp0-deno-rootfs-" });
  try {
    const changes = await writeDenoRootfs(root, { denoBinary, caBundle });
    return await importRootfs(
      root,
      tag,
      changes,
      [{ path: `.${DENO_DIR.replace(/\/$/, "")}`, uid: DENO_UID }],
      `tp0 stand-in for ${tag}: ${denoBinary}${caBundle ? ` + ${caBundle}` : ""}`,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/**
 * Builds the `busybox` stand-in from the host's busybox-static binary.
 * @throws {Error} when no static busybox is installed
 */
export async function buildBusyboxStandin(tag: string): Promise<string> {
  const busybox = await _firstExisting(_BUSYBOX_CANDIDATES);
  if (busybox === undefined) {
    throw new Error(
      `Cannot build ${tag}: no busybox binary in ${
        _BUSYBOX_CANDIDATES.join(" or ")
      } (apt-get install busybox-static)`,
    );
  }
  const root = await Deno.makeTempDir({ prefix: "tp0-busybox-rootfs-" });
  try {
    const changes = await writeBusyboxRootfs(root, busybox);
    return await importRootfs(
      root,
      tag,
      changes,
      [],
      `tp0 stand-in for ${tag}: ${busybox}`,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/**
 * Makes one image available: present, pulled or built as a stand-in.
 * @param report receives one progress line per step
 * @throws {Error} when the stand-in cannot be built either
 */
export async function ensureImage(
  tag: string,
  buildStandin: (tag: string) => Promise<string>,
  pullTimeoutMs: number,
  report: (line: string) => void,
): Promise<ImageSource> {
  if (await imageId(tag) !== undefined) {
    report(`${tag}: present`);
    return "present";
  }
  const pull = await runCommand(["docker", "pull", tag], {
    timeoutMs: pullTimeoutMs,
  });
  if (pull.code === 0) {
    report(`${tag}: pulled`);
    return "pulled";
  }
  const why = pull.timedOut ? `no answer within ${pullTimeoutMs / 1000}s` : firstLine(pull.stderr);
  report(`${tag}: cannot pull (${why}); building a local stand-in`);
  const id = await buildStandin(tag);
  report(`${tag}: stand-in built (${id.slice(0, 19)})`);
  return "stand-in";
}

/** What to install when the host has no PostgreSQL 15 to build the database image from. */
export const POSTGRES_INSTALL_HINT = "apt-get install -y postgresql";

/**
 * The host's PostgreSQL programs the database image needs, or undefined when
 * one is missing.
 */
export async function hostPostgresBinDir(
  binDir: string = POSTGRES_BIN_DIR,
): Promise<string | undefined> {
  for (const program of POSTGRES_PROGRAMS) {
    if (await _firstExisting([`${binDir}/${program}`]) === undefined) return undefined;
  }
  return binDir;
}

/**
 * Builds the bundled database image from the host's Debian PostgreSQL 15
 * and busybox-static.
 * @throws {Error} naming what to install when either is missing
 */
export async function buildPostgresImage(tag: string): Promise<string> {
  const binDir = await hostPostgresBinDir();
  if (binDir === undefined) {
    throw new Error(
      `Cannot build ${tag}: no PostgreSQL 15 in ${POSTGRES_BIN_DIR} (${POSTGRES_INSTALL_HINT})`,
    );
  }
  const busybox = await _firstExisting(_BUSYBOX_CANDIDATES);
  if (busybox === undefined) {
    throw new Error(`Cannot build ${tag}: no busybox binary (apt-get install busybox-static)`);
  }
  const root = await Deno.makeTempDir({ prefix: "tp0-postgres-rootfs-" });
  try {
    const changes = await writePostgresRootfs(root, { binDir, busybox });
    return await importRootfs(
      root,
      tag,
      changes,
      POSTGRES_OWNED_PATHS,
      `tp0 database image ${tag}: ${binDir} + ${busybox}`,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/**
 * Makes the database image available: present, or built from the host's
 * PostgreSQL; without one, one line saying what to install.
 * @returns whether the image is there
 */
export async function ensurePostgresImage(
  report: (line: string) => void,
  { tag = POSTGRES_IMAGE, binDir = POSTGRES_BIN_DIR }: { tag?: string; binDir?: string } = {},
): Promise<boolean> {
  if (await imageId(tag) !== undefined) {
    report(`${tag}: present`);
    return true;
  }
  if (await hostPostgresBinDir(binDir) === undefined) {
    report(
      `${tag}: not built, no PostgreSQL 15 in ${binDir} (for --store postgres: ${POSTGRES_INSTALL_HINT})`,
    );
    return false;
  }
  const id = await buildPostgresImage(tag);
  report(`${tag}: built from ${binDir} (${id.slice(0, 19)})`);
  return true;
}

/** Reads `--pull-timeout`; "help" for `--help`. */
function _parseImagesArgs(args: string[]): number | "help" {
  const { values } = parseArgs({
    // `deno task images -- --pull-timeout 5s` passes the `--` along.
    args: withoutTaskSeparator(args),
    options: {
      "pull-timeout": { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return "help";
  const timeout = values["pull-timeout"];
  return timeout === undefined ? PULL_TIMEOUT_MS_DEFAULT : parseDuration(timeout);
}

async function _ensureImages(pullTimeoutMs: number): Promise<number> {
  const engine = await dockerEngineStatus();
  if (!engine.reachable) {
    console.error(noEngineMessage(engine.reason));
    return 1;
  }
  await ensureImage(DENO_IMAGE, buildDenoStandin, pullTimeoutMs, console.log);
  await ensureImage(BUSYBOX_IMAGE, buildBusyboxStandin, pullTimeoutMs, console.log);
  await ensurePostgresImage(console.log);
  return 0;
}

if (import.meta.main) await runProgram("images", _USAGE, _parseImagesArgs, _ensureImages);
