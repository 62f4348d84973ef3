/**
 * Local stand-ins for the pinned base images, for machines that cannot pull:
 * a root filesystem assembled from host binaries, archived with tar and loaded
 * with `docker import` under the pinned name and tag.
 */

import { dirname, join } from "node:path";
import { firstLine, runCommand } from "../runtime/run_command.ts";

/** The `deno` user of the official image; files it must write carry its id. */
export const DENO_UID = 1993;

/** Where the official image keeps Deno's cache (env DENO_DIR). */
export const DENO_DIR = "/deno-dir/";

/** Where a copied CA bundle lives inside the stand-in (env DENO_CERT). */
export const IMAGE_CA_BUNDLE_PATH = "/etc/ssl/certs/ca-certificates.crt";

/** Applets the project runs inside the busybox image; a build without them
 * is refused. */
export const BUSYBOX_APPLETS_REQUIRED = [
  "sh",
  "nc",
  "echo",
  "cat",
  "timeout",
  "sleep",
] as const;

/** Deadline for ldd, tar and the busybox applet listing. */
const _TOOL_TIMEOUT_MS = 120_000;

/** Deadline for `docker import` of a ~100 MB archive. */
const _IMPORT_TIMEOUT_MS = 300_000;

const _PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Extracts the absolute paths of the shared libraries in `ldd` output.
 * @param text ldd's stdout
 * @returns library paths in order, without the kernel's vdso
 * @throws {SyntaxError} when a library is listed as "not found"
 * @example parseLddPaths("\tlibc.so.6 => /lib/libc.so.6 (0x1)") // ["/lib/libc.so.6"]
 */
export function parseLddPaths(text: string): string[] {
  const paths: string[] = [];
  for (const line of text.split("\n")) {
    if (line.includes("=> not found")) {
      throw new SyntaxError(`Cannot resolve a library: "${line.trim()}"`);
    }
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match !== null) paths.push(match[1]!);
  }
  return paths;
}

async function _copyInto(root: string, hostPath: string, mode: number) {
  const target = join(root, hostPath);
  await Deno.mkdir(dirname(target), { recursive: true });
  await Deno.copyFile(hostPath, target);
  await Deno.chmod(target, mode);
}

/**
 * Writes /etc/passwd and /etc/group with one user and group per entry.
 * @param users name and id (the group takes the same id)
 */
export async function writeAccounts(
  root: string,
  users: readonly [string, number][],
): Promise<void> {
  await Deno.mkdir(join(root, "etc"), { recursive: true });
  const passwd = users.map(([name, id]) =>
    `${name}:x:${id}:${id}:${name}:${name === "root" ? "/root" : `/home/${name}`}:/bin/sh\n`
  ).join("");
  const group = users.map(([name, id]) => `${name}:x:${id}:\n`).join("");
  await Deno.writeTextFile(join(root, "etc/passwd"), passwd);
  await Deno.writeTextFile(join(root, "etc/group"), group);
}

/** Creates /tmp, mode 1777. */
export async function makeTmp(root: string): Promise<void> {
  await Deno.mkdir(join(root, "tmp"), { recursive: true });
  await Deno.chmod(join(root, "tmp"), 0o1777);
}

/**
 * Copies host files into `root` at the same paths, with every shared library
 * they link (from `ldd`), each once.
 * @param files host paths of executables and shared objects
 * @throws {Error} when ldd fails on one of them or cannot resolve a library
 */
export async function copyWithLibraries(root: string, files: readonly string[]): Promise<void> {
  const copied = new Set<string>();
  for (const file of files) {
    const ldd = await runCommand(["ldd", file], { timeoutMs: _TOOL_TIMEOUT_MS });
    // ldd exits 1 on a static file ("not a dynamic executable"): nothing to add.
    const libraries = ldd.code === 0 ? parseLddPaths(ldd.stdout) : [];
    for (const path of [file, ...libraries]) {
      if (copied.has(path)) continue;
      copied.add(path);
      await _copyInto(root, path, 0o755);
    }
  }
}

/** Inputs of {@link writeDenoRootfs}. */
export interface DenoRootfsOptions {
  /** The host's Deno binary, already checked to be the pinned version. */
  denoBinary: string;
  /** Host CA bundle to trust inside the image, if any. */
  caBundle: string | undefined;
}

/**
 * Lays out a minimal official-like Deno root filesystem in `root`: the binary
 * at /usr/bin/deno with the libraries it links, users root and deno (1993),
 * an empty DENO_DIR and /tmp.
 * @returns the `docker import --change` instructions for the image config
 * @throws {Error} when ldd fails on the binary
 */
