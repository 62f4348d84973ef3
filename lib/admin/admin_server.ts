/**
 * The admin port: an HTTP server (Deno.serve) beside the lottery port, for
 * the operator and for Prometheus. It reads the central and stops nothing.
 *
 * | path          | answer                                                        |
 * | ------------- | ------------------------------------------------------------- |
 * | `/`           | the live status page (HTML, updates over `/events`)           |
 * | `/events`     | Server-Sent Events: a `status` event per push interval        |
 * | `/api/status` | the same status as JSON, for scripts                          |
 * | `/metrics`    | Prometheus text exposition 0.0.4                              |
 * | `/healthz`    | 200 while the process runs                                    |
 * | `/readyz`     | 200 once the store is restored and the lottery port listens, while the store answers |
 *
 * With a token configured, every path needs it (`Authorization: Bearer` or
 * `?token=`); without it the answer is 401 and carries no data.
 */

import {
  ADMIN_CLOSE_WAIT_MS,
  ADMIN_PAGE_ROWS_MAX,
  ADMIN_PUSH_INTERVAL_MS,
  ADMIN_VIEWERS_MAX,
  AGENCIES_MAX,
} from "../limits.ts";
import { secretMatches } from "../server/agency_secrets.ts";
import { type AdminState, parseRowsView, type RowsView, statusSnapshot } from "./central_status.ts";
import { renderMetrics } from "./metrics_exposition.ts";
import { EXPOSITION_CONTENT_TYPE } from "./prometheus_text.ts";
import { statusPage } from "./status_page.ts";
import { StatusStream } from "./status_stream.ts";

/** Where the admin port listens and what it asks for. */
export interface AdminServerOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** Every request must carry it; empty: none needed. */
  token: string;
  /** How often the status is sampled and pushed (default ADMIN_PUSH_INTERVAL_MS). */
  pushIntervalMs?: number;
  /** Most status streams at once (default ADMIN_VIEWERS_MAX). */
  viewersMax?: number;
}

/** Headers every answer carries: nothing cached, nothing framed, no referrer with a token. */
const _COMMON_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

function _text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { ..._COMMON_HEADERS, "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/** The token a request carries: a bearer token, else the `token` query parameter. */
function requestToken(request: Request, url: URL): string | undefined {
  const header = request.headers.get("authorization");
  const bearer = header === null ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  return bearer ?? url.searchParams.get("token") ?? undefined;
}

function _processStartSeconds(): number {
  return performance.timeOrigin / 1000;
}

/** The running admin port. */
export class AdminServer {
  readonly #state: AdminState;
  readonly #token: string;
  readonly #intervalMs: number;
  readonly #stream: StatusStream;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #timer: ReturnType<typeof setInterval>;
  #closing: Promise<void> | undefined;

  /**
   * Binds the port and starts sampling and pushing.
   * @throws {Deno.errors.AddrInUse} and the other bind or name lookup errors
   */
  constructor(options: AdminServerOptions, state: AdminState) {
    this.#state = state;
    this.#token = options.token;
    this.#intervalMs = options.pushIntervalMs ?? ADMIN_PUSH_INTERVAL_MS;
    this.#stream = new StatusStream(options.viewersMax ?? ADMIN_VIEWERS_MAX);
    this.#server = Deno.serve({
      hostname: options.hostname,
      port: options.port,
      onListen: () => {},
      onError: () => _text(500, "internal error\n"),
    }, (request) => this.#handle(request));
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    // The timer alone must not keep a process alive that is done otherwise.
    this.#timer.unref();
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** Status streams open now. */
  get viewers(): number {
    return this.#stream.viewers;
  }

  #tick(): void {
    const nowMs = Date.now();
    this.#state.sample(nowMs);
    if (this.#stream.viewers === 0) return;
    const memory = Deno.memoryUsage();
    this.#stream.push((view) => this.#statusJson(view, nowMs, memory));
  }

  #statusJson(view: RowsView, nowMs: number, memory = Deno.memoryUsage()): string {
    return JSON.stringify(statusSnapshot(this.#state, view, this.#intervalMs, nowMs, memory));
  }

  async #authorized(request: Request, url: URL): Promise<boolean> {
    if (this.#token === "") return true;
    return await secretMatches(this.#token, requestToken(request, url));
  }

  async #handle(request: Request): Promise<Response> {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return _text(405, "method not allowed: the admin port only reads\n", { allow: "GET, HEAD" });
    }
    const url = new URL(request.url);
    if (!(await this.#authorized(request, url))) {
      return _text(401, "unauthorized: send the admin token (Authorization: Bearer or ?token=)\n", {
        "www-authenticate": 'Bearer realm="tp0-admin"',
      });
    }
    switch (url.pathname) {
      case "/":
        return await this.#page();
      case "/events":
        return this.#events(url);
      case "/api/status":
        return new Response(
          this.#statusJson(parseRowsView(url.searchParams, AGENCIES_MAX), Date.now()) + "\n",
          { headers: { ..._COMMON_HEADERS, "content-type": "application/json; charset=utf-8" } },
        );
      case "/metrics":
        return this.#metrics();
      case "/healthz":
        return _text(200, "ok\n");
      case "/readyz":
        return await this.#ready();
      default:
        return _text(404, "not found: try /, /api/status, /metrics, /healthz or /readyz\n");
    }
  }

  async #page(): Promise<Response> {
    const page = await statusPage();
    return new Response(page.html, {
      headers: {
        ..._COMMON_HEADERS,
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": page.contentSecurityPolicy,
      },
    });
  }

  #events(url: URL): Response {
    const view = parseRowsView(url.searchParams, ADMIN_PAGE_ROWS_MAX);
    const body = this.#stream.open(view, this.#statusJson(view, Date.now()));
    if (body === undefined) {
      return _text(503, "too many status viewers: close another page first\n", {
        "retry-after": "10",
      });
    }
    return new Response(body, {
      headers: {
        ..._COMMON_HEADERS,
        "content-type": "text/event-stream; charset=utf-8",
        "x-accel-buffering": "no",
      },
    });
  }

  #metrics(): Response {
    const text = renderMetrics(this.#state, {
      memory: Deno.memoryUsage(),
      startTimeSeconds: _processStartSeconds(),
      viewers: this.#stream.viewers,
      viewersRefused: this.#stream.refused,
    });
    return new Response(text, {
      headers: { ..._COMMON_HEADERS, "content-type": EXPOSITION_CONTENT_TYPE },
    });
  }

  async #ready(): Promise<Response> {
    switch (this.#state.phase) {
      case "ready":
        try {
          await this.#state.reader?.storeHealth();
        } catch (error) {
          return _text(503, `not ready: the store does not answer: ${(error as Error).message}\n`);
        }
        return _text(200, "ready\n");
      case "restoring":
        return _text(503, "not ready: restoring the store\n");
      case "starting":
        return _text(503, "not ready: the lottery port is not listening yet\n");
      case "shutting_down":
        return _text(503, "not ready: shutting down\n");
    }
  }

  /**
   * Ends the status streams, stops sampling and closes the port, waiting at
   * most ADMIN_CLOSE_WAIT_MS for requests under way. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      this.#stream.close();
      const { promise: waited, resolve } = Promise.withResolvers<void>();
      const timer = setTimeout(resolve, ADMIN_CLOSE_WAIT_MS);
      await Promise.race([this.#server.shutdown(), waited]);
      clearTimeout(timer);
    })();
    return this.#closing;
  }
}
