/**
 * The course's contract end to end: the config files written byte for byte
 * as the course's checks write them (`SERVER_IP = server`, no final newline),
 * the compose file from `deno task compose N`, the containers named exactly
 * `server` and `client1`..`clientN`, and every case the checks run (echo,
 * config edits, the echo validator, SIGTERM, one bet, batches, the draw),
 * read back as the checks read them: `compose logs -f`, line by line.
 */

import assert from "node:assert/strict";
import { findComposeCommand } from "../../lib/containers/docker.ts";
import { runCommand } from "../../lib/runtime/run_command.ts";
import { WINNER_NUMBER } from "../../lib/bet/bet.ts";
import {
  CONTAINER_STEP_TIMEOUT_MS,
  containerTest,
  ensureTestImages,
  REPO_DIR,
} from "./_harness.ts";

/** The names the course's compose file and checks use; nothing may prefix them. */
const NETWORK = "tp0_testing_net";
const STORAGE_VOLUME = "tp0_storage";
const COMPOSE_FILE = "docker-compose-dev.yaml";

/** Bound on one case's wait for the lines it expects. */
const CASE_TIMEOUT_MS = 120_000;

/** `server/config.ini` as the checks write it: no final newline. */
function courseServerIni(backlog: number, level: "INFO" | "DEBUG"): string {
  return [
    "[DEFAULT]",
    "SERVER_PORT = 12345",
    "SERVER_IP = server",
    `SERVER_LISTEN_BACKLOG = ${backlog}`,
    `LOGGING_LEVEL = ${level}`,
  ].join("\n");
}

interface CourseClientConfig {
  amount: number;
  period: string;
  level: "INFO" | "DEBUG";
  maxAmount: number;
}

/** `client/config.yaml` as the skeleton ships it, with the checks' values. */
function courseClientYaml(config: CourseClientConfig): string {
  return `server:
  address: "server:12345"
loop:
  amount: ${config.amount}
  period: "${config.period}"
log:
  level: "${config.level}"
batch:
  maxAmount: ${config.maxAmount}
`;
}

/** How an agency file is written: the checks' LF rows, or the course's
 * real dataset's CRLF rows with accented names. */
type RowStyle = "checks" | "dataset";

/** One agency's file: no header, 8-digit documents, every fifth number the
 * winning one. */
function courseAgencyRows(
  agency: number,
  rows: number,
  style: RowStyle,
): { text: string; winners: number } {
  const [name, end] = style === "checks" ? ["Nombre", "\n"] : ["María José Núñez", "\r\n"];
  let text = "";
  let winners = 0;
  for (let row = 0; row < rows; row += 1) {
    const document = String(agency * 1_000 + row).padStart(8, "0");
    const number = row % 5 === 0 ? WINNER_NUMBER : 1_000 + row;
    if (number === WINNER_NUMBER) winners += 1;
    const day = String(1 + (row % 28)).padStart(2, "0");
    text += `${name}${row},Apellido${agency},${document},2000-01-${day},${number}${end}`;
  }
  return { text, winners };
}

/** One line of `logs -f` as the checks parse it. */
interface CourseLine {
  container: string;
  action: string;
  result: "success" | "in_progress" | "fail";
  /** Each field's value: what follows the last `:` of the field, trimmed. */
  fields: Map<string, string>;
  text: string;
}

const _LINE = /^(\S+)\s*\| (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) (\w+)\s+action: (.*)$/;

/**
 * Parses a `logs -f` line the way the checks do.
 * @returns undefined for compose's own lines (`Attaching to …`)
 * @throws {Error} on a container line that is not a log line or has another result
 */
function parseCourseLine(text: string): CourseLine | undefined {
  if (!text.includes("|")) return undefined;
  const match = _LINE.exec(text);
  if (match === null) throw new Error(`not a log line the checks can parse: ${text}`);
  const [action, result, ...rest] = match[5]!.split(" | ");
  const resultValue = result?.slice(result.lastIndexOf(":") + 1).trim();
  if (resultValue !== "success" && resultValue !== "in_progress" && resultValue !== "fail") {
    throw new Error(`result outside success|in_progress|fail: ${text}`);
  }
  const fields = new Map<string, string>();
  for (const field of rest) {
    const colon = field.indexOf(":");
    fields.set(field.slice(0, colon).trim(), field.slice(field.lastIndexOf(":") + 1).trim());
  }
  return { container: match[1]!, action: action!.trim(), result: resultValue, fields, text };
}

/** What `logs -f` printed so far, in its order. */
class FollowedLogs {
  readonly lines: CourseLine[] = [];
  readonly exits = new Map<string, number>();

