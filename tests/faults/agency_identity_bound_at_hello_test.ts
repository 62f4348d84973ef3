/**
 * Agency identity: a connection speaks for the agency of its hello and no
 * other (batches carry no agency, a second hello is refused, finished and
 * the winners query concern the hello's agency); with SECRETS_FILE a hello
 * with a wrong or missing secret is refused with authenticationFailed, and
 * no secret ever appears in a log line.
 */

import assert from "node:assert/strict";
import { localBetsPath } from "../helpers/storage.ts";
import { parseAgencySecrets, secretMatches } from "../../lib/server/agency_secrets.ts";
import { ConfigError } from "../../lib/config/config_source.ts";
import { linesOf, runLocalClient, startLocalServer } from "../../lib/dev/local_cluster.ts";
import { decodeMessage, encodeMessage, type Message } from "../../lib/protocol/message_codec.ts";
import { ErrorCode, errorCodeName, MessageType } from "../../lib/protocol/protocol.ts";
import { permissionSetFlags } from "../../lib/runtime/runtime_flags.ts";
import { makeBets } from "../helpers/bets.ts";
import { protocolError } from "../helpers/protocol_errors.ts";
import { RawPeer } from "../helpers/raw_agency.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { assertStoreHoldsExactly, writeAgencyData } from "./helpers/agency_data.ts";
import { startTestServer } from "../helpers/test_server.ts";

function wire(agency: number, count: number, firstDocument: number) {
  return makeBets(agency, count, { firstDocument }).map(({ agency: _, ...bet }) => bet);
}

/** Reads replies until the server closes; returns them. */
async function repliesUntilClosed(peer: RawPeer): Promise<Message[]> {
  const replies: Message[] = [];
  while (true) {
    try {
      replies.push(await peer.receive());
    } catch {
      return replies;
    }
  }
}

Deno.test("a connection acts only for the agency of its hello: its bets, its finished, never another's", async () => {
  await withTempDir(async (dir) => {
    const storage = localBetsPath(dir);
    const server = await startTestServer({ storageDir: dir, agencies: 2 });
    try {
      const [one] = await RawPeer.hello(server.port, 1);
      // A batch has no agency field: what it holds is stored as agency 1's.
      await one.send({ type: MessageType.batch, first: 0, bets: wire(2, 3, 50_000_000) });
      assert.deepEqual(await one.receive(), { type: MessageType.batchAck, first: 0, count: 3 });
      await one.send({ type: MessageType.finished, total: 3 });
      // A second hello, for another agency, is refused and ends the connection.
      await one.send({ type: MessageType.hello, agency: 2 });
      const replies = await repliesUntilClosed(one);
      one.close();
      assert.deepEqual(replies.map((reply) => reply.type), [MessageType.error]);
      assert.ok(replies[0]!.type === MessageType.error);
      assert.equal(errorCodeName(replies[0]!.code), "unexpectedMessage");
      // Agency 2 has nothing stored and has not finished: its own hello says so.
      const [two, ack] = await RawPeer.hello(server.port, 2);
      assert.ok(ack.type === MessageType.helloAck);
      assert.equal(ack.storedBets, 0);
      assert.equal(server.store.finishedAgencies().has(2), false);
      assert.equal(server.store.finishedAgencies().get(1), 3);
      two.close();
    } finally {
      await server.close();
    }
    await assertStoreHoldsExactly(
      storage,
      makeBets(2, 3, { firstDocument: 50_000_000 }).map((bet) => ({ ...bet, agency: 1 })),
    );
  });
});

