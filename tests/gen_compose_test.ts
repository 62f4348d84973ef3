import assert from "node:assert/strict";
import { COMPOSE_CLIENTS_MAX } from "../lib/containers/compose_document.ts";
import { SERVER_REPLICAS_MAX } from "../lib/limits.ts";
import { runCommand } from "../lib/runtime/run_command.ts";
import { type ComposeArgs, parseComposeArgs } from "../lib/containers/compose_args.ts";
import { readFirstBet } from "../lib/containers/compose_file.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { parseYaml11 } from "./helpers/yaml11.ts";

const SCRIPT = new URL("../gen_compose.ts", import.meta.url).pathname;
const REPO = new URL("../", import.meta.url).pathname;

/** The parts of a generated compose or stack file these tests read. */
interface GeneratedFile {
  services: Record<"server" | "client2", {
    build: { context: string };
    environment: Record<string, string>;
    volumes: [{ source: string }, { source: string }];
  }>;
  configs: Record<"server_ini" | "client_yaml", { name: string; file: string }>;
  "x-tp0": { stack: string };
}

/** Reads a generated file as docker-compose v1 and docker stack deploy do (YAML 1.1). */
async function readGenerated(path: string): Promise<GeneratedFile> {
  return parseYaml11(await Deno.readTextFile(path)) as GeneratedFile;
}

const SWARM_DEFAULTS = {
  stack: "tp0",
  agencyMode: "job",
  attachable: false,
  publishTls: false,
  registry: "",
  replicas: 1,
};

Deno.test("parseComposeArgs() reads N and fills every default", () => {
  const defaults = {
    clients: 5,
    target: "compose",
    mode: "lottery",
    output: "docker-compose-dev.yaml",
    configDir: "config",
    dataDir: "data",
    drawId: undefined,
    adminPort: 9180,
    credentials: undefined,
    store: "file",
    swarm: SWARM_DEFAULTS,
  };
  assert.deepEqual(parseComposeArgs(["5"]), defaults);
  assert.deepEqual(
    parseComposeArgs(["0", "--mode", "echo", "--output", "x.yaml", "--data-dir", "d"]),
    { ...defaults, clients: 0, mode: "echo", output: "x.yaml", dataDir: "d" },
  );
  assert.equal(
    (parseComposeArgs(["2", "--draw", "20261201-094200-1a2b"]) as { drawId: string }).drawId,
    "20261201-094200-1a2b",
  );
  assert.equal(
    (parseComposeArgs(["1", "--admin-port", "65535"]) as { adminPort: number }).adminPort,
    65_535,
  );
  assert.deepEqual(parseComposeArgs(["5", "--target", "swarm"]), {
    ...defaults,
    target: "swarm",
    output: "docker-stack.yaml",
  });
  assert.equal(parseComposeArgs(["--help"]), "help");
  // `deno task compose -- 5 --mode bet` passes the `--` along.
  assert.equal((parseComposeArgs(["--", "5", "--mode", "bet"]) as { mode: string }).mode, "bet");
});

Deno.test("parseComposeArgs() rejects bad N, unknown flags and modes with one-line messages", async (t) => {
  const cases: [string[], RegExp][] = [
    [["-1"], /N "-1" is not a whole number in 0\.\.100/],
    [["1.5"], /N "1\.5" is not a whole number/],
    [["abc"], /N "abc" is not a whole number/],
    [[String(COMPOSE_CLIENTS_MAX + 1)], /N "101" is not a whole number in 0\.\.100/],
    [["1e3"], /N "1e3"/],
    [[], /expected one argument N/],
    [["1", "2"], /expected one argument N .* got 2/],
    [["3", "--foo"], /unknown or incomplete flag --foo/],
    [["3", "--mode", "poker"], /--mode "poker" is not one of lottery, bet, echo/],
    [["3", "--draw", "../x"], /--draw "\.\.\/x" may hold only letters/],
    [["3", "--admin-port", "0"], /--admin-port "0" is not a whole number in 1\.\.65535/],
    [["3", "--admin-port", "65536"], /--admin-port "65536"/],
    [["3", "--target", "k8s"], /--target "k8s" is not one of compose, swarm/],
    [["3", "--client-certs"], /--client-certs needs --credentials DIR/],
    [["3", "--credentials", "s", "--client-certs", "--plain"], /drop --plain/],
    [["3", "--stack", "x"], /--stack needs --target swarm/],
    [
      ["3", "--target", "swarm", "--agency-mode", "cron"],
      /--agency-mode "cron" is not one of job, restart/,
    ],
    [["3", "--target", "swarm", "--stack", "Bad.Name"], /--stack "Bad\.Name"/],
    [["3", "--target", "swarm", "--publish-tls"], /--publish-tls needs TLS/],
    [["3", "--target", "swarm", "--registry", "a b"], /--registry "a b" is not HOST/],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" ") || "(nothing)", () => {
      assert.throws(() => parseComposeArgs(args), (error: Error) => {
        assert.match(error.message, message);
        assert.ok(!error.message.includes("\n"), "one line");
        return true;
      });
    });
  }
});

