/**
 * The admin port in-process over real sockets: the token guards every path,
 * readiness follows the central's phase, the status streams are bounded, the
 * page's CSP allows exactly its inline code, and /metrics counts what a real
 * central did with real agency connections.
 */

import assert from "node:assert/strict";
import { AdminServer, type AdminServerOptions } from "../lib/admin/admin_server.ts";
import { AdminState, type CentralReader, readerOf } from "../lib/admin/central_status.ts";
import { EXPOSITION_CONTENT_TYPE } from "../lib/admin/prometheus_text.ts";
import { MessageType } from "../lib/protocol/protocol.ts";
import { encodeMessage, type WireBet } from "../lib/protocol/message_codec.ts";
import { ServerMetrics } from "../lib/server/server_metrics.ts";
import { makeBets } from "./helpers/bets.ts";
import { RawPeer } from "./helpers/raw_agency.ts";
import { startTestServer } from "./helpers/test_server.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const _READER: CentralReader = {
  agencies: 3,
  betCount: (agency) => agency * 10,
  finishedAgencies: () => new Map(),
  connectionsOpen: () => 0,
  queuedBytes: () => 0,
  syncStats: () => ({ syncs: 0, batches: 0 }),
  drawId: "test-draw",
  storage: "storage/draws/test-draw/bets.csv",
  storeHealth: () => Promise.resolve(),
};

/** Runs `body` against an admin port on a free port; closes it after. */
async function withAdmin(
  options: Partial<AdminServerOptions>,
  body: (base: string, state: AdminState) => Promise<void>,
  state = new AdminState(new ServerMetrics(), Date.now()),
): Promise<void> {
  const admin = new AdminServer({ hostname: "127.0.0.1", port: 0, token: "", ...options }, state);
  try {
    await body(`http://127.0.0.1:${admin.addr.port}`, state);
  } finally {
    await admin.close();
  }
}

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const _PATHS = ["/", "/events", "/api/status", "/metrics", "/healthz", "/readyz", "/nope"];

Deno.test("AdminServer with a token: every path without it, or with a wrong one, is 401 with no data", async (t) => {
  await withAdmin({ token: "s3cret" }, async (base, state) => {
    state.attach(_READER);
    state.lotteryListening(1);
    for (const path of _PATHS) {
      await t.step(path, async () => {
        for (
          const headers of [{}, { authorization: "Bearer wrong" }, { authorization: "s3cret" }]
        ) {
          const answer = await get(`${base}${path}`, headers);
          assert.equal(answer.status, 401);
          assert.equal(answer.headers.get("www-authenticate"), 'Bearer realm="tp0-admin"');
          assert.doesNotMatch(answer.text, /tp0_|agency|bets|ready\n/);
        }
        assert.equal((await get(`${base}${path}?token=wrong`)).status, 401);
      });
    }
  });
});

Deno.test("AdminServer with a token serves it as a bearer token or a ?token= parameter", async () => {
  await withAdmin({ token: "s3cret" }, async (base, state) => {
    state.attach(_READER);
    state.lotteryListening(1);
    const bearer = await get(`${base}/api/status`, { authorization: "Bearer s3cret" });
    assert.equal(bearer.status, 200);
    assert.equal(JSON.parse(bearer.text).totals.bets, 60);
    const query = await get(`${base}/metrics?token=s3cret`);
    assert.equal(query.status, 200);
    assert.match(query.text, /^tp0_bets_stored 60$/m);
  });
});

Deno.test("AdminServer /readyz follows the phase; /healthz is 200 throughout", async () => {
  await withAdmin({}, async (base, state) => {
    const check = async (status: number, text: RegExp) => {
      const answer = await get(`${base}/readyz`);
      assert.equal(answer.status, status);
      assert.match(answer.text, text);
      assert.equal((await get(`${base}/healthz`)).status, 200);
    };
    await check(503, /restoring the store/);
    state.attach(_READER);
    await check(503, /lottery port is not listening/);
    state.lotteryListening(12345);
    await check(200, /^ready\n$/);
    state.shuttingDown();
    await check(503, /shutting down/);
  });
});