Deno.test("hello carries an optional trailing secret; older hellos without it still decode", async (t) => {
  const decode = (bytes: Uint8Array) => decodeMessage({ type: bytes[2]!, body: bytes.subarray(7) });
  await t.step("without a secret", () => {
    const bytes = encodeMessage({ type: MessageType.hello, agency: 7 });
    assert.equal(bytes.length, 7 + 4);
    assert.deepEqual(decode(bytes), { type: MessageType.hello, agency: 7 });
  });
  await t.step("with a secret", () => {
    const bytes = encodeMessage({ type: MessageType.hello, agency: 7, secret: "clave-ñ" });
    assert.deepEqual(decode(bytes), { type: MessageType.hello, agency: 7, secret: "clave-ñ" });
  });
  await t.step("a trailing field that is no s8 is malformedFrame", () => {
    const bytes = new Uint8Array([...encodeMessage({ type: MessageType.hello, agency: 7 }), 5, 1]);
    assert.throws(() => decode(bytes), protocolError(ErrorCode.malformedFrame));
  });
  await t.step("a secret that is not UTF-8 is invalidUtf8", () => {
    const bytes = new Uint8Array([
      ...encodeMessage({ type: MessageType.hello, agency: 7 }),
      2,
      0xc3,
      0x28,
    ]);
    assert.throws(() => decode(bytes), protocolError(ErrorCode.invalidUtf8));
  });
});

Deno.test("parseAgencySecrets() reads agency=secret lines and names the line of a bad one without quoting secrets", async (t) => {
  await t.step("comments, blank lines, CRLF and spaces", () => {
    const text = "# agencies\r\n\r\n1=alpha\r\n 2 = be=ta \r\n";
    assert.deepEqual(
      parseAgencySecrets(text, "secrets.txt"),
      new Map([[1, "alpha"], [2, "be=ta"]]),
    );
  });
  const bad: [string, string, RegExp][] = [
    ["no =", "1 hunter2", /secrets.txt line 1 is not agency=secret/],
    ["agency 0", "0=hunter2", /line 1 is not agency=secret with an agency in 1\.\.100000/],
    ["agency not a number", "uno=hunter2", /line 1 is not agency=secret/],
    ["empty secret", "1=", /line 1: the secret of agency 1 must be 1 to 255 bytes/],
    ["secret of 256 bytes", `1=${"x".repeat(256)}`, /must be 1 to 255 bytes/],
    ["agency twice", "1=hunter2\n1=hunter3", /line 2: agency 1 appears twice/],
  ];
  for (const [name, text, message] of bad) {
    await t.step(name, () => {
      assert.throws(() => parseAgencySecrets(text, "secrets.txt"), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, message);
        assert.ok(!error.message.includes("hunter"), "the message quotes no secret");
        return true;
      });
    });
  }
});

Deno.test("secretMatches() accepts only the exact expected secret", async () => {
  assert.equal(await secretMatches("s3cr3t", "s3cr3t"), true);
  assert.equal(await secretMatches("s3cr3t", "s3cr3T"), false);
  assert.equal(await secretMatches("s3cr3t", "s3cr3t "), false);
  assert.equal(await secretMatches("s3cr3t", ""), false);
  assert.equal(await secretMatches("s3cr3t", undefined), false);
  assert.equal(
    await secretMatches(undefined, ""),
    false,
    "an agency without a secret never matches",
  );
  assert.equal(await secretMatches("", ""), false);
});

Deno.test("with agency secrets a hello with a wrong or missing secret is refused with authenticationFailed and logged", async () => {
  await withTempDir(async (dir) => {
    const secrets = new Map([[1, "uno-7f3a9c"], [2, "dos-b41e07"]]);
    const server = await startTestServer({
      storageDir: dir,
      agencies: 3,
      agencySecrets: secrets,
    });
    try {
      const refused: [string, Message][] = [
        ["no secret", { type: MessageType.hello, agency: 1 }],
        ["empty secret", { type: MessageType.hello, agency: 1, secret: "" }],
        ["wrong secret", { type: MessageType.hello, agency: 1, secret: "uno-7f3a9d" }],
        ["another agency's secret", { type: MessageType.hello, agency: 1, secret: "dos-b41e07" }],
        ["agency without a secret", { type: MessageType.hello, agency: 3, secret: "uno-7f3a9c" }],
      ];
      for (const [name, hello] of refused) {
        const peer = await RawPeer.connect(server.port);
        await peer.send(hello);
        const replies = await repliesUntilClosed(peer);
        peer.close();
        assert.equal(replies.length, 1, name);
        const reply = replies[0]!;
        assert.ok(reply.type === MessageType.error, name);
        assert.equal(errorCodeName(reply.code), "authenticationFailed", name);
      }
      const logged = server.lines.filter((line) =>
        line.includes("action: protocol_error | result: fail") &&
        line.includes("code: authenticationFailed")
      );
      assert.equal(logged.length, refused.length, "each refusal is logged");
      const [peer, ack] = await RawPeer.hello(server.port, 2, "dos-b41e07");
      peer.close();
      assert.ok(ack.type === MessageType.helloAck);
      assert.equal(ack.storedBets, 0);
      for (const line of server.lines) assert.ok(!/uno-|dos-/.test(line), `no secret in: ${line}`);
    } finally {
      await server.close();
    }
  });
});