export async function writeDenoRootfs(
  root: string,
  options: DenoRootfsOptions,
): Promise<string[]> {
  const ldd = await runCommand(["ldd", options.denoBinary], {
    timeoutMs: _TOOL_TIMEOUT_MS,
  });
  if (ldd.code !== 0) {
    throw new Error(
      `Cannot list the libraries of ${options.denoBinary}: ${
        firstLine(ldd.stderr) || `ldd exited ${ldd.code}`
      }`,
    );
  }
  await Deno.mkdir(join(root, "usr/bin"), { recursive: true });
  await Deno.copyFile(options.denoBinary, join(root, "usr/bin/deno"));
  await Deno.chmod(join(root, "usr/bin/deno"), 0o755);
  for (const library of parseLddPaths(ldd.stdout)) {
    await _copyInto(root, library, 0o755);
  }
  await writeAccounts(root, [["root", 0], ["deno", DENO_UID]]);
  await Deno.writeTextFile(join(root, "etc/nsswitch.conf"), "hosts: files dns\n");
  await Deno.mkdir(join(root, DENO_DIR), { recursive: true });
  await makeTmp(root);
  const changes = [
    `ENV PATH=${_PATH}`,
    `ENV DENO_DIR=${DENO_DIR}`,
    "ENV DENO_INSTALL_ROOT=/usr/local",
    `CMD ["deno", "eval", "console.log('Welcome to Deno!')"]`,
  ];
  if (options.caBundle !== undefined) {
    await Deno.mkdir(join(root, dirname(IMAGE_CA_BUNDLE_PATH)), {
      recursive: true,
    });
    await Deno.copyFile(options.caBundle, join(root, IMAGE_CA_BUNDLE_PATH));
    await Deno.chmod(join(root, IMAGE_CA_BUNDLE_PATH), 0o644);
    changes.push(`ENV DENO_CERT=${IMAGE_CA_BUNDLE_PATH}`);
  }
  return changes;
}

/**
 * Lays out a BusyBox root filesystem in `root`: the static binary at
 * /bin/busybox and a symlink per applet it lists.
 * @returns the `docker import --change` instructions for the image config
 * @throws {Error} when the binary is dynamically linked or lacks an applet
 * the project needs
 */
export async function writeBusyboxRootfs(
  root: string,
  busyboxBinary: string,
): Promise<string[]> {
  const ldd = await runCommand(["ldd", busyboxBinary], {
    timeoutMs: _TOOL_TIMEOUT_MS,
  });
  if (ldd.code === 0 && parseLddPaths(ldd.stdout).length > 0) {
    throw new Error(
      `Cannot use ${busyboxBinary}: it is dynamically linked (install busybox-static)`,
    );
  }
  const list = await runCommand([busyboxBinary, "--list"], {
    timeoutMs: _TOOL_TIMEOUT_MS,
  });
  const applets = list.stdout.split("\n").map((name) => name.trim()).filter(
    (name) => /^[\w.\[-]+$/.test(name) && name !== "busybox",
  );
  const missing = BUSYBOX_APPLETS_REQUIRED.filter((name) => !applets.includes(name));
  if (missing.length > 0) {
    throw new Error(
      `Cannot use ${busyboxBinary}: applets ${missing.join(", ")} are missing`,
    );
  }
  await Deno.mkdir(join(root, "bin"), { recursive: true });
  await Deno.copyFile(busyboxBinary, join(root, "bin/busybox"));
  await Deno.chmod(join(root, "bin/busybox"), 0o755);
  for (const applet of applets) {
    await Deno.symlink("busybox", join(root, "bin", applet));
  }
  await writeAccounts(root, [["root", 0], ["nobody", 65534]]);
  await makeTmp(root);
  return [`ENV PATH=${_PATH}`, `CMD ["sh"]`];
}

/** A path inside the root filesystem that a given user must own. */
export interface OwnedPath {
  /** Relative to the root, e.g. `./deno-dir`. */
  path: string;
  uid: number;
}

/**
 * Archives `root` (owned by root, except `owned` paths) and imports it as
 * `tag`. Works without root privileges: ownership is set by tar, not chown.
 * @param changes Dockerfile instructions for the image config (ENV, CMD, …)
 * @param message shown by `docker history`, says where the image came from
 * @returns the new image id
 * @throws {Error} quoting tar's or docker's message when a step fails
 */
export async function importRootfs(
  root: string,
  tag: string,
  changes: readonly string[],
  owned: readonly OwnedPath[],
  message: string,
): Promise<string> {
  const archive = `${root}.tar`;
  const common = ["--numeric-owner", "-C", root];
  const steps: string[][] = [
    [
      "tar",
      "-cf",
      archive,
      ...common,
      "--owner=0",
      "--group=0",
      ...owned.map((entry) => `--exclude=${entry.path}`),
      ".",
    ],
    ...owned.map((entry) => [
      "tar",
      "-rf",
      archive,
      ...common,
      `--owner=${entry.uid}`,
      `--group=${entry.uid}`,
      entry.path,
    ]),
  ];
  try {
    for (const step of steps) {
      const result = await runCommand(step, { timeoutMs: _TOOL_TIMEOUT_MS });
      if (result.code !== 0) {
        throw new Error(
          `Cannot archive ${root}: ${firstLine(result.stderr)}`,
        );
      }
    }
    const imported = await runCommand(
      [
        "docker",
        "import",
        "--message",
        message,
        ...changes.flatMap((change) => ["--change", change]),
        archive,
        tag,
      ],
      { timeoutMs: _IMPORT_TIMEOUT_MS },
    );
    if (imported.code !== 0) {
      throw new Error(
        `Cannot import ${tag}: ${
          firstLine(imported.stderr) || `docker import exited ${imported.code}`
        }`,
      );
    }
    return imported.stdout.trim();
  } finally {
    await Deno.remove(archive).catch(() => {});
  }
}
