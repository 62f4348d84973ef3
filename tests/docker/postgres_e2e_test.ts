/**
 * The PostgreSQL store in containers (`--store postgres`), with the bundled
 * database image that `deno task images` builds from Debian's PostgreSQL:
 * compose runs the course-size lottery (the repository's five agency files)
 * to exact winners with every bet stored once in the database; and a swarm
 * stack of three server replicas on that one database survives `docker
 * kill` of a replica mid-upload, its agencies resuming on another replica.
 * The store is read back with psql inside the database container.
 */

import assert from "node:assert/strict";
import { type Bet, hasWon } from "../../lib/bet/bet.ts";
import { formatAgencyRow } from "../../lib/bet/bet_csv.ts";
import { AgencyRowScanner, betOfRow } from "../../lib/bet/agency_row_scanner.ts";
import { dateNumber } from "../../lib/bet/bet_bytes.ts";
import { drawsMade, serviceLogs, stackTasks, waitForAgencies } from "../../lib/containers/swarm.ts";
import { fieldOf, linesOf } from "../../lib/dev/local_cluster.ts";
import { runCommand } from "../../lib/runtime/run_command.ts";
import { loadBets } from "../../lib/store/bets_file_reader.ts";
import {
  type AgencySpec,
  databaseContainerTest,
  databaseRows,
  REPO_DIR,
  withProject,
} from "./_harness.ts";
import { deployStack, runningContainers, taskLogs, withStack, withSwarm } from "./_swarm.ts";

/** Bound on the agencies' uploads after start. */
const _UPLOAD_MS = 240_000;

/** The course-size lottery: the repository's committed agency files. */
const _COURSE_AGENCIES = 5;

/** Reads an agency file with the client's own rules (every row a valid bet). */
async function agencyBets(path: string, agency: number): Promise<Bet[]> {
  const bets: Bet[] = [];
  const scanner = new AgencyRowScanner(
    dateNumber(new Date()),
    (row) => {
      const bet = betOfRow(row, agency);
      if ("reason" in bet) throw new Error(`${path}: ${bet.reason}`);
      bets.push(bet);
    },
    (skipped) => {
      throw new Error(`${path} line ${skipped.lineNumber}: ${skipped.reason}`);
    },
  );
  scanner.push(await Deno.readFile(path));
  scanner.end();
  return bets;
}

/**
 * Reads every stored bet of a draw out of the database (the `lottery.bets`
 * view: one row per bet, as the file store writes it), validates each with
 * the file store's reader, and compares them with the agencies' data: every
 * bet stored exactly once, at distinct positions.
 */
async function assertDatabaseExact(
  container: string,
  drawId: string,
  expected: readonly Bet[][],
  scratch: string,
): Promise<void> {
  const positions = await databaseRows(
    container,
    `SELECT agency, count(*), count(DISTINCT position) FROM lottery.bets
      WHERE draw_id = '${drawId}' GROUP BY agency ORDER BY agency`,
  );
  assert.deepEqual(
    positions,
    expected.map((bets, index) => [String(index + 1), String(bets.length), String(bets.length)]),
    "each agency's bets stored once, each at its own position",
  );
  const rows = await databaseRows(
    container,
    `SELECT row FROM lottery.bets WHERE draw_id = '${drawId}' ORDER BY agency, position`,
  );
  const path = `${scratch}/stored.csv`;
  await Deno.writeTextFile(path, rows.map(([row]) => `${row}\n`).join(""));
  const stored = new Map<number, string[]>();
  for await (const bet of loadBets(path)) {
    stored.set(bet.agency, [...stored.get(bet.agency) ?? [], formatAgencyRow(bet)]);
  }
  for (const rowsOf of stored.values()) rowsOf.sort();
  assert.deepEqual(
    stored,
    new Map(expected.map((bets, index) => [index + 1, bets.map(formatAgencyRow).sort()])),
    "the stored bets are the agencies' bets",
  );
  const draws = await databaseRows(
    container,
    `SELECT count(*) FROM lottery.draws WHERE draw_id = '${drawId}' AND drawn_at IS NOT NULL`,
  );
  assert.deepEqual(draws, [["1"]], "the draw happened once");
}

