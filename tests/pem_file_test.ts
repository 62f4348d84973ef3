import assert from "node:assert/strict";
import { TLS_PEM_BYTES_MAX } from "../lib/limits.ts";
import { PEM_CERTIFICATE, PEM_PRIVATE_KEY, readPemFile } from "../lib/config/pem_file.ts";
import { configError } from "./helpers/config_errors.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n";

Deno.test("readPemFile() returns the text of a file holding the expected block", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.crt`, CERT);
    await Deno.writeTextFile(`${dir}/a.key`, KEY);
    assert.equal(await readPemFile(`${dir}/a.crt`, "server.tls.ca", PEM_CERTIFICATE), CERT);
    assert.equal(await readPemFile(`${dir}/a.key`, "server.tls.key", PEM_PRIVATE_KEY), KEY);
    assert.equal(await readPemFile(`${dir}/a.key`, "TLS_KEY_FILE"), KEY, "no kind: any text");
  });
});

Deno.test("readPemFile() reads 0 and TLS_PEM_BYTES_MAX bytes and refuses TLS_PEM_BYTES_MAX + 1", async (t) => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bundle.crt`;
    const cases: [number, boolean][] = [[0, true], [TLS_PEM_BYTES_MAX, true], [
      TLS_PEM_BYTES_MAX + 1,
      false,
    ]];
    for (const [bytes, accepted] of cases) {
      await t.step(`${bytes} bytes`, async () => {
        await Deno.writeFile(path, new Uint8Array(bytes).fill(0x41));
        if (accepted) {
          assert.equal((await readPemFile(path, "TLS_CLIENT_CA")).length, bytes);
          return;
        }
        await assert.rejects(
          readPemFile(path, "TLS_CLIENT_CA"),
          configError(
            new RegExp(
              `^TLS_CLIENT_CA .* is not a PEM file of at most ${TLS_PEM_BYTES_MAX} bytes$`,
            ),
          ),
        );
      });
    }
  });
});

Deno.test("readPemFile() names the key and the file that is missing, a folder or the wrong block", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.crt`, CERT);
    await assert.rejects(
      readPemFile(`${dir}/nope`, "server.tls.ca", PEM_CERTIFICATE),
      configError(/^server\.tls\.ca .*nope cannot be read: not found$/),
    );
    await assert.rejects(
      readPemFile(dir, "TLS_CERT_FILE"),
      configError(/^TLS_CERT_FILE .* is not a PEM file of at most \d+ bytes$/),
    );
    await assert.rejects(
      readPemFile(`${dir}/a.crt`, "server.tls.key", PEM_PRIVATE_KEY),
      configError(/^server\.tls\.key .*a\.crt holds no PEM private key$/),
    );
  });
});