async function writeProject(dir: string, agencies: number): Promise<void> {
  await Deno.mkdir(`${dir}/config`);
  await Deno.mkdir(`${dir}/data`);
  await Deno.writeTextFile(`${dir}/config/server.ini`, "[DEFAULT]\n");
  await Deno.writeTextFile(`${dir}/config/client.yaml`, "{}\n");
  for (let k = 1; k <= agencies; k += 1) {
    await Deno.writeTextFile(
      `${dir}/data/agency-${k}.csv`,
      `"Pérez, Juan ${k}",Gómez,3000000${k},1980-05-0${k},${7570 + k}\nOtro,Más,1,2000-01-01,1\n`,
    );
  }
}

function runScript(dir: string, args: string[]) {
  return runCommand(
    [Deno.execPath(), "run", "--allow-read", "--allow-write", SCRIPT, ...args],
    { timeoutMs: 60_000, cwd: dir },
  );
}

Deno.test("gen_compose.ts exits 2 with one line and leaves the output untouched on bad input", async (t) => {
  await withTempDir(async (dir) => {
    await writeProject(dir, 2);
    const output = `${dir}/docker-compose-dev.yaml`;
    await Deno.writeTextFile(output, "previous content\n");
    const cases: [string[], RegExp][] = [
      [
        ["3"],
        /data\/agency-3\.csv not found \(client3 mounts it; create it with: deno task data --agencies 3\)/,
      ],
      [["x"], /N "x" is not a whole number/],
      [["100000"], /N "100000" is not a whole number in 0\.\.100/],
      [["2", "--nope"], /unknown or incomplete flag --nope/],
      [["2", "--config-dir", "missing"], /missing\/server\.ini not found/],
      [["2", "--output", "nowhere/c.yaml"], /--output directory .*\/nowhere does not exist/],
    ];
    for (const [args, message] of cases) {
      await t.step(args.join(" "), async () => {
        const result = await runScript(dir, args);
        assert.equal(result.code, 2);
        assert.equal(result.stdout, "");
        assert.match(result.stderr, message);
        assert.equal(result.stderr.trimEnd().split("\n").length, 1, "one line");
        assert.equal(await Deno.readTextFile(output), "previous content\n");
      });
    }
  });
});

Deno.test("gen_compose.ts --help explains N, every flag and the next steps", async () => {
  const result = await runScript(REPO, ["--help"]);
  assert.equal(result.code, 0);
  const words = [
    "<N>",
    "--output",
    "--mode",
    "--config-dir",
    "--data-dir",
    "--draw",
    "deno task up",
  ];
  words.push("--target", "--credentials", "--client-certs", "--agency-mode", "deno task deploy");
  for (const word of words) {
    assert.ok(result.stdout.includes(word), `help mentions ${word}`);
  }
});

