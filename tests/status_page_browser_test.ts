/**
 * The status page in a real browser (Debian's chromium, driven by
 * playwright-core) during a real local run: without the token the page and
 * its data are refused; with it the agencies' counts rise while they upload
 * (slowed by a local proxy), a refused connection shows with its reason, and
 * after the draw every agency's row shows its winners. Saves a screenshot to
 * the test output folder (docs/status_page.png is a copy of one).
 */

import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { AdminServer } from "../lib/admin/admin_server.ts";
import { AdminState, type CentralReader } from "../lib/admin/central_status.ts";
import { ServerMetrics } from "../lib/server/server_metrics.ts";
import { spawnLocalClient } from "../lib/dev/local_cluster.ts";
import { startThrottleProxy } from "../lib/dev/throttle_proxy.ts";
import { MessageType } from "../lib/protocol/protocol.ts";
import { missingProgram, startWatchedRun, testOutputDir } from "./helpers/admin_run.ts";
import { RawPeer } from "./helpers/raw_agency.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const CHROMIUM = "/usr/bin/chromium";
/** The probe's flags: headless as root, and no calls home on a closed network. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const WINNERS = [3, 1, 0, 2, 5];
const BETS = 1_500;
/** Each agency's ~60 kB of frames take about 4 s: several pushes of the page see them rise. */
const UPLOAD_BYTES_PER_S = 15_000;
/** Bound on every wait for the page. */
const PAGE_WAIT_MS = 60_000;

const missing = await missingProgram(CHROMIUM);
if (missing !== undefined) {
  console.log(`Skipping the status page browser test: ${missing} (.ci/run installs chromium)`);
}

/** The page's DOM as the functions below see it when they run in the browser. */
declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
};

/** A number shown on the page, without its thousands separators. */
async function shownNumber(page: Page, selector: string): Promise<number> {
  return Number((await page.textContent(selector))?.replaceAll(",", ""));
}

Deno.test({
  name:
    "status page in chromium: 401 without the token, counts rise during the upload, winners per agency after the draw",
  ignore: missing !== undefined,
  fn: async () => {
    await withTempDir(async (dir) => {
      const { token, files, total, server } = await startWatchedRun(dir, BETS, WINNERS);
      const proxy = startThrottleProxy({ targetPort: server.port, bytesPerS: UPLOAD_BYTES_PER_S });
      let browser: Browser | undefined;
      try {
        const base = `http://127.0.0.1:${server.adminPort}`;
        browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
        const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });

        // No token: refused, and nothing of the run in what comes back.
        for (const path of ["/", "/api/status", "/events", "/metrics"]) {
          const answer = await page.goto(`${base}${path}`);
          assert.equal(answer?.status(), 401, path);
          const text = await page.textContent("body");
          assert.doesNotMatch(text ?? "", /agenc|bets|tp0_/i, `${path} shows no data`);
        }
        const wrong = await page.request.get(`${base}/api/status?token=nope`);
        assert.equal(wrong.status(), 401);

        assert.equal((await page.goto(`${base}/?token=${token}`))?.status(), 200);
        await page.waitForSelector('[data-testid="live"]:text-is("live")', {
          timeout: PAGE_WAIT_MS,
        });
        assert.equal(await page.locator("#rows tr").count(), WINNERS.length);

        // A hello for an agency that does not exist: refused, listed with its reason.
        const [stranger, refusal] = await RawPeer.hello(server.port, 99);
        assert.equal(refusal.type, MessageType.error);
        stranger.close();

        const clients = files.map((file, index) =>
          spawnLocalClient({
            CLI_ID: String(index + 1),
            CLI_SERVER_ADDRESS: `127.0.0.1:${proxy.port}`,
            CLI_DATA_FILE: file,
          })
        );
        const totalBets = '[data-testid="total-bets"]';
        const rising = (above: number) =>
          page.waitForFunction(
            ([selector, above, total]) => {
              const shown = Number(
                document.querySelector(selector)?.textContent?.replaceAll(",", ""),
              );
              return shown > above && shown < total;
            },
            [totalBets, above, total] as const,
            { timeout: PAGE_WAIT_MS },
          );
        await rising(0);
        const first = await shownNumber(page, totalBets);
        await rising(first);
        const second = await shownNumber(page, totalBets);
        assert.ok(0 < first && first < second && second < total, `${first} < ${second} < ${total}`);
        const rowBets = await page.locator('#rows [data-field="bets"]').allTextContents();
        assert.ok(rowBets.some((text) => text !== "0"), "agency rows rise too");

        await page.waitForSelector('[data-testid="draw-state"]:text-is("drawn")', {
          timeout: PAGE_WAIT_MS,
        });
        await page.waitForFunction(
          (expected) =>
            expected.every((winners, index) =>
              document.querySelector(`#rows tr[data-agency="${index + 1}"] [data-field="winners"]`)
                ?.textContent === String(winners)
            ),
          WINNERS,
          { timeout: PAGE_WAIT_MS },
        );
        assert.equal(await shownNumber(page, totalBets), total);
        assert.equal(
          await shownNumber(page, '[data-testid="winners"]'),
          WINNERS.reduce((sum, count) => sum + count, 0),
        );
        const finished = await page.locator('#rows [data-field="finished"]').allTextContents();
        assert.deepEqual(finished, WINNERS.map(() => "yes"));
        const refusals = await page.textContent('[data-testid="refusals"]');
        assert.match(refusals ?? "", /unknownAgency.*agency 99 is not in 1\.\.5/s);
        assert.match((await page.textContent('[data-testid="draw-time"]')) ?? "", /^at \d/);

        const screenshot = `${await testOutputDir()}/status_page.png`;
        await page.screenshot({ path: screenshot, fullPage: true });
        console.log(`status page screenshot: ${screenshot}`);
        assert.deepEqual(
          await Promise.all(clients.map((client) => client.exited)),
          WINNERS.map(() => 0),
        );
      } finally {
        await browser?.close();
        await proxy.close();
        assert.equal(await server.stop(), 0);
      }
    });
  },
});

