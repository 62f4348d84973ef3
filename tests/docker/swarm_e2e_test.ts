/**
 * The stack on a real single-node swarm (made for the test when the engine
 * is in none, and left again): `deno task deploy` runs the agencies as jobs
 * over TLS with client certificates and secrets, every agency learns its
 * exact winners, the store read back out of its volume holds exactly the
 * data, and no secret shows in docker inspect or the logs. Then the fault:
 * the server's task container killed with SIGKILL mid-upload, swarm starts a
 * new one on the same volume, the agencies resume, the store ends exact.
 */

import assert from "node:assert/strict";
import { type Bet, hasWon } from "../../lib/bet/bet.ts";
import { formatAgencyRow } from "../../lib/bet/bet_csv.ts";
import {
  agencyKeyFile,
  agencySecretFile,
  CREDENTIAL_FILES,
} from "../../lib/containers/credentials.ts";
import { serviceLogs, stackTasks, waitForAgencies } from "../../lib/containers/swarm.ts";
import { fieldOf, linesOf } from "../../lib/dev/local_cluster.ts";
import { runCommand } from "../../lib/runtime/run_command.ts";
import { loadBets } from "../../lib/store/bets_file_reader.ts";
import { containerTest } from "./_harness.ts";
import { renderStack } from "../../lib/containers/compose_file.ts";
import type { StackOptions } from "../../lib/containers/stack_document.ts";
import { POSTGRES_IMAGE } from "../../lib/containers/images.ts";
import {
  deployStack,
  inspectStack,
  readStoredBets,
  serverContainer,
  type TestStack,
  withStack,
  withSwarm,
} from "./_swarm.ts";

/** Bound on the agencies' jobs after deploy (images cached: about 30 s here). */
const _JOBS_MS = 180_000;

/** Each agency's rows as the store writes them, sorted, from the generated data. */
function expectedRows(stack: TestStack): Map<number, string[]> {
  return new Map(stack.bets.map((bets, index) => [index + 1, bets.map(formatAgencyRow).sort()]));
}

/** Reads the stack's store back (every row validated by loadBets) and compares it with the data. */
async function assertStoreExact(stack: TestStack): Promise<void> {
  const path = await readStoredBets(stack.name, `${stack.dir}/stored.csv`);
  const stored = new Map<number, string[]>();
  for await (const bet of loadBets(path)) {
    const rows = stored.get(bet.agency) ?? [];
    rows.push(formatAgencyRow(bet));
    stored.set(bet.agency, rows);
  }
  for (const rows of stored.values()) rows.sort();
  assert.deepEqual(stored, expectedRows(stack), "every bet of every agency stored exactly once");
}

function winnersOf(bets: readonly Bet[]): number {
  return bets.filter(hasWon).length;
}

async function agencyWinners(stack: TestStack, agency: number): Promise<string | undefined> {
  const answers = linesOf(await serviceLogs(`${stack.name}_client${agency}`), "consulta_ganadores");
  return fieldOf(answers.at(-1) ?? "", "cant_ganadores");
}

containerTest(
  "docker stack config accepts the stack file in every shape: bet mode, restart agencies, TLS with a published port, attachable, a registry, the PostgreSQL store",
  async () => {
    await withStack({
      label: "config",
      agencies: [{ bets: 3, winners: 1 }, { bets: 2, winners: 0 }],
      agencyMode: "restart",
      credentials: { secrets: true, tls: true, clientCerts: true },
    }, async (stack) => {
      const variants: [string, (options: StackOptions) => StackOptions][] = [
        ["as made", (options) => options],
        ["jobs, attachable, TLS port published", (options) => ({
          ...options,
          agencyMode: "job",
          attachable: true,
          publishTls: true,
        })],
        ["bet mode from a registry", (options) => ({
          ...options,
          mode: "bet",
          exampleBets: stack.bets.map((bets) => bets[0]!),
          serverImage: "registry.example:5000/tp0-server:latest",
          clientImage: "registry.example:5000/tp0-client:latest",
        })],
        ["no credentials", (options) => ({ ...options, credentials: undefined })],
        ["the bundled PostgreSQL store with 3 server replicas", (options) => ({
          ...options,
          database: { password: "a".repeat(32), image: POSTGRES_IMAGE, replicas: 3 },
        })],
        ["servers on a PostgreSQL of the operator's", (options) => ({
          ...options,
          database: { url: "postgres://lottery:pa$s@db.example:5432/lottery", replicas: 2 },
        })],
      ];
      for (const [name, change] of variants) {
        const file = `${stack.dir}/variant.yaml`;
        await Deno.writeTextFile(file, renderStack(change(stack.options)));
        const result = await runCommand(["docker", "stack", "config", "--compose-file", file], {
          timeoutMs: 60_000,
        });
        assert.equal(result.code, 0, `${name}: ${result.stderr}`);
        assert.match(result.stdout, /services:/, name);
      }
    });
  },
);

