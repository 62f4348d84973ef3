/**
 * /metrics scraped by a real Prometheus (Debian's prometheus 2.42) during a
 * real local run, with the admin token as its bearer credentials: its HTTP
 * API then holds the bets stored equal to the data's count, the draw and the
 * winners answers; `promtool check metrics` accepts the exposition.
 */

import assert from "node:assert/strict";
import { linesOf, runLocalClient } from "../lib/dev/local_cluster.ts";
import { readLines } from "../lib/bet/csv.ts";
import { eventually, missingProgram, startWatchedRun } from "./helpers/admin_run.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { freePort } from "./helpers/free_port.ts";

const WINNERS = [2, 0, 4];
const BETS = 700;
/** Bound on Prometheus starting and on a scrape showing the run's end. */
const PROMETHEUS_WAIT_MS = 60_000;

const missing = (await missingProgram("prometheus")) ?? (await missingProgram("promtool"));
if (missing !== undefined) {
  console.log(`Skipping the Prometheus tests: ${missing} (.ci/run installs prometheus)`);
}

/** Starts Prometheus and resolves once it says it serves its API. */
async function startPrometheus(dir: string, config: string) {
  const port = freePort();
  const process = new Deno.Command("prometheus", {
    args: [
      `--config.file=${config}`,
      `--storage.tsdb.path=${dir}/tsdb`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=info",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log: string[] = [];
  const ready = Promise.withResolvers<void>();
  const reading = (async () => {
    for await (const { text } of readLines(process.stderr, 64 * 1024)) {
      log.push(text);
      if (text.includes("Server is ready to receive web requests.")) ready.resolve();
    }
    ready.reject(new Error(`prometheus exited before it was ready:\n${log.join("\n")}`));
  })();
  const timer = setTimeout(
    () => ready.reject(new Error(`prometheus not ready within ${PROMETHEUS_WAIT_MS} ms`)),
    PROMETHEUS_WAIT_MS,
  );
  const stop = async () => {
    try {
      process.kill("SIGTERM");
    } catch {
      // already exited
    }
    await process.status;
    await reading;
  };
  try {
    await ready.promise;
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return { api: `http://127.0.0.1:${port}/api/v1`, stop };
}

/** One instant query's single value, or undefined when it has no (or several) samples. */
async function queryValue(api: string, query: string): Promise<number | undefined> {
  const response = await fetch(`${api}/query?query=${encodeURIComponent(query)}`);
  const body = await response.json() as {
    status: string;
    data: { result: { value: [number, string] }[] };
  };
  if (body.status !== "success" || body.data.result.length !== 1) return undefined;
  return Number(body.data.result[0]!.value[1]);
}

Deno.test({
  name:
    "Prometheus scrapes the admin port with the token: bets stored equal the data's count, draw and answers; promtool accepts the exposition",
  ignore: missing !== undefined,
  fn: async () => {
    await withTempDir(async (dir) => {
      const { token, files, total, server } = await startWatchedRun(dir, BETS, WINNERS);
      const config = `${dir}/prometheus.yml`;
      await Deno.writeTextFile(
        config,
        [
          "global:",
          "  scrape_interval: 1s",
          "  scrape_timeout: 1s",
          "scrape_configs:",
          "  - job_name: tp0",
          "    authorization:",
          "      type: Bearer",
          `      credentials: ${token}`,
          "    static_configs:",
          `      - targets: ["127.0.0.1:${server.adminPort}"]`,
          "",
        ].join("\n"),
      );
      const prometheus = await startPrometheus(dir, config);
      try {
        // The target is up (it scraped with the token) before any agency starts.
        await eventually(
          'up{job="tp0"} == 1',
          async () => await queryValue(prometheus.api, 'up{job="tp0"}') === 1 || undefined,
          PROMETHEUS_WAIT_MS,
        );
        const runs = await Promise.all(files.map((file, index) =>
          runLocalClient({
            CLI_ID: String(index + 1),
            CLI_SERVER_ADDRESS: `127.0.0.1:${server.port}`,
            CLI_DATA_FILE: file,
          })
        ));
        assert.deepEqual(runs.map((run) => run.code), WINNERS.map(() => 0));
        assert.equal(linesOf(server.lines, "sorteo").length, 1);

        // A scrape after the run: every later sample has the final values.
        const winnersAnswers = await eventually(
          "tp0_winners_answers_total == 3",
          async () => {
            const value = await queryValue(prometheus.api, "tp0_winners_answers_total");
            return value === WINNERS.length ? value : undefined;
          },
          PROMETHEUS_WAIT_MS,
        );
        assert.equal(winnersAnswers, WINNERS.length);
        assert.equal(await queryValue(prometheus.api, "tp0_bets_stored"), total);
        assert.equal(await queryValue(prometheus.api, "sum(tp0_agency_bets_stored)"), total);
        for (const [index] of WINNERS.entries()) {
          assert.equal(
            await queryValue(prometheus.api, `tp0_agency_bets_stored{agency="${index + 1}"}`),
            BETS,
          );
        }
        assert.equal(await queryValue(prometheus.api, 'tp0_draw_state{state="drawn"}'), 1);
        assert.equal(await queryValue(prometheus.api, "tp0_agencies_finished"), WINNERS.length);
        assert.equal(
          await queryValue(prometheus.api, "sum(tp0_batches_refused_total) or vector(0)"),
          0,
        );
        const batches = await queryValue(prometheus.api, "tp0_batches_stored_total");
        assert.ok(batches !== undefined && batches >= total / 100, `${batches} batches`);
        const syncs = await queryValue(
          prometheus.api,
          'tp0_store_fsync_duration_seconds_count{file="journal"}',
        );
        assert.equal(syncs, await queryValue(prometheus.api, "tp0_store_group_commits_total"));

        const exposition = await fetch(`http://127.0.0.1:${server.adminPort}/metrics`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const lint = new Deno.Command("promtool", {
          args: ["check", "metrics"],
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        await exposition.body!.pipeTo(lint.stdin);
        const checked = await lint.output();
        const said = new TextDecoder().decode(checked.stdout) +
          new TextDecoder().decode(checked.stderr);
        assert.equal(checked.code, 0, said);
        assert.equal(said.trim(), "", "promtool has nothing to say");
      } finally {
        await prometheus.stop();
        assert.equal(await server.stop(), 0);
      }
    });
  },
});
