/**
 * Containers, lottery side: agencies with generated files of known winners
 * upload to the server image over the compose network; the draw happens once,
 * after the last batch, and every agency learns its exact winner count.
 */

import assert from "node:assert/strict";
import { fieldOf, linesOf } from "../../lib/dev/local_cluster.ts";
import { type AgencySpec, containerTest, type ProjectSpec, withProject } from "./_harness.ts";

/** Bets per agency: three batches of 100 and a partial one. */
const BETS_PER_AGENCY = 320;

async function runLottery(
  label: string,
  winners: readonly number[],
  credentials?: ProjectSpec["credentials"],
): Promise<void> {
  const agencies: AgencySpec[] = winners.map((count) => ({
    bets: BETS_PER_AGENCY,
    winners: count,
  }));
  const spec: ProjectSpec = { label, mode: "lottery", agencies };
  if (credentials !== undefined) spec.credentials = credentials;
  await withProject(spec, async (project) => {
    await project.composeOk("up", "--detach", "--no-build");
    const exitCodes = await Promise.all(
      winners.map((_, index) => project.exitCode(`client${index + 1}`)),
    );
    assert.deepEqual(exitCodes, winners.map(() => 0), "client exit codes");
    for (const [index, expected] of winners.entries()) {
      const lines = await project.logs(`client${index + 1}`);
      const answers = linesOf(lines, "consulta_ganadores");
      assert.equal(answers.length, 1, `client${index + 1} consulta_ganadores lines`);
      assert.equal(fieldOf(answers[0]!, "cant_ganadores"), String(expected));
    }
    const server = await project.logs("server");
    const received = linesOf(server, "apuesta_recibida");
    const total = received.reduce((sum, line) => sum + Number(fieldOf(line, "cantidad")), 0);
    assert.equal(total, BETS_PER_AGENCY * winners.length, "bets received");
    const draws = server.flatMap((line, index) =>
      line.includes(" action: sorteo | result: success") ? [index] : []
    );
    assert.equal(draws.length, 1, "sorteo lines");
    assert.ok(
      draws[0]! > server.lastIndexOf(received.at(-1)!),
      "sorteo after the last apuesta_recibida",
    );
    if (credentials === undefined) return;
    assert.match(
      linesOf(server, "listen")[0] ?? "",
      /tls_port: 12346 \| client_certificates: required/,
    );
    const containers = ["server", ...winners.map((_, index) => `client${index + 1}`)];
    const inspected = (await Promise.all(containers.map((name) =>
      project.inspect(name, "{{json .}}")
    )))
      .join("\n");
    assert.match(inspected, /CLI_SECRET_FILE=\/run\/secrets\/agency_secret/);
    for (let agency = 1; agency <= winners.length; agency += 1) {
      const secret = (await Deno.readTextFile(`${project.dir}/credentials/agency-${agency}.secret`))
        .trim();
      assert.ok(!inspected.includes(secret), `agency ${agency}'s secret shows in docker inspect`);
    }
  });
}

containerTest(
  "lottery with 3 agencies of 2, 1 and 0 winners: one draw after every bet, exact winners per agency",
  async () => {
    await runLottery("lottery3", [2, 1, 0]);
  },
);

containerTest(
  "lottery with 5 agencies of 1 to 5 winners: one draw after every bet, exact winners per agency",
  async () => {
    await runLottery("lottery5", [1, 2, 3, 4, 5]);
  },
);

containerTest(
  "lottery over TLS with client certificates and compose secrets: SECRETS_FILE and CLI_SECRET_FILE from /run/secrets, exact winners, no secret in docker inspect",
  async () => {
    await runLottery("lotterytls", [2, 1], { secrets: true, tls: true, clientCerts: true });
  },
);
