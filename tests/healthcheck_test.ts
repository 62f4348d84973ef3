import assert from "node:assert/strict";
import { probeHostname, readyUrl } from "../healthcheck.ts";

Deno.test("probeHostname() maps any-address listeners to loopback and keeps specific ones", () => {
  assert.equal(probeHostname("0.0.0.0"), "127.0.0.1");
  assert.equal(probeHostname(""), "127.0.0.1");
  assert.equal(probeHostname("::"), "::1");
  assert.equal(probeHostname("10.0.0.7"), "10.0.0.7");
});

Deno.test("readyUrl() asks /readyz on loopback for any-address listeners, brackets IPv6", () => {
  assert.equal(readyUrl("0.0.0.0", 9180), "http://127.0.0.1:9180/readyz");
  assert.equal(readyUrl("::", 9180), "http://[::1]:9180/readyz");
  assert.equal(readyUrl("server-admin", 1), "http://server-admin:1/readyz");
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

Deno.test("healthcheck.ts with ADMIN_PORT asks /readyz with the token: 0 on 200, 1 on 503, 401 or nothing", async () => {
  const script = new URL("../healthcheck.ts", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "tp0_test_" });
  let ready = false;
  const asked: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    asked.push(`${new URL(request.url).pathname} ${request.headers.get("authorization")}`);
    if (request.headers.get("authorization") !== "Bearer t0ken") {
      return new Response("unauthorized", { status: 401 });
    }
    return ready ? new Response("ready") : new Response("not ready: restoring", { status: 503 });
  });
  const run = async (token: string) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", `--allow-read=${dir}`, "--allow-env", script],
      env: {
        SERVER_CONFIG: `${dir}/server.ini`,
        ADMIN_PORT: String(server.addr.port),
        ADMIN_TOKEN: token,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
  };
  try {
    // The lottery port in the file is closed: only the admin port can answer.
    await Deno.writeTextFile(
      `${dir}/server.ini`,
      "[DEFAULT]\nSERVER_PORT = 1\nADMIN_IP = 127.0.0.1\n",
    );
    const restoring = await run("t0ken");
    assert.equal(restoring.code, 1);
    assert.match(
      restoring.stderr,
      /^healthcheck: http:\/\/127\.0\.0\.1:\d+\/readyz: 503 not ready/,
    );
    const unauthorized = await run("wrong");
    assert.equal(unauthorized.code, 1);
    assert.match(unauthorized.stderr, /: 401 unauthorized/);
    ready = true;
    const healthy = await run("t0ken");
    assert.equal(healthy.code, 0, healthy.stderr);
    assert.deepEqual(asked, [
      "/readyz Bearer t0ken",
      "/readyz Bearer wrong",
      "/readyz Bearer t0ken",
    ]);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