Deno.test({
  name:
    "status page in chromium with 1,000 agencies: the 50 slowest by default, pages of 50 by number",
  ignore: missing !== undefined,
  fn: async () => {
    const agencies = 1_000;
    const finished = new Map([[1, 10], [2, 20]]);
    const reader: CentralReader = {
      agencies,
      // Agency k has 10 k bets: 1 and 2 have the fewest but finished.
      betCount: (agency) => agency * 10,
      finishedAgencies: () => finished,
      connectionsOpen: () => agencies,
      queuedBytes: () => 0,
      syncStats: () => ({ syncs: 1, batches: 1 }),
      drawId: "test-draw",
      storage: "postgres://lottery:***@db:5432/lottery",
      storeHealth: () => Promise.resolve(),
    };
    const state = new AdminState(new ServerMetrics(), Date.now());
    state.attach(reader);
    state.lotteryListening(1);
    const admin = new AdminServer({ hostname: "127.0.0.1", port: 0, token: "" }, state);
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      await page.goto(`http://127.0.0.1:${admin.addr.port}/`);
      const title = page.locator("#rows-title");
      await title.filter({ hasText: "the 50 slowest of 1,000" }).waitFor({ timeout: PAGE_WAIT_MS });
      const agencyColumn = () => page.locator('#rows [data-field="agency"]').allTextContents();
      assert.deepEqual((await agencyColumn()).slice(0, 3), ["3", "4", "5"], "unfinished first");
      assert.equal((await agencyColumn()).length, 50);
      assert.equal(await page.textContent('[data-testid="total-bets"]'), "5,005,000");
      assert.equal(
        await page.textContent('[data-testid="storage"]'),
        "postgres://lottery:***@db:5432/lottery",
        "the page names the store",
      );
      await page.screenshot({ path: `${await testOutputDir()}/status_page_1000.png` });

      await page.click("#order-number");
      await title.filter({ hasText: "Agencies 1–50 of 1,000" }).waitFor({ timeout: PAGE_WAIT_MS });
      assert.deepEqual((await agencyColumn()).slice(0, 2), ["1", "2"]);
      await page.click("#next");
      await title.filter({ hasText: "Agencies 51–100 of 1,000" }).waitFor({
        timeout: PAGE_WAIT_MS,
      });
      assert.equal((await agencyColumn())[0], "51");
      assert.equal(admin.viewers, 1, "a view change replaces the stream, it does not add one");
    } finally {
      await browser?.close();
      await admin.close();
    }
  },
});
