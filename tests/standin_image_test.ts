import assert from "node:assert/strict";
import {
  BUSYBOX_APPLETS_REQUIRED,
  DENO_UID,
  IMAGE_CA_BUNDLE_PATH,
  parseLddPaths,
  writeBusyboxRootfs,
  writeDenoRootfs,
} from "../lib/containers/standin_image.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const LDD_DENO = `	linux-vdso.so.1 (0x00007ffd5a5f1000)
	libdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f07566f2000)
	libgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f07566d2000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f075061e000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f075670a000)
`;

const BUSYBOX = "/bin/busybox";
const hasBusybox = await Deno.stat(BUSYBOX).then((info) => info.isFile, () => false);

Deno.test("parseLddPaths() lists linked libraries and the loader, without the vdso", () => {
  assert.deepEqual(parseLddPaths(LDD_DENO), [
    "/lib/x86_64-linux-gnu/libdl.so.2",
    "/lib/x86_64-linux-gnu/libgcc_s.so.1",
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/lib64/ld-linux-x86-64.so.2",
  ]);
  assert.deepEqual(parseLddPaths("\tnot a dynamic executable\n"), []);
});

Deno.test("parseLddPaths() rejects a library ldd cannot find, quoting the line", () => {
  assert.throws(() => parseLddPaths("\tlibfoo.so.1 => not found\n"), {
    name: "SyntaxError",
    message: 'Cannot resolve a library: "libfoo.so.1 => not found"',
  });
});

Deno.test("writeDenoRootfs() lays out deno, its libraries, the deno user, DENO_DIR, /tmp and the CA bundle", async () => {
  await withTempDir(async (root) => {
    const ca = `${root}.ca.pem`;
    await Deno.writeTextFile(ca, "-----BEGIN CERTIFICATE-----\n");
    try {
      const changes = await writeDenoRootfs(root, { denoBinary: Deno.execPath(), caBundle: ca });
      assert.ok((await Deno.stat(`${root}/usr/bin/deno`)).mode! & 0o111);
      assert.match(
        await Deno.readTextFile(`${root}/etc/passwd`),
        new RegExp(`^deno:x:${DENO_UID}:${DENO_UID}:`, "m"),
      );
      assert.match(
        await Deno.readTextFile(`${root}/etc/group`),
        new RegExp(`^deno:x:${DENO_UID}:`, "m"),
      );
      assert.ok((await Deno.stat(`${root}/deno-dir`)).isDirectory);
      assert.equal((await Deno.stat(`${root}/tmp`)).mode! & 0o7777, 0o1777);
      assert.equal(
        await Deno.readTextFile(`${root}${IMAGE_CA_BUNDLE_PATH}`),
        "-----BEGIN CERTIFICATE-----\n",
      );
      assert.ok(changes.includes(`ENV DENO_CERT=${IMAGE_CA_BUNDLE_PATH}`));
      assert.ok(changes.includes("ENV DENO_DIR=/deno-dir/"));
    } finally {
      await Deno.remove(ca);
    }
  });
});

Deno.test("writeDenoRootfs() sets no DENO_CERT when the host has no CA bundle", async () => {
  await withTempDir(async (root) => {
    const changes = await writeDenoRootfs(root, {
      denoBinary: Deno.execPath(),
      caBundle: undefined,
    });
    assert.ok(!changes.some((change) => change.includes("DENO_CERT")));
  });
});

Deno.test({
  name: "writeBusyboxRootfs() links every applet the project runs to the static binary",
  ignore: !hasBusybox,
  fn: async () => {
    await withTempDir(async (root) => {
      const changes = await writeBusyboxRootfs(root, BUSYBOX);
      for (const applet of BUSYBOX_APPLETS_REQUIRED) {
        assert.equal(await Deno.readLink(`${root}/bin/${applet}`), "busybox");
      }
      assert.equal((await Deno.stat(`${root}/tmp`)).mode! & 0o7777, 0o1777);
      assert.deepEqual(changes.at(-1), 'CMD ["sh"]');
    });
  },
});

Deno.test("writeBusyboxRootfs() refuses a dynamically linked binary", async () => {
  await withTempDir(async (root) => {
    await assert.rejects(
      writeBusyboxRootfs(root, Deno.execPath()),
      /is dynamically linked \(install busybox-static\)/,
    );
  });
});
