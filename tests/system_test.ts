/**
 * The real server and clients as processes on 127.0.0.1: whole lottery runs,
 * the draw's timing, exactly-once, shutdown and config errors.
 */

import assert from "node:assert/strict";
import { localBetsPath } from "./helpers/storage.ts";
import { hasWon } from "../lib/bet/bet.ts";
import { loadBets } from "../lib/store/bets_file_reader.ts";
import {
  type ClientRun,
  fieldOf,
  linesOf,
  runLocalClient,
  startLocalServer,
} from "../lib/dev/local_cluster.ts";
import { permissionSetFlags } from "../lib/runtime/runtime_flags.ts";
import { writeAgencies } from "./helpers/agency_files.ts";
import { isLine, LineWatch, waitForLine } from "./helpers/log_lines.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

function clientEnv(id: number, port: number, dataFile: string, extra: Record<string, string> = {}) {
  return {
    CLI_ID: String(id),
    CLI_SERVER_ADDRESS: `127.0.0.1:${port}`,
    CLI_DATA_FILE: dataFile,
    ...extra,
  };
}

async function storedPerAgency(
  storage: string,
): Promise<Map<number, { bets: number; winners: number }>> {
  const counts = new Map<number, { bets: number; winners: number }>();
  for await (const bet of loadBets(storage)) {
    const entry = counts.get(bet.agency) ?? { bets: 0, winners: 0 };
    entry.bets += 1;
    if (hasWon(bet)) entry.winners += 1;
    counts.set(bet.agency, entry);
  }
  return counts;
}

const _LOG_LINE =
  /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (DEBUG|INFO|WARNING|ERROR|CRITICAL) +action: [a-z_]+ \| result: (success|fail|in_progress)( \| [a-z_]+: [^|\n]*)*$/;

for (
  const scenario of [
    {
      name: "3 agencies with 2, 1 and 0 winners",
      agencies: [
        { bets: 250, winners: 2 },
        { bets: 120, winners: 1 },
        { bets: 99, winners: 0 },
      ],
    },
    {
      name: "5 agencies with 1 to 5 winners",
      agencies: [1, 2, 3, 4, 5].map((winners) => ({
        bets: 300 + winners * 37,
        winners,
      })),
    },
  ]
) {
  Deno.test(`lottery run, ${scenario.name}: every bet stored once, draw once after all bets, each agency told its winners`, async () => {
    await withTempDir(async (dir) => {
      const files = await writeAgencies(dir, scenario.agencies);
      const storage = localBetsPath(dir);
      const server = await startLocalServer({
        STORAGE_DIR: dir,
        AGENCIES: String(scenario.agencies.length),
      });
      let runs: ClientRun[];
      try {
        runs = await Promise.all(
          files.map((file, index) =>
            runLocalClient(clientEnv(index + 1, server.port, file, { CLI_BATCH_MAXAMOUNT: "100" }))
          ),
        );
      } finally {
        assert.equal(await server.stop(), 0);
      }
      const stored = await storedPerAgency(storage);
      for (const [index, agency] of scenario.agencies.entries()) {
        const run = runs[index]!;
        assert.equal(run.code, 0, run.lines.join("\n"));
        const told = linesOf(run.lines, "consulta_ganadores");
        assert.equal(told.length, 1);
        assert.equal(fieldOf(told[0]!, "cant_ganadores"), String(agency.winners));
        assert.deepEqual(stored.get(index + 1), { bets: agency.bets, winners: agency.winners });
        assert.deepEqual(linesOf(run.lines, "", "fail"), []);
        const progress = linesOf(run.lines, "progreso", "in_progress");
        assert.ok(progress.length >= 1, "an upload reports its progress");
        assert.equal(fieldOf(progress.at(-1)!, "percent_read"), "100");
        const summary = linesOf(run.lines, "carga_finalizada")[0]!;
        assert.equal(fieldOf(summary, "bets_sent"), String(agency.bets));
        assert.equal(fieldOf(summary, "rows_skipped"), "0");
      }
      const received = linesOf(server.lines, "apuesta_recibida");
      const sizes = received.map((line) => Number(fieldOf(line, "cantidad"))).sort((a, b) => a - b);
      const expectedSizes = scenario.agencies.flatMap(({ bets }) => [
        ...Array(Math.floor(bets / 100)).fill(100),
        ...(bets % 100 === 0 ? [] : [bets % 100]),
      ]).sort((a, b) => a - b);
      assert.deepEqual(sizes, expectedSizes, "batches hold maxAmount bets except the last");
      const draws = server.lines.flatMap((line, index) =>
        line.includes("action: sorteo |") ? [index] : []
      );
      assert.equal(draws.length, 1, "one draw");
      const lastReceived = server.lines.findLastIndex((line) =>
        line.includes("action: apuesta_recibida |")
      );
      assert.ok(draws[0]! > lastReceived, "the draw comes after the last stored batch");
      assert.deepEqual(server.lines.filter((line) => line.includes("result: fail")), []);
      for (const line of [...server.lines, ...runs.flatMap((run) => run.lines)]) {
        assert.match(line, _LOG_LINE);
      }
    });
  });
}

