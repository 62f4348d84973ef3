/**
 * The operator's status page: one self-contained HTML document (its style
 * and script inline, allowed by their hashes in the Content-Security-Policy),
 * no CDN, no library. It opens one Server-Sent Events stream (/events) and
 * redraws from each `status` event: the summary, the throughput chart (inline
 * SVG), the agency rows (all of them up to 50 agencies, else the slowest 50
 * or a page by number) and the last refusals. A token in the page's own URL
 * (`?token=`) is passed on to the stream.
 */

import { ADMIN_PAGE_ROWS_MAX } from "../limits.ts";

const _STYLE = String.raw`
:root { color-scheme: light; --ink: #1d2430; --muted: #5f6b7a; --line: #d9dee5; --accent: #1f6feb;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --card: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
header { display: flex; flex-wrap: wrap; gap: 12px; align-items: baseline; padding: 14px 20px; border-bottom: 1px solid var(--line); }
header h1 { font-size: 18px; margin: 0 12px 0 0; }
main { padding: 12px 20px 24px; max-width: 1200px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; background: var(--card); border: 1px solid var(--line); font-weight: 600; }
.badge.ready, .badge.drawn, .badge.live { color: var(--ok); border-color: var(--ok); }
.badge.open { color: var(--accent); border-color: var(--accent); }
.badge.restoring, .badge.starting, .badge.reconnecting { color: var(--warn); border-color: var(--warn); }
.badge.shutting_down, .badge.unauthorized { color: var(--bad); border-color: var(--bad); }
.muted { color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; margin: 12px 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
h2 { font-size: 15px; margin: 18px 0 6px; }
svg.chart { width: 100%; height: 170px; background: var(--card); border: 1px solid var(--line); border-radius: 6px; }
svg.chart .line { fill: none; stroke: var(--accent); stroke-width: 2; }
svg.chart .area { fill: #1f6feb22; stroke: none; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart text { fill: var(--muted); font-size: 11px; }
svg.chart .draw { stroke: var(--ok); stroke-dasharray: 4 3; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
td.reason { text-align: left; white-space: normal; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
.yes { color: var(--ok); font-weight: 600; }
.no { color: var(--muted); }
.controls { display: flex; gap: 8px; align-items: center; margin: 4px 0 6px; }
.controls[hidden] { display: none; }
button { font: inherit; padding: 2px 10px; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
button[aria-pressed="true"] { border-color: var(--accent); color: var(--accent); font-weight: 600; }
button:disabled { color: var(--line); cursor: default; }
footer { margin-top: 18px; color: var(--muted); font-size: 12px; }
`;

const _BODY = String.raw`
<header>
  <h1>Lotería Nacional · central</h1>
  <span>server <span id="phase" class="badge" data-testid="phase">connecting</span></span>
  <span>draw <span id="draw-state" class="badge" data-testid="draw-state">unknown</span>
    <span id="draw-time" class="muted" data-testid="draw-time"></span></span>
  <span>store <span id="storage" class="muted" data-testid="storage">unknown</span></span>
  <span>updates <span id="live" class="badge reconnecting" data-testid="live">connecting</span></span>
</header>
<main>
  <div class="cards">
    <div class="card"><div class="label">bets stored</div><div class="value" id="total-bets" data-testid="total-bets">–</div></div>
    <div class="card"><div class="label">upload rate (bets/s)</div><div class="value" id="total-rate" data-testid="total-rate">–</div></div>
    <div class="card"><div class="label">agencies connected</div><div class="value" id="connected" data-testid="connected">–</div></div>
    <div class="card"><div class="label">agencies finished</div><div class="value" id="finished" data-testid="finished">–</div></div>
    <div class="card"><div class="label">winners told</div><div class="value" id="winners" data-testid="winners">–</div></div>
    <div class="card"><div class="label">batches stored</div><div class="value" id="batches" data-testid="batches">–</div></div>
    <div class="card"><div class="label">refused (batches / connections)</div><div class="value" id="refused" data-testid="refused">–</div></div>
    <div class="card"><div class="label">queued for the disk</div><div class="value" id="queued" data-testid="queued">–</div></div>
  </div>
  <h2>Throughput (bets stored per second)</h2>
  <svg class="chart" id="chart" viewBox="0 0 1000 170" preserveAspectRatio="none" role="img" aria-label="bets stored per second over time"></svg>
  <h2 id="rows-title">Agencies</h2>
  <div class="controls" id="controls" hidden>
    <button id="order-slowest" type="button">slowest</button>
    <button id="order-number" type="button">by number</button>
    <button id="prev" type="button">previous</button>
    <button id="next" type="button">next</button>
    <span id="rows-note" class="muted"></span>
  </div>
  <table data-testid="agencies">
    <thead><tr><th>agency</th><th>connected</th><th>bets stored</th><th>upload rate (bets/s)</th><th>finished</th><th>winners</th></tr></thead>
    <tbody id="rows"></tbody>
  </table>
  <h2>Last refusals</h2>
  <table data-testid="refusals">
    <thead><tr><th>time</th><th>what</th><th>agency</th><th>code</th><th class="reason">reason</th></tr></thead>
    <tbody id="refusals"><tr><td colspan="5" class="muted">none</td></tr></tbody>
  </table>
  <footer id="footer">Waiting for the first update…</footer>
</main>
`;

