/**
 * The status page's live updates: Server-Sent Events streams, at most
 * `viewersMax` at once, each sent one `status` event per push. A viewer that
 * does not read is skipped (never buffered for), so a stalled tab cannot grow
 * the server.
 */

import type { RowsView } from "./central_status.ts";
import { closeQuietly } from "../runtime/close_quietly.ts";

/** Tells a browser how long to wait before reconnecting a lost stream. */
export const SSE_RETRY_MS = 3_000;

/** Chunks queued for one viewer before pushes to it are skipped. */
const _QUEUED_CHUNKS_MAX = 2;

const _encoder = new TextEncoder();

/**
 * Formats one SSE event; `data` must be one line (JSON without indentation).
 * @example sseEvent("status", "{}") // "event: status\ndata: {}\n\n"
 * @throws {TypeError} when data holds a line break
 */
export function sseEvent(event: string, data: string): string {
  if (/[\r\n]/.test(data)) throw new TypeError("Cannot send an SSE event: data holds a line break");
  return `event: ${event}\ndata: ${data}\n\n`;
}

interface _Viewer {
  view: RowsView;
  controller: ReadableStreamDefaultController<Uint8Array>;
}

/** The open viewers of the status page. */
export class StatusStream {
  readonly #viewersMax: number;
  readonly #viewers = new Set<_Viewer>();
  #refused = 0;
  #closed = false;

  /** @param viewersMax most streams open at once */
  constructor(viewersMax: number) {
    this.#viewersMax = viewersMax;
  }

  /** Streams open now. */
  get viewers(): number {
    return this.#viewers.size;
  }

  /** Streams refused because the bound was reached. */
  get refused(): number {
    return this.#refused;
  }

  /**
   * Opens a stream for one viewer, starting with `first` (the current status).
   * @returns the response body, or undefined when `viewersMax` are open (or closed)
   */
  open(view: RowsView, first: string): ReadableStream<Uint8Array> | undefined {
    if (this.#closed || this.#viewers.size >= this.#viewersMax) {
      this.#refused += 1;
      return undefined;
    }
    let viewer: _Viewer | undefined;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        viewer = { view, controller };
        this.#viewers.add(viewer);
        controller.enqueue(
          _encoder.encode(`retry: ${SSE_RETRY_MS}\n\n${sseEvent("status", first)}`),
        );
      },
      cancel: () => {
        if (viewer !== undefined) this.#viewers.delete(viewer);
      },
    }, { highWaterMark: _QUEUED_CHUNKS_MAX });
  }

  /**
   * Sends every viewer the status of its view; views shared by several
   * viewers are rendered once.
   * @param render the status JSON of one view
   */
  push(render: (view: RowsView) => string): void {
    const rendered = new Map<string, Uint8Array>();
    for (const viewer of this.#viewers) {
      if ((viewer.controller.desiredSize ?? 0) <= 0) continue;
      const key = `${viewer.view.order}:${viewer.view.offset}:${viewer.view.limit}`;
      let chunk = rendered.get(key);
      if (chunk === undefined) {
        chunk = _encoder.encode(sseEvent("status", render(viewer.view)));
        rendered.set(key, chunk);
      }
      try {
        viewer.controller.enqueue(chunk);
      } catch {
        this.#viewers.delete(viewer);
      }
    }
  }

  /** Ends every stream and refuses new ones. Safe to call twice. */
  close(): void {
    this.#closed = true;
    // A viewer may have closed its stream already.
    for (const viewer of this.#viewers) closeQuietly(viewer.controller);
    this.#viewers.clear();
  }
}