Deno.test("winners query waits for the draw: an agency gets its answer only after the last agency finishes", async () => {
  await withTempDir(async (dir) => {
    const [first, second] = await writeAgencies(dir, [{ bets: 50, winners: 3 }, {
      bets: 40,
      winners: 1,
    }]);
    const watch = new LineWatch();
    const server = await startLocalServer(
      { STORAGE_DIR: dir, AGENCIES: "2" },
      watch.onLine,
    );
    const agencyIs = (line: string, agency: number) => fieldOf(line, "agency") === String(agency);
    const finishedOne = watch.waitFor(
      (line) => isLine(line, "agencia_finalizada") && agencyIs(line, 1),
      "agency 1 finished",
    );
    const answeredOne = watch.waitFor(
      (line) => isLine(line, "ganadores_enviados") && agencyIs(line, 1),
      "agency 1's winners sent",
    );
    try {
      const early = runLocalClient(clientEnv(1, server.port, first!));
      await finishedOne;
      const late = await runLocalClient(clientEnv(2, server.port, second!));
      const earlyRun = await early;
      await answeredOne;
      assert.equal(
        fieldOf(linesOf(earlyRun.lines, "consulta_ganadores")[0]!, "cant_ganadores"),
        "3",
      );
      assert.equal(fieldOf(linesOf(late.lines, "consulta_ganadores")[0]!, "cant_ganadores"), "1");
      // One log, one order: agency 1 finished, agency 2 finished, the draw,
      // and only then agency 1's answer.
      const at = (action: string, agency?: number) =>
        server.lines.findIndex((line) =>
          isLine(line, action) && (agency === undefined || agencyIs(line, agency))
        );
      const order = [
        at("agencia_finalizada", 1),
        at("agencia_finalizada", 2),
        at("sorteo"),
        at("ganadores_enviados", 1),
      ];
      assert.ok(!order.includes(-1), `every line is logged: ${order}`);
      assert.deepEqual(order, order.toSorted((a, b) => a - b), server.lines.join("\n"));
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});

Deno.test("server restarted on the same storage keeps every bet once and lets agencies resume", async () => {
  await withTempDir(async (dir) => {
    const [file] = await writeAgencies(dir, [{ bets: 500, winners: 2 }]);
    const storage = localBetsPath(dir);
    let server = await startLocalServer({ STORAGE_DIR: dir, AGENCIES: "2" });
    const pending1 = runLocalClient(
      clientEnv(1, server.port, file!, { CLI_RECONNECT_BUDGET: "1s" }),
    );
    // Agency 1 finishes, then waits for agency 2: stop the server under it.
    await waitForLine(server.lines, "agencia_finalizada");
    assert.equal(await server.stop(), 0);
    const run1 = await pending1;
    assert.equal(run1.code, 1, "the agency gives up once its reconnect budget is spent");
    server = await startLocalServer({ STORAGE_DIR: dir, AGENCIES: "2" });
    try {
      const restore = linesOf(server.lines, "restore")[0]!;
      assert.equal(fieldOf(restore, "bets"), "500");
      assert.equal(fieldOf(restore, "agencies_finished"), "1");
      const [rerun1, run2] = await Promise.all([
        runLocalClient(clientEnv(1, server.port, file!)),
        runLocalClient(clientEnv(2, server.port, file!)),
      ]);
      assert.equal(rerun1.code, 0, rerun1.lines.join("\n"));
      assert.equal(run2.code, 0, run2.lines.join("\n"));
      assert.equal(fieldOf(linesOf(rerun1.lines, "consulta_ganadores")[0]!, "cant_ganadores"), "2");
    } finally {
      assert.equal(await server.stop(), 0);
    }
    const stored = await storedPerAgency(storage);
    assert.deepEqual(
      stored.get(1),
      { bets: 500, winners: 2 },
      "agency 1's bets are not stored twice",
    );
    assert.deepEqual(stored.get(2), { bets: 500, winners: 2 });
  });
});

Deno.test("server SIGTERM logs each close and a final shutdown line, and exits 0", async () => {
  await withTempDir(async (dir) => {
    const server = await startLocalServer({ STORAGE_DIR: dir });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(new TextEncoder().encode("ping\n"));
    await conn.read(new Uint8Array(16));
    assert.equal(await server.stop(), 0);
    conn.close();
    const actions = server.lines.map((line) => fieldOf(line, "action"));
    for (const action of ["close_listener", "close_connection", "close_store"]) {
      assert.ok(actions.includes(action), `${action} is logged`);
    }
    assert.equal(actions.at(-1), "shutdown");
    assert.ok(!actions.includes("exit"));
  });
});

Deno.test("client SIGTERM mid-upload closes its connection and file, logs shutdown and exits 0", async () => {
  await withTempDir(async (dir) => {
    const [file] = await writeAgencies(dir, [{ bets: 20, winners: 0 }]);
    const server = await startLocalServer({ STORAGE_DIR: dir, AGENCIES: "2" });
    try {
      const client = new Deno.Command(Deno.execPath(), {
        args: ["run", ...permissionSetFlags("client"), "client.ts"],
        env: clientEnv(1, server.port, file!),
        stdout: "piped",
      }).spawn();
      // The client waits for the draw (agency 2 never comes): stop it there.
      await waitForLine(server.lines, "agencia_finalizada");
      client.kill("SIGTERM");
      const output = await client.output();
      const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
      assert.equal(output.code, 0);
      const actions = lines.map((line) => fieldOf(line, "action"));
      assert.ok(actions.includes("close_connection"));
      assert.ok(actions.includes("close_file"));
      assert.equal(actions.at(-1), "shutdown");
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});

Deno.test("an admin port already in use is one ERROR line and exit code 1, no stack trace", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await withTempDir(async (dir) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "server.ts"],
      env: {
        SERVER_PORT: "0",
        ADMIN_PORT: String(taken.addr.port),
        ADMIN_IP: "127.0.0.1",
        STORAGE_DIR: dir,
      },
      clearEnv: true,
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    assert.equal(output.code, 1, stdout);
    const failed = linesOf(stdout.split("\n"), "admin_listen", "fail");
    assert.equal(failed.length, 1, stdout);
    assert.match(
      failed[0]!,
      /ERROR +action: admin_listen \| result: fail \| .*error: Address already in use/,
    );
    assert.equal(linesOf(stdout.split("\n"), "listen").length, 0, "the lottery port never opened");
    assert.ok(!stdout.includes("    at ") && output.stderr.length === 0, "no stack trace");
  });
});

Deno.test("a bad config is one line naming the key and the file, exit code 2, no stack trace", async (t) => {
  const cases = [
    {
      name: "server non-numeric port",
      program: "server.ts",
      env: { SERVER_PORT: "abc" },
      key: "SERVER_PORT",
    },
    {
      name: "server unknown level",
      program: "server.ts",
      env: { LOGGING_LEVEL: "LOUD" },
      key: "LOGGING_LEVEL",
    },
    {
      name: "server non-numeric admin port",
      program: "server.ts",
      env: { SERVER_PORT: "0", ADMIN_PORT: "abc" },
      key: "ADMIN_PORT",
    },
    {
      name: "server missing file",
      program: "server.ts",
      env: { SERVER_CONFIG: "config/nope.ini" },
      key: "config/nope.ini",
    },
    {
      name: "client negative amount",
      program: "client.ts",
      env: { CLI_ID: "1", CLI_LOOP_AMOUNT: "-1" },
      key: "loop.amount",
    },
    { name: "client missing id", program: "client.ts", env: {}, key: "id" },
    {
      name: "client bet mode without NUMERO",
      program: "client.ts",
      env: {
        CLI_ID: "1",
        CLI_MODE: "bet",
        NOMBRE: "Ana",
        APELLIDO: "Paz",
        DOCUMENTO: "1",
        NACIMIENTO: "1990-01-01",
      },
      key: "NUMERO",
    },
  ];
  for (const testCase of cases) {
    await t.step(testCase.name, async () => {
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...permissionSetFlags(testCase.program === "server.ts" ? "server" : "client"),
          testCase.program,
        ],
        env: testCase.env,
        clearEnv: true,
      }).output();
      const stderr = new TextDecoder().decode(output.stderr).trim();
      assert.equal(output.code, 2, stderr);
      assert.equal(stderr.split("\n").length, 1, stderr);
      assert.match(stderr, /action: config \| result: fail \| error: /);
      assert.ok(stderr.includes(testCase.key), stderr);
      assert.ok(!stderr.includes("    at "), "no stack trace");
    });
  }
});