/** Runs in the browser. Plain ES2020 in a string: it is not part of the Deno program. */
const _SCRIPT = String.raw`
"use strict";
(function () {
  var token = new URLSearchParams(location.search).get("token");
  var ROWS = Number(document.body.getAttribute("data-rows")) || 50;
  var view = { order: "number", offset: 0 };
  var chosen = false;
  var source = null;
  var last = null;
  var nf = new Intl.NumberFormat("en-US");
  var $ = function (id) { return document.getElementById(id); };
  function fmt(n) { return n === null || n === undefined ? "–" : nf.format(Math.round(n)); }
  function bytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
    return (n / 1048576).toFixed(1) + " MiB";
  }
  function time(iso) { return iso === null ? "" : new Date(iso).toLocaleTimeString(); }
  function badge(el, text, cls) { el.textContent = text; el.className = "badge " + cls; }
  function cell(tr, text, cls, field) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    if (field) td.setAttribute("data-field", field);
    tr.appendChild(td);
  }
  function url(path, extra) {
    var params = new URLSearchParams(extra || {});
    if (token) params.set("token", token);
    var query = params.toString();
    return path + (query ? "?" + query : "");
  }
  function connect() {
    if (source) source.close();
    badge($("live"), "connecting", "reconnecting");
    source = new EventSource(url("/events", { order: view.order, offset: String(view.offset) }));
    source.addEventListener("status", function (event) {
      badge($("live"), "live", "live");
      last = JSON.parse(event.data);
      render(last);
    });
    source.onerror = function () { badge($("live"), "reconnecting", "reconnecting"); };
  }
  function setView(order, offset) {
    chosen = true;
    view = { order: order, offset: Math.max(0, offset) };
    connect();
  }
  $("order-slowest").onclick = function () { setView("slowest", 0); };
  $("order-number").onclick = function () { setView("number", 0); };
  $("prev").onclick = function () { setView("number", view.offset - ROWS); };
  $("next").onclick = function () { setView("number", view.offset + ROWS); };
  function renderChart(s) {
    var svg = $("chart");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var ns = "http://www.w3.org/2000/svg";
    var points = s.history.points;
    var top1 = 0;
    points.forEach(function (p) { if (p[1] > top1) top1 = p[1]; });
    // A round top for the scale: the next multiple of half a power of ten, at least 10.
    var step = top1 < 10 ? 10 : Math.pow(10, Math.floor(Math.log10(top1))) / 2;
    var max = Math.max(10, Math.ceil(top1 / step) * step);
    var W = 1000, H = 170, top = 14, bottom = 18;
    function el(name, attrs) {
      var e = document.createElementNS(ns, name);
      Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
      svg.appendChild(e);
      return e;
    }
    [0, 0.5, 1].forEach(function (f) {
      var y = top + (H - top - bottom) * (1 - f);
      el("line", { x1: 0, x2: W, y1: y, y2: y, "class": "grid" });
      el("text", { x: 4, y: y - 3 }).textContent = fmt(max * f) + " bets/s";
    });
    if (points.length < 2) {
      el("text", { x: W / 2 - 80, y: H / 2 }).textContent = "collecting samples…";
      return;
    }
    var t0 = points[0][0], t1 = points[points.length - 1][0];
    var span = Math.max(1, t1 - t0);
    function x(t) { return ((t - t0) / span) * W; }
    function y(v) { return top + (H - top - bottom) * (1 - v / max); }
    var line = points.map(function (p) { return x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1); });
    el("polygon", { points: "0," + y(0) + " " + line.join(" ") + " " + W + "," + y(0), "class": "area" });
    el("polyline", { points: line.join(" "), "class": "line" });
    if (s.draw.at !== null) {
      var td = Date.parse(s.draw.at);
      if (td >= t0 && td <= t1) {
        el("line", { x1: x(td), x2: x(td), y1: top, y2: H - bottom, "class": "draw" });
        el("text", { x: Math.min(x(td) + 4, W - 40), y: top + 10 }).textContent = "draw";
      }
    }
    el("text", { x: 4, y: H - 4 }).textContent = Math.round(span / 1000) + " s ago";
    el("text", { x: W - 30, y: H - 4 }).textContent = "now";
  }
  function renderRows(s) {
    var total = s.rows.total;
    var many = total > ROWS;
    $("controls").hidden = !many;
    if (many && !chosen && view.order === "number") { setView("slowest", 0); return; }
    $("order-slowest").setAttribute("aria-pressed", String(s.rows.order === "slowest"));
    $("order-number").setAttribute("aria-pressed", String(s.rows.order === "number"));
    $("prev").disabled = s.rows.order !== "number" || s.rows.offset === 0;
    $("next").disabled = s.rows.order !== "number" || s.rows.offset + ROWS >= total;
    var shown = s.rows.items.length;
    $("rows-title").textContent = many
      ? (s.rows.order === "slowest"
        ? "Agencies: the " + shown + " slowest of " + fmt(total)
        : "Agencies " + (s.rows.offset + 1) + "–" + (s.rows.offset + shown) + " of " + fmt(total))
      : "Agencies";
    $("rows-note").textContent = many ? "unfinished first, fewest bets first" : "";
    var body = $("rows");
    var fresh = document.createDocumentFragment();
    s.rows.items.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-agency", String(r.agency));
      cell(tr, String(r.agency), "", "agency");
      cell(tr, r.connections > 0 ? "yes" : "no", r.connections > 0 ? "yes" : "no", "connected");
      cell(tr, fmt(r.bets), "", "bets");
      cell(tr, fmt(r.ratePerS), "", "rate");
      cell(tr, r.finished ? "yes" : "no", r.finished ? "yes" : "no", "finished");
      cell(tr, r.winners === null ? "–" : fmt(r.winners), "", "winners");
      fresh.appendChild(tr);
    });
    body.replaceChildren(fresh);
  }
  function renderRefusals(s) {
    var body = $("refusals");
    var fresh = document.createDocumentFragment();
    if (s.refusals.length === 0) {
      var tr0 = document.createElement("tr");
      var td0 = document.createElement("td");
      td0.colSpan = 5; td0.className = "muted"; td0.textContent = "none";
      tr0.appendChild(td0); fresh.appendChild(tr0);
    }
    s.refusals.forEach(function (r) {
      var tr = document.createElement("tr");
      cell(tr, time(r.at)); cell(tr, r.kind); cell(tr, String(r.agency || "–"));
      cell(tr, r.code); cell(tr, r.reason, "reason");
      fresh.appendChild(tr);
    });
    body.replaceChildren(fresh);
  }
  function render(s) {
    badge($("phase"), s.phase.replace("_", " "), s.phase);
    badge($("draw-state"), s.draw.state, s.draw.state);
    $("storage").textContent = s.draw.storage === null ? "unknown" : s.draw.storage;
    $("draw-time").textContent = s.draw.state === "drawn"
      ? (s.draw.at === null ? "(before this start)" : "at " + time(s.draw.at)) : "";
    var t = s.totals;
    $("total-bets").textContent = fmt(t.bets);
    $("total-rate").textContent = fmt(t.ratePerS);
    $("connected").textContent = fmt(t.agenciesConnected) + " / " + fmt(s.draw.agencies);
    $("finished").textContent = fmt(s.draw.finished) + " / " + fmt(s.draw.agencies);
    $("winners").textContent = fmt(t.winners);
    $("batches").textContent = fmt(t.batchesStored);
    $("refused").textContent = fmt(t.batchesRefused) + " / " + fmt(t.connectionsRefused);
    $("queued").textContent = bytes(t.queuedBytes);
    renderChart(s);
    renderRows(s);
    renderRefusals(s);
    $("footer").textContent = "Updated " + time(s.at) + " · pushed every " + (s.history.intervalMs / 1000) +
      " s · started " + time(s.startedAt) + " · lottery port " + (s.lotteryPort === null ? "not listening" : s.lotteryPort) +
      " · " + fmt(t.connectionsOpen) + " connections open · " + bytes(t.bytesReceived) + " received · memory " +
      bytes(s.memory.rssBytes) + " · JSON at /api/status, metrics at /metrics";
  }
  connect();
})();
`;

async function _sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** The page and the Content-Security-Policy that allows exactly its inline style and script. */
export interface StatusPage {
  html: string;
  contentSecurityPolicy: string;
}

let _page: Promise<StatusPage> | undefined;

/** The status page, built once. */
export function statusPage(): Promise<StatusPage> {
  _page ??= (async () => ({
    html: `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Lotería Nacional · central status</title>
<link rel="icon" href="data:,">
<style>${_STYLE}</style>
</head>
<body data-rows="${ADMIN_PAGE_ROWS_MAX}">${_BODY}<script>${_SCRIPT}</script>
</body>
</html>
`,
    contentSecurityPolicy: [
      "default-src 'none'",
      `style-src 'sha256-${await _sha256(_STYLE)}'`,
      `script-src 'sha256-${await _sha256(_SCRIPT)}'`,
      "connect-src 'self'",
      "img-src data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
  }))();
  return _page;
}