  of(container: string, action?: string): CourseLine[] {
    return this.lines.filter((line) =>
      line.container === container && (action === undefined || line.action === action)
    );
  }

  add(text: string): void {
    const exited = /^(\S+) exited with code (\d+)$/.exec(text.trim());
    if (exited !== null) {
      this.exits.set(exited[1]!, Number(exited[2]));
      return;
    }
    const line = parseCourseLine(text);
    if (line !== undefined) this.lines.push(line);
  }
}

/** A checkout of the course's layout in a temporary folder, run as the checks run it. */
class CourseDeployment {
  readonly dir: string;
  readonly #compose: string[];

  constructor(dir: string, compose: string[]) {
    this.dir = dir;
    this.#compose = compose;
  }

  get file(): string {
    return `${this.dir}/${COMPOSE_FILE}`;
  }

  async writeConfig(serverIni: string, clientYaml: string): Promise<void> {
    // In place, as the checks edit it: the single-file bind mounts keep their inode.
    await Deno.writeTextFile(`${this.dir}/config/server.ini`, serverIni);
    await Deno.writeTextFile(`${this.dir}/config/client.yaml`, clientYaml);
  }

  /** Writes agency-1..N with the given row counts; returns each one's winners. */
  async writeAgencies(rows: readonly number[], style: RowStyle = "checks"): Promise<number[]> {
    const winners: number[] = [];
    for (const [index, count] of rows.entries()) {
      const agency = courseAgencyRows(index + 1, count, style);
      await Deno.writeTextFile(`${this.dir}/data/agency-${index + 1}.csv`, agency.text);
      winners.push(agency.winners);
    }
    return winners;
  }

  /** `deno task compose N` with the course's file name, as generar-compose.sh. */
  async generate(clients: number, ...flags: string[]): Promise<void> {
    const result = await runCommand([
      Deno.execPath(),
      "task",
      "--quiet",
      "compose",
      String(clients),
      "--output",
      this.file,
      "--config-dir",
      `${this.dir}/config`,
      "--data-dir",
      `${this.dir}/data`,
      ...flags,
    ], { cwd: REPO_DIR, timeoutMs: CONTAINER_STEP_TIMEOUT_MS });
    assert.equal(result.code, 0, `deno task compose ${clients}: ${result.stderr}`);
  }

  async compose(...args: string[]): Promise<void> {
    const result = await runCommand([...this.#compose, "-f", this.file, ...args], {
      timeoutMs: CONTAINER_STEP_TIMEOUT_MS,
    });
    assert.equal(result.code, 0, `compose ${args.join(" ")}: ${result.stderr}`);
  }