Deno.test("AdminServer /readyz is 503 naming why while the store does not answer", async () => {
  await withAdmin({}, async (base, state) => {
    let failure: Error | undefined = new Error("the database did not answer within 2000 ms");
    state.attach({
      ..._READER,
      storeHealth: () => failure === undefined ? Promise.resolve() : Promise.reject(failure),
    });
    state.lotteryListening(12345);
    const down = await get(`${base}/readyz`);
    assert.equal(down.status, 503);
    assert.equal(
      down.text,
      "not ready: the store does not answer: the database did not answer within 2000 ms\n",
    );
    failure = undefined;
    assert.equal((await get(`${base}/readyz`)).status, 200);
  });
});

Deno.test("AdminServer answers 405 to a write and 404 to an unknown path", async () => {
  await withAdmin({}, async (base) => {
    const post = await fetch(`${base}/metrics`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    await post.body?.cancel();
    assert.equal((await get(`${base}/admin`)).status, 404);
  });
});

Deno.test("AdminServer /events pushes status events and refuses the viewer beyond viewersMax", async () => {
  await withAdmin({ viewersMax: 1, pushIntervalMs: 20 }, async (base, state) => {
    state.attach(_READER);
    const controller = new AbortController();
    const stream = await fetch(`${base}/events?order=slowest`, { signal: controller.signal });
    assert.equal(stream.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const second = await get(`${base}/events`);
    assert.equal(second.status, 503);
    assert.match(second.text, /too many status viewers/);
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while ((text.match(/event: status\n/g) ?? []).length < 3) text += (await reader.read()).value;
    const first = JSON.parse(/data: (.*)\n/.exec(text)![1]!);
    assert.equal(first.rows.order, "slowest");
    assert.deepEqual(first.rows.items.map((row: { agency: number }) => row.agency), [1, 2, 3]);
    controller.abort();
    await reader.cancel().catch(() => {});
  });
});

Deno.test("AdminServer / serves the page with a CSP whose hashes are exactly its inline style and script", async () => {
  await withAdmin({}, async (base) => {
    const page = await get(`${base}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy")!;
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(page.text, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, "no outside asset");
    for (const [tag, directive] of [["style", "style-src"], ["script", "script-src"]]) {
      const body = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(page.text)![1]!;
      const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
      const hash = btoa(String.fromCharCode(...new Uint8Array(digest)));
      assert.ok(csp.includes(`${directive} 'sha256-${hash}'`), `${tag} allowed by its hash`);
    }
  });
});

function wire(agency: number, count: number, winnersAt: number[] = []): WireBet[] {
  return makeBets(agency, count, { winnersAt }).map(({ agency: _, ...bet }) => bet);
}

Deno.test("/metrics counts what a real central did: stored, duplicate and refused batches, bytes, winners", async () => {
  await withTempDir(async (dir) => {
    const metrics = new ServerMetrics();
    // Resolved when both sessions logged their winners answer (counted before).
    const answered = Promise.withResolvers<void>();
    let answers = 0;
    const central = await startTestServer({
      storageDir: dir,
      drawId: "test-draw",
      agencies: 2,
      metrics,
      onLine: (line) => {
        if (line.includes(" action: ganadores_enviados | result: success") && ++answers === 2) {
          answered.resolve();
        }
      },
      listenBacklog: 16,
      connectionsMax: 16,
      idleTimeoutMs: 5_000,
      shutdownGraceMs: 1_000,
    });
    const { port } = central;
    const state = new AdminState(metrics, Date.now());
    state.attach(readerOf(central));
    state.lotteryListening(port);
    try {
      await withAdmin({}, async (base) => {
        let bytesSent = 0;
        let framesSent = 0;
        const count = (message: Parameters<typeof encodeMessage>[0]) => {
          bytesSent += encodeMessage(message).length;
          framesSent += 1;
        };
        const send = async (peer: RawPeer, message: Parameters<typeof encodeMessage>[0]) => {
          count(message);
          await peer.send(message);
        };
        const [one] = await RawPeer.hello(port, 1);
        count({ type: MessageType.hello, agency: 1 });
        const batch = { type: MessageType.batch, first: 0, bets: wire(1, 5, [0, 3]) } as const;
        await send(one, batch);
        await one.receive();
        // Resent once stored: a duplicate.
        await send(one, batch);
        await one.receive();
        const bad = wire(1, 2);
        bad[1] = { ...bad[1]!, document: "x" };
        await send(one, { type: MessageType.batch, first: 5, bets: bad });
        await one.receive();
        await send(one, { type: MessageType.finished, total: 5 });
        await send(one, { type: MessageType.winnersQuery });
        const [two] = await RawPeer.hello(port, 2);
        count({ type: MessageType.hello, agency: 2 });
        await send(two, { type: MessageType.batch, first: 0, bets: wire(2, 3) });
        await two.receive();
        const during = await get(`${base}/metrics`);
        assert.match(during.text, /^tp0_agencies_connected 2$/m);
        await send(two, { type: MessageType.finished, total: 3 });
        await send(two, { type: MessageType.winnersQuery });
        const winners = [await one.receive(), await two.receive()];
        assert.deepEqual(winners.map((answer) => answer.type), [
          MessageType.winners,
          MessageType.winners,
        ]);
        // The sessions log their answers once the agencies leave.
        one.close();
        two.close();
        await answered.promise;

        const scrape = await get(`${base}/metrics`);
        assert.equal(scrape.headers.get("content-type"), EXPOSITION_CONTENT_TYPE);
        const value = (sample: string) => {
          const match = new RegExp(`^${sample.replace(/[{}"]/g, "\\$&")} (\\S+)$`, "m")
            .exec(scrape.text);
          assert.ok(match !== null, `${sample} is exposed`);
          return Number(match[1]);
        };
        assert.equal(value("tp0_bets_stored"), 8);
        assert.equal(value('tp0_agency_bets_stored{agency="1"}'), 5);
        assert.equal(value('tp0_agency_bets_stored{agency="2"}'), 3);
        assert.equal(value("tp0_batches_stored_total"), 2);
        assert.equal(value("tp0_batches_duplicate_total"), 1);
        assert.equal(value('tp0_batches_refused_total{code="invalidBet"}'), 1);
        assert.equal(value("tp0_received_bytes_total"), bytesSent);
        assert.equal(value("tp0_received_frames_total"), framesSent);
        assert.equal(value('tp0_draw_state{state="drawn",draw_id="test-draw"}'), 1);
        assert.equal(value('tp0_draw_state{state="open",draw_id="test-draw"}'), 0);
        assert.equal(value("tp0_winners_answers_total"), 2);
        assert.equal(value("tp0_agencies_finished"), 2);
        const commits = value("tp0_store_group_commits_total");
        assert.ok(commits >= 3, `${commits} group commits: 2 batches and 2 finished`);
        assert.equal(value('tp0_store_fsync_duration_seconds_count{file="journal"}'), commits);
        assert.ok(value('tp0_store_fsync_duration_seconds_count{file="bets"}') >= 1);
        assert.ok(value("process_resident_memory_bytes") > 0);
        assert.ok(value("tp0_draw_timestamp_seconds") > value("process_start_time_seconds"));

        const status = JSON.parse((await get(`${base}/api/status`)).text);
        assert.deepEqual(
          status.rows.items.map((row: { winners: number }) => row.winners),
          [2, 0],
          "each agency's winners as told",
        );
        assert.equal(status.refusals[0].code, "invalidBet");
      }, state);
    } finally {
      await central.close();
    }
  });
});
