import assert from "node:assert/strict";
import { probeHostname } from "../healthcheck.ts";

Deno.test("probeHostname() maps any-address listeners to loopback and keeps specific ones", () => {
  assert.equal(probeHostname("0.0.0.0"), "127.0.0.1");
  assert.equal(probeHostname(""), "127.0.0.1");
  assert.equal(probeHostname("::"), "::1");
  assert.equal(probeHostname("10.0.0.7"), "10.0.0.7");
});

Deno.test("healthcheck.ts exits 0 against a live echo and 1 when nothing listens", async () => {
  const script = new URL("../healthcheck.ts", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "tp0_test_" });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const echoing = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(1024);
    const count = await conn.read(buffer);
    await conn.write(buffer.subarray(0, count ?? 0));
    conn.close();
  })();
  try {
    await Deno.writeTextFile(
      `${dir}/server.ini`,
      "[DEFAULT]\nSERVER_PORT = 1\nSERVER_IP = 127.0.0.1\n",
    );
    const run = (port: number) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-net", `--allow-read=${dir}`, "--allow-env", script],
        env: { SERVER_CONFIG: `${dir}/server.ini`, SERVER_PORT: String(port) },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const healthy = await run(listener.addr.port);
    assert.equal(healthy.code, 0, new TextDecoder().decode(healthy.stderr));
    await echoing;
    listener.close();
    const unhealthy = await run(listener.addr.port);
    assert.equal(unhealthy.code, 1);
    assert.match(new TextDecoder().decode(unhealthy.stderr), /^healthcheck: 127\.0\.0\.1:\d+: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
