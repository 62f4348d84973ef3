/**
 * One bounded HTTP GET, for the image's HEALTHCHECK (healthcheck.ts asks
 * the admin port's /readyz).
 */

/** What a probe found. */
export type HttpProbeResult = { ok: true; status: number } | { ok: false; reason: string };

/** Where to probe and how long to wait. */
export interface HttpProbeOptions {
  /** e.g. `http://127.0.0.1:9180/readyz` */
  url: string;
  /** Sent as `Authorization: Bearer`; empty: none. */
  token: string;
  timeoutMs: number;
}

/**
 * GETs `url` and expects a 2xx answer within `timeoutMs`.
 * @returns ok with the status, or the reason in one line (status and body, timeout, refused)
 */
export async function probeHttp(options: HttpProbeOptions): Promise<HttpProbeResult> {
  const headers: Record<string, string> = {};
  if (options.token !== "") headers["authorization"] = `Bearer ${options.token}`;
  try {
    const response = await fetch(options.url, {
      headers,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const body = (await response.text()).trim().replace(/\s+/g, " ").slice(0, 200);
    if (response.ok) return { ok: true, status: response.status };
    return { ok: false, reason: `${options.url}: ${response.status} ${body}` };
  } catch (error) {
    const reason = (error as Error).name === "TimeoutError"
      ? `no answer within ${options.timeoutMs} ms`
      : (error as Error).message;
    return { ok: false, reason: `${options.url}: ${reason}` };
  }
}