containerTest(
  "swarm stack over TLS with client certificates and secrets: deno task deploy runs every agency job to its exact winners, one draw, an exact store, no secret in docker inspect or logs",
  async () => {
    await withSwarm(async () => {
      await withStack({
        label: "tls",
        agencies: [1, 2, 3, 4, 5].map((winners) => ({ bets: 320, winners })),
        agencyMode: "job",
        credentials: { secrets: true, tls: true, clientCerts: true },
      }, async (stack) => {
        const output = await deployStack(stack.file, "--timeout", `${_JOBS_MS / 1000}s`);
        for (const [index, bets] of stack.bets.entries()) {
          const agency = index + 1;
          assert.ok(
            output.includes(`agency ${agency}: ${winnersOf(bets)} winners`),
            `deploy printed agency ${agency}'s winners:\n${output.slice(-8).join("\n")}`,
          );
          assert.equal(await agencyWinners(stack, agency), String(winnersOf(bets)));
        }
        assert.ok(output.includes("server: 1 draw (action: sorteo)"));
        const server = await serviceLogs(`${stack.name}_server`);
        assert.equal(linesOf(server, "sorteo").length, 1, "one draw");
        assert.match(
          linesOf(server, "listen")[0] ?? "",
          /tls_port: 12346 \| client_certificates: required/,
        );
        assert.equal(linesOf(server, "hello").length, 5, "every agency said hello once");
        await assertStoreExact(stack);

        const inspected = await inspectStack(stack.name);
        assert.match(inspected, /"encrypted": ""/, "the overlay network is encrypted");
        assert.match(inspected, /"Attachable": false/);
        const logs = [server];
        for (let agency = 1; agency <= 5; agency += 1) {
          logs.push(await serviceLogs(`${stack.name}_client${agency}`));
        }
        const secrets: string[] = [];
        for (let agency = 1; agency <= 5; agency += 1) {
          secrets.push(
            (await Deno.readTextFile(`${stack.credentials}/${agencySecretFile(agency)}`)).trim(),
          );
          secrets.push(
            (await Deno.readTextFile(`${stack.credentials}/${agencyKeyFile(agency)}`)).split(
              "\n",
            )[1]!,
          );
        }
        secrets.push(
          (await Deno.readTextFile(`${stack.credentials}/${CREDENTIAL_FILES.serverKey}`)).split(
            "\n",
          )[1]!,
        );
        const seen = `${inspected}\n${logs.flat().join("\n")}`;
        for (const secret of secrets) {
          assert.ok(secret.length >= 40, "a real secret or key line");
          assert.ok(!seen.includes(secret), "a secret or key shows in docker inspect or the logs");
        }
        assert.match(inspected, /CLI_SECRET_FILE=\/run\/secrets\/agency_secret/);
        assert.doesNotMatch(inspected, /CLI_SECRET=/);
      });
    });
  },
);

containerTest(
  "swarm stack with restart-on-failure agencies: the server's task SIGKILLed mid-upload is restarted by swarm on its volume, the agencies resume, the store ends exact",
  async () => {
    await withSwarm(async () => {
      await withStack({
        label: "kill",
        agencies: [3, 2, 1].map((winners) => ({ bets: 30_000, winners })),
        agencyMode: "restart",
        // Small batches, a small window: the upload lasts long enough to be cut.
        clientConfig: (config) => {
          config["batch"] = { maxAmount: 10, window: 2 };
        },
      }, async (stack) => {
        await deployStack(stack.file, "--detach");
        const deadline = Date.now() + _JOBS_MS;
        let server: string[] = [];
        while (linesOf(server, "apuesta_recibida").length < 50) {
          assert.ok(Date.now() < deadline, "the server stored 50 batches in time");
          await new Promise((resolve) => setTimeout(resolve, 200));
          server = await serviceLogs(`${stack.name}_server`).catch(() => []);
        }
        const container = await serverContainer(stack.name);
        const killed = await runCommand(["docker", "kill", "--signal", "KILL", container], {
          timeoutMs: 30_000,
        });
        assert.equal(killed.code, 0, killed.stderr);
        const beforeKill = await serviceLogs(`${stack.name}_server`);
        assert.ok(
          linesOf(beforeKill, "agencia_finalizada").length < 3,
          "killed before every agency finished",
        );

        const progress = await waitForAgencies(stack.name, 3, _JOBS_MS);
        assert.deepEqual(progress.waiting, [], "every agency completed");
        const tasks = (await stackTasks(stack.name)).filter((row) =>
          row.service === `${stack.name}_server`
        );
        assert.ok(tasks.length >= 2, `swarm started a new server task: ${JSON.stringify(tasks)}`);
        assert.ok(
          tasks.some((row) => /exit \(137\)/.test(row.error)),
          "the old task died of SIGKILL",
        );
        const after = await serviceLogs(`${stack.name}_server`);
        assert.equal(linesOf(after, "sorteo").length, 1, "one draw across both server tasks");
        const restores = linesOf(after, "restore").filter((line) => fieldOf(line, "bets") !== "0");
        assert.ok(restores.length >= 1, "the new task restored the bets of the killed one");
        for (const [index, bets] of stack.bets.entries()) {
          assert.equal(await agencyWinners(stack, index + 1), String(winnersOf(bets)));
        }
        const resumed = [1, 2, 3].map(async (agency) =>
          linesOf(
            await serviceLogs(`${stack.name}_client${agency}`),
            "connection_lost",
            "in_progress",
          )
            .length
        );
        assert.ok((await Promise.all(resumed)).some((count) => count > 0), "an agency resumed");
        await assertStoreExact(stack);
      });
    });
  },
);