databaseContainerTest(
  "compose --store postgres: the course's 5 agency files reach their exact winners, one draw, every bet stored once in the database",
  async () => {
    const expected: Bet[][] = [];
    for (let agency = 1; agency <= _COURSE_AGENCIES; agency += 1) {
      expected.push(await agencyBets(`${REPO_DIR}/data/agency-${agency}.csv`, agency));
    }
    const agencies: AgencySpec[] = expected.map((bets) => ({
      bets: bets.length,
      winners: bets.filter(hasWon).length,
    }));
    await withProject({
      label: "pg5",
      mode: "lottery",
      agencies,
      store: "postgres",
      dataFrom: `${REPO_DIR}/data`,
    }, async (project) => {
      await project.composeOk("up", "--detach", "--no-build");
      const exitCodes = await Promise.all(
        agencies.map((_, index) => project.exitCode(`client${index + 1}`)),
      );
      assert.deepEqual(exitCodes, agencies.map(() => 0), "client exit codes");
      for (const [index, spec] of agencies.entries()) {
        const answers = linesOf(await project.logs(`client${index + 1}`), "consulta_ganadores");
        assert.equal(answers.length, 1, `client${index + 1} consulta_ganadores lines`);
        assert.equal(fieldOf(answers[0]!, "cant_ganadores"), String(spec.winners));
      }
      const server = await project.logs("server");
      assert.equal(linesOf(server, "sorteo").length, 1, "one draw");
      assert.deepEqual(server.filter((line) => line.includes("result: fail")), []);
      assert.equal(await project.inspect("postgres", "{{.State.Health.Status}}"), "healthy");
      const password = /POSTGRES_PASSWORD=([^"]+)/.exec(
        await project.inspect("postgres", "{{json .Config.Env}}"),
      )?.[1];
      assert.ok(password !== undefined && password.length >= 16, "the database has a password");
      assert.match(
        linesOf(server, "restore", "success")[0] ?? "",
        /storage: postgres:\/\/tp0:\*\*\*@postgres:5432\/tp0/,
        "the server names the database it uses, without the password",
      );
      assert.ok(!server.some((line) => line.includes(password)), "no log line shows the password");
      await assertDatabaseExact(
        project.container("postgres"),
        project.drawId,
        expected,
        project.dir,
      );
    });
  },
);

databaseContainerTest(
  "swarm stack with --store postgres and 3 replicas: a replica killed mid-upload is replaced, its agencies resume on another, exact winners, every bet stored once",
  async () => {
    await withSwarm(async () => {
      await withStack({
        label: "pgkill",
        agencies: [3, 2, 1, 0, 4].map((winners) => ({ bets: 20_000, winners })),
        agencyMode: "job",
        database: { replicas: 3 },
        // Small batches, a small window: the upload lasts long enough to be cut.
        clientConfig: (config) => {
          config["batch"] = { maxAmount: 10, window: 2 };
        },
      }, async (stack) => {
        await deployStack(stack.file, "--detach");
        // Wait until some replica has stored batches, then kill the busiest one.
        const deadline = Date.now() + _UPLOAD_MS;
        let victim: { id: string; batches: number } = { id: "", batches: 0 };
        while (victim.batches < 30) {
          assert.ok(Date.now() < deadline, "a replica stored 30 batches in time");
          await new Promise((resolve) => setTimeout(resolve, 250));
          for (const id of await runningContainers(stack.name, "server")) {
            const logs = await runCommand(["docker", "logs", id], { timeoutMs: 30_000 });
            const batches = linesOf(logs.stdout.split("\n"), "apuesta_recibida").length;
            if (batches > victim.batches) victim = { id, batches };
          }
        }
        assert.equal(
          (await runningContainers(stack.name, "server")).length,
          3,
          "three replicas running",
        );
        const killed = await runCommand(["docker", "kill", "--signal", "KILL", victim.id], {
          timeoutMs: 30_000,
        });
        assert.equal(killed.code, 0, killed.stderr);
        assert.ok(
          linesOf(await taskLogs(stack.name, "server"), "agencia_finalizada").length <
            stack.bets.length,
          "killed before every agency finished",
        );

        const progress = await waitForAgencies(stack.name, stack.bets.length, _UPLOAD_MS);
        assert.deepEqual(progress.waiting, [], "every agency completed");
        const tasks = (await stackTasks(stack.name)).filter((row) =>
          row.service === `${stack.name}_server`
        );
        assert.ok(tasks.length >= 4, `swarm replaced the killed replica: ${JSON.stringify(tasks)}`);
        assert.ok(tasks.some((row) => /exit \(137\)/.test(row.error)), "one died of SIGKILL");
        for (const [index, bets] of stack.bets.entries()) {
          const answers = linesOf(
            await serviceLogs(`${stack.name}_client${index + 1}`),
            "consulta_ganadores",
          );
          assert.equal(
            fieldOf(answers.at(-1) ?? "", "cant_ganadores"),
            String(bets.filter(hasWon).length),
            `agency ${index + 1}'s winners`,
          );
        }
        const resumed = await Promise.all(stack.bets.map(async (_, index) =>
          linesOf(
            await serviceLogs(`${stack.name}_client${index + 1}`),
            "connection_lost",
            "in_progress",
          ).length
        ));
        assert.ok(resumed.some((count) => count > 0), "an agency lost its replica and resumed");
        assert.equal(
          drawsMade(await taskLogs(stack.name, "server")),
          1,
          "one replica made the draw; the others learnt it from the database",
        );
        const [database] = await runningContainers(stack.name, "postgres");
        assert.ok(database !== undefined, "the database task runs");
        await assertDatabaseExact(database, stack.options.drawId, stack.bets, stack.dir);
      });
    });
  },
);