Deno.test("real processes with SECRETS_FILE and CLI_SECRET: the right secret uploads, a wrong one is refused, no secret is logged", async () => {
  await withTempDir(async (dir) => {
    const secrets = { 1: "uno-7f3a9c", 2: "dos-b41e07" };
    const secretsFile = `${dir}/agencies.secrets`;
    await Deno.writeTextFile(secretsFile, `# test\n1=${secrets[1]}\n2=${secrets[2]}\n`);
    const data = await writeAgencyData(
      dir,
      [{ bets: 120, winners: 1 }, { bets: 80, winners: 2 }],
      5,
    );
    const storage = localBetsPath(dir);
    const server = await startLocalServer({
      STORAGE_DIR: dir,
      AGENCIES: "2",
      SECRETS_FILE: secretsFile,
    });
    const clientLines: string[] = [];
    try {
      const clientEnv = (agency: 1 | 2, secret: string) => ({
        CLI_ID: String(agency),
        CLI_SERVER_ADDRESS: `127.0.0.1:${server.port}`,
        CLI_DATA_FILE: data.files[agency - 1]!,
        CLI_SECRET: secret,
        CLI_LOG_LEVEL: "DEBUG",
      });
      const wrong = await runLocalClient(clientEnv(2, "not-the-secret"));
      clientLines.push(...wrong.lines);
      assert.equal(wrong.code, 1);
      assert.equal(linesOf(wrong.lines, "carga_finalizada", "fail").length, 1);
      assert.match(
        linesOf(wrong.lines, "carga_finalizada", "fail")[0]!,
        /bets_sent: 0 .*authenticationFailed/,
      );
      const runs = await Promise.all([
        runLocalClient(clientEnv(1, secrets[1])),
        runLocalClient(clientEnv(2, secrets[2])),
      ]);
      for (const [index, run] of runs.entries()) {
        clientLines.push(...run.lines);
        assert.equal(run.code, 0, run.lines.join("\n"));
        const told = linesOf(run.lines, "consulta_ganadores")[0]!;
        assert.match(told, new RegExp(`cant_ganadores: ${index + 1}$`));
      }
    } finally {
      assert.equal(await server.stop(), 0);
    }
    await assertStoreHoldsExactly(storage, data.bets);
    for (const line of [...server.lines, ...clientLines]) {
      assert.ok(!line.includes(secrets[1]) && !line.includes(secrets[2]), `no secret in: ${line}`);
      assert.ok(!line.includes("not-the-secret"), `no secret in: ${line}`);
    }
  });
});

Deno.test("a bad SECRETS_FILE stops the server with one config line naming file and line, exit 2", async () => {
  await withTempDir(async (dir) => {
    const secretsFile = `${dir}/agencies.secrets`;
    await Deno.writeTextFile(secretsFile, "1=hunter2\n1=hunter3\n");
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...permissionSetFlags("server"),
        new URL("../../server.ts", import.meta.url).pathname,
      ],
      env: { SERVER_PORT: "0", STORAGE_DIR: dir, SECRETS_FILE: secretsFile },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 2);
    const text = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
    const lines = text.trim().split("\n");
    assert.equal(lines.length, 1, text);
    assert.match(
      lines[0]!,
      /config \| result: fail \| error: .*agencies\.secrets line 2: agency 1 appears twice/,
    );
    assert.ok(!text.includes("hunter"));
  });
});