Deno.test("config line shows the effective values exactly as configured", async () => {
  await withTempDir(async (dir) => {
    const server = await startLocalServer({
      STORAGE_DIR: dir,
      SERVER_LISTEN_BACKLOG: "7",
      LOGGING_LEVEL: "DEBUG",
    });
    const configLine = linesOf(server.lines, "config")[0]!;
    assert.equal(fieldOf(configLine, "listen_backlog"), "7");
    assert.equal(fieldOf(configLine, "logging_level"), "DEBUG");
    assert.equal(await server.stop(), 0);
    const echo = await runLocalClient({
      CLI_ID: "3",
      CLI_MODE: "echo",
      CLI_LOOP_AMOUNT: "2",
      CLI_LOOP_PERIOD: "100ms",
      CLI_SERVER_ADDRESS: `127.0.0.1:${server.port}`,
      CLI_RECONNECT_BUDGET: "100ms",
    });
    const clientConfig = linesOf(echo.lines, "config")[0]!;
    assert.equal(fieldOf(clientConfig, "loop_period"), "100ms");
    assert.equal(fieldOf(clientConfig, "client_id"), "3");
    assert.equal(fieldOf(clientConfig, "loop_amount"), "2");
  });
});

Deno.test("echo mode: every message comes back and the loop ends with loop_finished", async () => {
  await withTempDir(async (dir) => {
    const server = await startLocalServer({ STORAGE_DIR: dir });
    try {
      const run = await runLocalClient({
        CLI_ID: "4",
        CLI_MODE: "echo",
        CLI_LOOP_AMOUNT: "3",
        CLI_LOOP_PERIOD: "10ms",
        CLI_SERVER_ADDRESS: `127.0.0.1:${server.port}`,
      });
      assert.equal(run.code, 0);
      assert.deepEqual(
        linesOf(run.lines, "receive_message").map((line) => fieldOf(line, "msg")),
        ["[CLIENT 4] Message N°1", "[CLIENT 4] Message N°2", "[CLIENT 4] Message N°3"],
      );
      assert.equal(fieldOf(linesOf(run.lines, "loop_finished")[0]!, "client_id"), "4");
      assert.equal(linesOf(server.lines, "receive_message").length, 3);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});

Deno.test("bet mode: the one bet is confirmed, logged at INFO, and stored once even when re-run", async () => {
  await withTempDir(async (dir) => {
    const storage = localBetsPath(dir);
    const server = await startLocalServer({ STORAGE_DIR: dir });
    const env = {
      CLI_ID: "2",
      CLI_MODE: "bet",
      CLI_SERVER_ADDRESS: `127.0.0.1:${server.port}`,
      NOMBRE: "Santiago Lionel",
      APELLIDO: "Lorca",
      DOCUMENTO: "30904465",
      NACIMIENTO: "1999-03-17",
      NUMERO: "7574",
    };
    try {
      for (let run = 0; run < 2; run += 1) {
        const result = await runLocalClient(env);
        assert.equal(result.code, 0, result.lines.join("\n"));
        const sent = linesOf(result.lines, "apuesta_enviada")[0]!;
        assert.ok(sent.includes(" INFO "));
        assert.equal(fieldOf(sent, "dni"), "30904465");
        assert.equal(fieldOf(sent, "numero"), "7574");
      }
    } finally {
      assert.equal(await server.stop(), 0);
    }
    const bets = await Array.fromAsync(loadBets(storage));
    assert.equal(bets.length, 1);
    assert.equal(bets[0]!.lastName, "Lorca");
  });
});

Deno.test("client skips malformed rows with their line numbers and counts them in its summary", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/agency-1.csv`;
    await Deno.writeTextFile(
      file,
      [
        "Ana,Paz,30111222,1990-01-01,7574",
        "Luis,Gómez,abc,1990-01-01,12",
        '"Pérez, Juan",Ruiz,30111223,1990-02-30,12',
        "Eva,Sosa,30111224,1991-01-01",
        '"O""Hara",Díaz,30111225,1980-12-31,7574',
      ].join("\n") + "\n",
    );
    const server = await startLocalServer({ STORAGE_DIR: dir, AGENCIES: "1" });
    let run: ClientRun;
    try {
      run = await runLocalClient(clientEnv(1, server.port, file));
    } finally {
      assert.equal(await server.stop(), 0);
    }
    assert.equal(run.code, 0, run.lines.join("\n"));
    const skipped = linesOf(run.lines, "fila_invalida", "fail").map((line) =>
      fieldOf(line, "line")
    );
    assert.deepEqual(skipped, ["2", "3", "4"]);
    const summary = linesOf(run.lines, "carga_finalizada")[0]!;
    assert.equal(fieldOf(summary, "rows_skipped"), "3");
    assert.equal(fieldOf(summary, "bets_sent"), "2");
    assert.equal(fieldOf(linesOf(run.lines, "consulta_ganadores")[0]!, "cant_ganadores"), "2");
  });
});

/** Whether `ss` runs here: false without it, and without run permission
 * (Deno.Command throws that synchronously), so this module always loads. */
async function _hasSs(): Promise<boolean> {
  try {
    const output = await new Deno.Command("ss", { args: ["-V"], stdout: "null", stderr: "null" })
      .output();
    return output.success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "SERVER_LISTEN_BACKLOG reaches the kernel's accept queue (ss shows it as Send-Q)",
  ignore: !(await _hasSs()),
  fn: async () => {
    await withTempDir(async (dir) => {
      const server = await startLocalServer({
        STORAGE_DIR: dir,
        SERVER_LISTEN_BACKLOG: "7",
      });
      try {
        const output = await new Deno.Command("ss", { args: ["-ltnH", `sport = :${server.port}`] })
          .output();
        const columns = new TextDecoder().decode(output.stdout).trim().split(/\s+/);
        assert.equal(columns[0], "LISTEN");
        assert.equal(columns[2], "7");
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });
  },
});

Deno.test("at DEBUG the server logs each stored bet and the client each confirmed bet", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/agency-1.csv`;
    await Deno.writeTextFile(
      file,
      "Ana,Paz,30111222,1990-01-01,7574\nLuis,Gómez,30111223,1991-02-03,12\n",
    );
    const server = await startLocalServer({
      STORAGE_DIR: dir,
      AGENCIES: "1",
      LOGGING_LEVEL: "DEBUG",
    });
    let run: ClientRun;
    try {
      run = await runLocalClient(clientEnv(1, server.port, file, { CLI_LOG_LEVEL: "DEBUG" }));
    } finally {
      assert.equal(await server.stop(), 0);
    }
    assert.equal(run.code, 0, run.lines.join("\n"));
    const stored = linesOf(server.lines, "apuesta_almacenada");
    assert.deepEqual(stored.map((line) => [fieldOf(line, "dni"), fieldOf(line, "numero")]), [
      ["30111222", "7574"],
      ["30111223", "12"],
    ]);
    const sent = linesOf(run.lines, "apuesta_enviada");
    assert.deepEqual(sent.map((line) => [fieldOf(line, "dni"), fieldOf(line, "numero")]), [
      ["30111222", "7574"],
      ["30111223", "12"],
    ]);
    for (const line of [...stored, ...sent]) assert.ok(line.includes(" DEBUG "), line);
  });
});