Deno.test("gen_compose.ts writes paths relative to the output file and bet-mode bets from each file's first row", async () => {
  await withTempDir(async (dir) => {
    await writeProject(dir, 2);
    await Deno.mkdir(`${dir}/out`);
    const result = await runScript(dir, ["2", "--mode", "bet", "--output", "out/c.yaml"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /wrote out\/c\.yaml: server \+ 2 clients \(mode bet/);
    const document = await readGenerated(`${dir}/out/c.yaml`);
    const client = document.services.client2;
    assert.equal(client.volumes[1].source, "../data/agency-2.csv");
    assert.equal(client.build.context, "..");
    assert.equal(client.environment.NOMBRE, "Pérez, Juan 2");
    assert.equal(client.environment.DOCUMENTO, "30000002");
    assert.equal(client.environment.NACIMIENTO, "1980-05-02");
    assert.equal(client.environment.NUMERO, "7572");
  });
});

Deno.test("gen_compose.ts stamps a new draw id into every file it writes, or the one --draw gives", async () => {
  await withTempDir(async (dir) => {
    await writeProject(dir, 1);
    const drawIds: string[] = [];
    for (const args of [["1"], ["1"], ["1", "--draw", "kept-draw"]]) {
      const result = await runScript(dir, [...args, "--output", "c.yaml"]);
      assert.equal(result.code, 0, result.stderr);
      const document = await readGenerated(`${dir}/c.yaml`);
      const drawId = document.services.server.environment["DRAW_ID"]!;
      assert.match(result.stdout, new RegExp(`draw ${drawId},`));
      drawIds.push(drawId);
    }
    assert.match(drawIds[0]!, /^\d{8}-\d{6}-[0-9a-f]{4}$/);
    assert.notEqual(drawIds[0], drawIds[1], "each generated file is a new draw");
    assert.equal(drawIds[2], "kept-draw");
  });
});

Deno.test("parseComposeArgs() turns --credentials into secrets and TLS, --plain and --client-certs adjust it", () => {
  const choice = (args: string[]) => (parseComposeArgs(["2", ...args]) as ComposeArgs).credentials;
  assert.deepEqual(choice(["--credentials", "s"]), {
    dir: "s",
    secrets: true,
    tls: true,
    clientCerts: false,
  });
  assert.deepEqual(choice(["--credentials", "s", "--client-certs"])?.clientCerts, true);
  assert.deepEqual(choice(["--credentials", "s", "--plain"])?.tls, false);
  const swarm = parseComposeArgs([
    "2",
    ...["--target", "swarm", "--stack", "lot", "--agency-mode", "restart", "--attachable"],
    ...["--credentials", "s", "--publish-tls", "--registry", "registry.example:5000/tp0"],
  ]) as ComposeArgs;
  assert.deepEqual(swarm.swarm, {
    stack: "lot",
    agencyMode: "restart",
    attachable: true,
    publishTls: true,
    registry: "registry.example:5000/tp0",
    replicas: 1,
  });
});

Deno.test("parseComposeArgs() reads --store and, in a stack with --store postgres, --replicas", () => {
  const parse = (args: string[]) => parseComposeArgs(["2", ...args]) as ComposeArgs;
  assert.equal(parse([]).store, "file");
  assert.equal(parse(["--store", "file"]).store, "file");
  assert.equal(parse(["--store", "postgres"]).store, "postgres");
  assert.equal(parse(["--store", "postgres", "--target", "swarm"]).swarm.replicas, 1);
  for (const replicas of [1, 3, SERVER_REPLICAS_MAX]) {
    const args = ["--store", "postgres", "--target", "swarm", "--replicas", String(replicas)];
    assert.equal(parse(args).swarm.replicas, replicas);
  }
});

Deno.test("parseComposeArgs() refuses a bad --store, and --replicas without a stack, with the file store or out of range", async (t) => {
  const stack = ["--target", "swarm", "--store", "postgres"];
  const cases: [string[], RegExp][] = [
    [["--store", "sqlite"], /^--store "sqlite" is not one of file, postgres$/],
    [["--store", "postgres", "--replicas", "2"], /^--replicas needs --target swarm$/],
    [["--target", "swarm", "--replicas", "2"], /^--replicas needs --store postgres: /],
    [["--target", "swarm", "--replicas", "1"], /^--replicas needs --store postgres: /],
    [[...stack, "--replicas", "0"], /^--replicas "0" is not a whole number in 1\.\.16$/],
    [[...stack, "--replicas", String(SERVER_REPLICAS_MAX + 1)], /^--replicas "17" is not/],
    [[...stack, "--replicas", "two"], /^--replicas "two" is not a whole number/],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), () => {
      assert.throws(() => parseComposeArgs(["2", ...args]), { message });
    });
  }
});

Deno.test("gen_compose.ts --store postgres writes a database service and says so; a new password per file", async () => {
  await withTempDir(async (dir) => {
    await writeProject(dir, 2);
    const passwords: string[] = [];
    for (const output of ["a.yaml", "b.yaml"]) {
      const result = await runScript(dir, ["2", "--store", "postgres", "--output", output]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /PostgreSQL store in service postgres \(tp0-postgres:15\)\)$/m);
      const text = await Deno.readTextFile(`${dir}/${output}`);
      assert.match(text, /^# Generated by .*deno task compose 2 --mode lottery --store postgres\)/);
      const file = parseYaml11(text) as {
        services: Record<string, { environment: Record<string, string> }>;
      };
      const password = file.services["postgres"]!.environment["POSTGRES_PASSWORD"]!;
      assert.equal(
        file.services["server"]!.environment["STORE_URL"],
        `postgres://tp0:${password}@postgres:5432/tp0`,
      );
      passwords.push(password);
    }
    assert.match(passwords[0]!, /^[0-9a-f]{32}$/);
    assert.notEqual(passwords[0], passwords[1]);
    const stack = await runScript(dir, [
      ...["2", "--target", "swarm", "--store", "postgres", "--replicas", "3"],
      ...["--output", "s.yaml"],
    ]);
    assert.equal(stack.code, 0, stack.stderr);
    assert.match(stack.stdout, /stack tp0, 3 server replicas \+ 2 agencies/);
    assert.match(
      await Deno.readTextFile(`${dir}/s.yaml`),
      /^# Generated by .*--target swarm --mode lottery --store postgres --replicas 3\)/,
    );
  });
});