  /**
   * Follows `logs -f` line by line until `done` holds, as the checks do.
   * @throws {Error} with the last lines when it does not hold in time
   */
  async follow(done: (logs: FollowedLogs) => boolean): Promise<FollowedLogs> {
    const logs = new FollowedLogs();
    const child = new Deno.Command(this.#compose[0]!, {
      args: [...this.#compose.slice(1), "-f", this.file, "logs", "-f", "--no-color"],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const timer = setTimeout(() => child.kill(), CASE_TIMEOUT_MS);
    let pending = "";
    try {
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop()!;
        for (const line of lines) logs.add(line);
        if (done(logs)) return logs;
      }
      throw new Error(
        `logs -f ended before the case's lines came; last lines:\n${
          logs.lines.slice(-15).map((line) => line.text).join("\n")
        }`,
      );
    } finally {
      clearTimeout(timer);
      try {
        child.kill();
      } catch { /* ended already */ }
      await child.status;
    }
  }

  async inspect(container: string, format: string): Promise<string> {
    const result = await runCommand(["docker", "inspect", "--format", format, container], {
      timeoutMs: CONTAINER_STEP_TIMEOUT_MS,
    });
    return result.stdout.trim();
  }
}

/** Every client's exit line came, and every client exited 0. */
function clientsExited(logs: FollowedLogs, clients: number): boolean {
  for (let k = 1; k <= clients; k += 1) {
    if (!logs.exits.has(`client${k}`)) return false;
  }
  return true;
}

function assertCommonRules(logs: FollowedLogs, clients: number): void {
  const failed = logs.lines.filter((line) => line.result === "fail");
  assert.deepEqual(failed.map((line) => line.text), [], "no line has result: fail");
  for (let k = 1; k <= clients; k += 1) {
    assert.equal(logs.exits.get(`client${k}`), 0, `client${k} exit code`);
  }
  assert.equal(
    logs.exits.has("server"),
    false,
    "the server does not exit while clients come and go",
  );
}

/** The first `config` line's fields of a container. */
function firstConfig(logs: FollowedLogs, container: string): Map<string, string> {
  const line = logs.of(container, "config")[0];
  assert.ok(line !== undefined, `${container} logged no config line`);
  return line.fields;
}

async function _exists(kind: "container" | "network" | "volume", name: string): Promise<boolean> {
  const result = await runCommand(["docker", kind, "inspect", name], {
    timeoutMs: CONTAINER_STEP_TIMEOUT_MS,
  });
  return result.code === 0;
}

/**
 * Runs one case as a test step and brings its containers down afterwards
 * (`down` without `-v`, as the checks do: the storage volume survives).
 */
function courseCase(
  t: Deno.TestContext,
  deployment: CourseDeployment,
  name: string,
  body: () => Promise<void>,
): Promise<boolean> {
  return t.step(name, async () => {
    try {
      await body();
    } finally {
      await deployment.compose("down");
    }
  });
}

containerTest(
  "course contract: the checks' config files, compose runs and log reads pass end to end",
  async (t) => {
    for (const name of ["server", "client1", NETWORK]) {
      const kind = name === NETWORK ? "network" : "container";
      if (await _exists(kind, name)) {
        throw new Error(
          `a deployment with the course's names is up (${kind} ${name}): stop it first (deno task down)`,
        );
      }
    }
    const volumeWasThere = await _exists("volume", STORAGE_VOLUME);
    await ensureTestImages();
    const dir = await Deno.makeTempDir({ prefix: "tp0_course_" });
    await Deno.mkdir(`${dir}/config`);
    await Deno.mkdir(`${dir}/data`);
    const deployment = new CourseDeployment(dir, (await findComposeCommand())!);
    const echoClient = { amount: 3, period: "50ms", level: "INFO", maxAmount: 10 } as const;

    try {
      await courseCase(
        t,
        deployment,
        "echo: 3 clients, every message echoed and logged by both sides",
        async () => {
          await deployment.writeConfig(courseServerIni(5, "INFO"), courseClientYaml(echoClient));
          await deployment.writeAgencies([1, 1, 1]);
          await deployment.generate(3, "--mode", "echo");
          await deployment.compose("up", "-d");
          const logs = await deployment.follow((logs) =>
            clientsExited(logs, 3) &&
            logs.of("server", "receive_message").length >= 3 * echoClient.amount
          );
          assertCommonRules(logs, 3);
          const serverMessages = logs.of("server", "receive_message").map((line) =>
            line.fields.get("msg")
          );
          for (let k = 1; k <= 3; k += 1) {
            const expected = Array.from(
              { length: echoClient.amount },
              (_, i) => `[CLIENT ${k}] Message N°${i + 1}`,
            );
            const clientMessages = logs.of(`client${k}`, "receive_message").map((line) =>
              line.fields.get("msg")
            );
            assert.deepEqual(clientMessages, expected, `client${k}'s messages`);
            for (const message of expected) {
              assert.ok(serverMessages.includes(message), `server logged ${message}`);
            }
            // The checks take <k> after the ° sign, 1-based.
            assert.deepEqual(clientMessages.map((m) => Number(m!.split("°")[1])), [1, 2, 3]);
            assert.equal(logs.of(`client${k}`, "loop_finished").length, 1);
          }
          assert.equal(await deployment.inspect("server", "{{.State.Running}}"), "true");
        },
      );

      await courseCase(
        t,
        deployment,
        "config: the first config line shows the file's values, edits need no build",
        async () => {
          const first = { amount: 2, period: "250ms", level: "DEBUG", maxAmount: 64 } as const;
          await deployment.writeConfig(courseServerIni(8, "DEBUG"), courseClientYaml(first));
          await deployment.writeAgencies([1]);
          await deployment.generate(1, "--mode", "echo");
          await deployment.compose("up", "-d");
          let logs = await deployment.follow((logs) =>
            clientsExited(logs, 1) && logs.of("server", "config").length > 0
          );
          assertCommonRules(logs, 1);
          const image = await deployment.inspect("server", "{{.Image}}");
          assert.equal(firstConfig(logs, "server").get("listen_backlog"), "8");
          assert.equal(firstConfig(logs, "server").get("logging_level"), "DEBUG");
          assert.equal(firstConfig(logs, "client1").get("loop_amount"), "2");
          assert.equal(firstConfig(logs, "client1").get("loop_period"), "250ms");
          assert.equal(firstConfig(logs, "client1").get("log_level"), "DEBUG");
          await deployment.compose("down");

          const second = { amount: 1, period: "50ms", level: "INFO", maxAmount: 99 } as const;
          await deployment.writeConfig(courseServerIni(16, "INFO"), courseClientYaml(second));
          await deployment.compose("up", "-d");
          logs = await deployment.follow((logs) =>
            clientsExited(logs, 1) && logs.of("server", "config").length > 0
          );
          assertCommonRules(logs, 1);
          assert.equal(await deployment.inspect("server", "{{.Image}}"), image, "no new image");
          assert.equal(firstConfig(logs, "server").get("listen_backlog"), "16");
          assert.equal(firstConfig(logs, "server").get("logging_level"), "INFO");
          assert.equal(firstConfig(logs, "client1").get("loop_amount"), "1");
          assert.equal(firstConfig(logs, "client1").get("loop_period"), "50ms");
          assert.equal(firstConfig(logs, "client1").get("log_level"), "INFO");
        },
      );

      await courseCase(
        t,
        deployment,
        "echo validator: success against the server, fail once it is stopped",
        async () => {
          await deployment.writeConfig(courseServerIni(5, "INFO"), courseClientYaml(echoClient));
          await deployment.generate(0);
          await deployment.compose("up", "-d");
          await deployment.follow((logs) => logs.of("server", "listen").length > 0);
          const validate = () =>
            runCommand([Deno.execPath(), "task", "--quiet", "validate"], {
              cwd: REPO_DIR,
              timeoutMs: CONTAINER_STEP_TIMEOUT_MS,
            });
          const passed = await validate();
          assert.equal(passed.stdout.trim(), "action: test_echo_server | result: success");
          const logs = await deployment.follow((logs) =>
            logs.of("server", "receive_message").length > 0
          );
          assert.equal(logs.of("server", "receive_message")[0]!.result, "success");
          await deployment.compose("stop", "-t", "10");
          const failed = await validate();
          assert.equal(failed.stdout.trim(), "action: test_echo_server | result: fail");
        },
      );

      await courseCase(
        t,
        deployment,
        "SIGTERM: stop -t 10 and -t 20 end every container with code 0 and closing lines",
        async () => {
          const long = { amount: 500, period: "250ms", level: "INFO", maxAmount: 10 } as const;
          await deployment.writeConfig(courseServerIni(5, "INFO"), courseClientYaml(long));
          await deployment.writeAgencies([1, 1]);
          await deployment.generate(2, "--mode", "echo");
          await deployment.compose("up", "-d");
          await deployment.follow((logs) =>
            logs.of("client1", "receive_message").length > 0 &&
            logs.of("client2", "receive_message").length > 0
          );
          const stopped = await runCommand(["docker", "stop", "client1", "-t", "10"], {
            timeoutMs: CONTAINER_STEP_TIMEOUT_MS,
          });
          assert.equal(stopped.code, 0, stopped.stderr);
          assert.equal(await deployment.inspect("client1", "{{.State.ExitCode}}"), "0");
          await deployment.compose("stop", "-t", "20");
          const logs = await deployment.follow((logs) =>
            clientsExited(logs, 2) && logs.exits.has("server")
          );
          assert.deepEqual(
            logs.lines.filter((line) => line.result === "fail").map((line) => line.text),
            [],
          );
          for (const container of ["server", "client1", "client2"]) {
            assert.equal(logs.exits.get(container), 0, `${container} exit code`);
            assert.equal(logs.of(container, "signal").length, 1, `${container} logs the signal`);
            assert.equal(
              logs.of(container, "shutdown").length,
              1,
              `${container} logs its shutdown`,
            );
          }
          assert.equal(logs.of("server", "close_listener").length, 1, "server closes its listener");
          assert.equal(logs.of("server", "close_store").length, 1, "server closes its store");
        },
      );

      await courseCase(
        t,
        deployment,
        "one bet: 5 clients, each bet sent and stored with the same document",
        async () => {
          await deployment.writeConfig(courseServerIni(5, "DEBUG"), courseClientYaml(echoClient));
          await deployment.writeAgencies([1, 1, 1, 1, 1]);
          await deployment.generate(5, "--mode", "bet");
          await deployment.compose("up", "-d");
          const logs = await deployment.follow((logs) =>
            clientsExited(logs, 5) && logs.of("server", "apuesta_almacenada").length >= 5
          );
          assertCommonRules(logs, 5);
          const stored = logs.of("server", "apuesta_almacenada").map((line) =>
            `${line.fields.get("dni")}/${line.fields.get("numero")}`
          );
          for (let k = 1; k <= 5; k += 1) {
            const sent = logs.of(`client${k}`, "apuesta_enviada");
            assert.equal(sent.length, 1, `client${k} sends one bet`);
            const bet = `${sent[0]!.fields.get("dni")}/${sent[0]!.fields.get("numero")}`;
            assert.equal(bet, `${String(k * 1_000).padStart(8, "0")}/${WINNER_NUMBER}`);
            assert.ok(stored.includes(bet), `server stored ${bet}`);
          }
        },
      );

      await courseCase(
        t,
        deployment,
        "batches: 10 clients, batches of maxAmount but the last add up to the files",
        async () => {
          const batched = { ...echoClient, maxAmount: 64 } as const;
          await deployment.writeConfig(courseServerIni(16, "INFO"), courseClientYaml(batched));
          const rows = [16, 99, 64, 65, 30, 17, 80, 99, 50, 20];
          await deployment.writeAgencies(rows);
          await deployment.generate(10);
          await deployment.compose("up", "-d");
          const logs = await deployment.follow((logs) =>
            clientsExited(logs, 10) &&
            logs.of("server", "apuesta_recibida").reduce(
                (sum, line) => sum + Number(line.fields.get("cantidad")),
                0,
              ) >= rows.reduce((a, b) => a + b)
          );
          assertCommonRules(logs, 10);
          const counts = logs.of("server", "apuesta_recibida").map((line) =>
            Number(line.fields.get("cantidad"))
          ).sort((a, b) => a - b);
          const expected = rows.flatMap((count) => [
            ...Array.from({ length: Math.floor(count / 64) }, () => 64),
            ...(count % 64 === 0 ? [] : [count % 64]),
          ]).sort((a, b) => a - b);
          assert.deepEqual(counts, expected);
        },
      );

      await courseCase(
        t,
        deployment,
        "draw: on the dataset's CRLF rows, every bet before sorteo, sorteo before each agency's winners",
        async () => {
          await deployment.writeConfig(courseServerIni(5, "INFO"), courseClientYaml(echoClient));
          const rows = [45, 99, 16, 60, 33];
          const winners = await deployment.writeAgencies(rows, "dataset");
          await deployment.generate(5);
          await deployment.compose("up", "-d");
          const logs = await deployment.follow((logs) =>
            clientsExited(logs, 5) && logs.of("server", "ganadores_enviados").length >= 5
          );
          assertCommonRules(logs, 5);
          const server = logs.of("server");
          const draw = server.findIndex((line) => line.action === "sorteo");
          assert.ok(draw >= 0, "the server logs sorteo");
          const lastBatch = server.findLastIndex((line) => line.action === "apuesta_recibida");
          assert.ok(lastBatch < draw, "every apuesta_recibida comes before sorteo");
          const finished = server.filter((line, index) =>
            line.action === "agencia_finalizada" && index < draw
          );
          assert.equal(finished.length, 5, "sorteo comes when every agency has finished");
          const received = server.filter((line) => line.action === "apuesta_recibida")
            .reduce((sum, line) => sum + Number(line.fields.get("cantidad")), 0);
          assert.equal(received, rows.reduce((a, b) => a + b));
          // Across containers no reader can order lines exactly: Docker stamps
          // each container's lines as its own copier reads them, and under load
          // (the parallel suite) a client's line was stamped 7 ms before the
          // server's earlier sorteo. What the server owns is its own order,
          // here, and a line being written before the reply that follows from
          // it leaves (tests/log_before_reply_test.ts).
          for (let k = 1; k <= 5; k += 1) {
            const sent = server.findIndex((line) =>
              line.action === "ganadores_enviados" && line.fields.get("agency") === String(k)
            );
            assert.ok(sent > draw, `sorteo comes before the winners sent to agency ${k}`);
            assert.equal(server[sent]!.fields.get("cant_ganadores"), String(winners[k - 1]));
            const answer = logs.of(`client${k}`, "consulta_ganadores");
            assert.equal(answer.length, 1, `client${k} logs its winners once`);
            assert.equal(answer[0]!.fields.get("cant_ganadores"), String(winners[k - 1]));
          }
        },
      );
    } finally {
      const compose = (await findComposeCommand())!;
      await runCommand([...compose, "-f", deployment.file, "down"], {
        timeoutMs: CONTAINER_STEP_TIMEOUT_MS,
      });
      if (!volumeWasThere) {
        await runCommand(["docker", "volume", "rm", STORAGE_VOLUME], {
          timeoutMs: CONTAINER_STEP_TIMEOUT_MS,
        });
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
);