Deno.test("gen_compose.ts --target swarm writes absolute paths, versioned configs and the stack's name", async () => {
  await withTempDir(async (dir) => {
    await writeProject(dir, 2);
    const swarmArgs = ["2", "--target", "swarm", "--stack", "lot", "--draw", "d1"];
    const result = await runScript(dir, swarmArgs);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /wrote docker-stack\.yaml: stack lot, server \+ 2 agencies/);
    const text = await Deno.readTextFile(`${dir}/docker-stack.yaml`);
    const document = parseYaml11(text) as GeneratedFile;
    const real = await Deno.realPath(dir);
    assert.equal(document.services.client2.volumes[0].source, `${real}/data/agency-2.csv`);
    assert.equal(document.configs.server_ini.file, `${real}/config/server.ini`);
    assert.match(document.configs.server_ini.name, /^lot_server_ini_[0-9a-f]{10}$/);
    assert.equal(document["x-tp0"].stack, "lot");
    // The same content, the same name; a changed file, a new one.
    const again = await runScript(dir, swarmArgs);
    assert.equal(again.code, 0);
    assert.equal(await Deno.readTextFile(`${dir}/docker-stack.yaml`), text);
    await Deno.writeTextFile(`${dir}/config/server.ini`, "[DEFAULT]\nLOGGING_LEVEL = DEBUG\n");
    await runScript(dir, swarmArgs);
    const changed = await readGenerated(`${dir}/docker-stack.yaml`);
    assert.notEqual(changed.configs.server_ini.name, document.configs.server_ini.name);
    assert.equal(changed.configs.client_yaml.name, document.configs.client_yaml.name);
  });
});

Deno.test("gen_compose.ts --credentials names a missing credentials file and how to make it", async () => {
  await withTempDir(async (dir) => {
    await writeProject(dir, 2);
    await Deno.mkdir(`${dir}/secrets`);
    const result = await runScript(dir, ["2", "--credentials", "secrets"]);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /secrets\/agencies\.secrets not found \(create it with: deno task certs 2 --out secrets\)/,
    );
  });
});

Deno.test("readFirstBet() rejects an empty file and a malformed first row, naming the file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/empty.csv`, "");
    await assert.rejects(readFirstBet(`${dir}/empty.csv`, 1), /empty\.csv is empty/);
    await Deno.writeTextFile(`${dir}/bad.csv`, "only,three,columns\n");
    await assert.rejects(
      readFirstBet(`${dir}/bad.csv`, 1),
      /bad\.csv line 1: expected 5 columns, found 3/,
    );
  });
});

Deno.test("readFirstBet() reads the row the client would send first, with the client's rules", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/crlf.csv`,
      '\r\n"Pérez, ""Juan""",Gómez,30000001,1980-05-01,7574\r\nOtro,Más,1,2000-01-01,1\r\n',
    );
    assert.deepEqual(await readFirstBet(`${dir}/crlf.csv`, 3), {
      agency: 3,
      firstName: 'Pérez, "Juan"',
      lastName: "Gómez",
      document: "30000001",
      birthdate: "1980-05-01",
      number: 7574,
    });
    await Deno.writeTextFile(`${dir}/big.csv`, "A,B,30000001,1980-05-01,10000\n");
    await assert.rejects(
      readFirstBet(`${dir}/big.csv`, 1),
      /big\.csv line 1: number 10000 is not an integer in 0\.\.9999/,
    );
  });
});

Deno.test("parseComposeArgs() takes --store-url with --store postgres only, and never echoes the URL", async (t) => {
  const url = "postgres://lottery:s3cret@db.example:5432/lottery";
  const parsed = parseComposeArgs(["2", "--store", "postgres", "--store-url", url]) as ComposeArgs;
  assert.equal(parsed.storeUrl, url);
  assert.equal((parseComposeArgs(["2", "--store", "postgres"]) as ComposeArgs).storeUrl, undefined);
  const cases: [string[], RegExp][] = [
    [["--store-url", url], /^--store-url needs --store postgres$/],
    [
      ["--store", "postgres", "--store-url", "mysql://u:s3cret@h/d"],
      /^--store-url has the scheme "mysql", not postgres$/,
    ],
    [
      ["--store", "postgres", "--store-url", "s3cret"],
      /^--store-url is not a URL$/,
    ],
    [["--store", "postgres", "--store-url", "postgres://"], /^--store-url names no host$/],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), () => {
      assert.throws(() => parseComposeArgs(["2", ...args]), (error: Error) => {
        assert.match(error.message, message);
        assert.ok(!error.message.includes("s3cret"), "the password stays out of the message");
        return true;
      });
    });
  }
});
