/**
 * Notifications from the other replicas of a database, on a connection of
 * their own. When that connection is lost (a database restart), LISTEN is
 * said again every PG_DRAW_POLL_MS until it succeeds; what was notified
 * meanwhile is missed (the store polls for the draw, and the database
 * fences a stale claim).
 *
 * Not postgres.js's `sql.listen`: it listens again by itself after a lost
 * connection, and the connection it opens for that outlives `sql.end()`, so
 * a process that listened never exits after the database restarted.
 */

import { PG_DRAW_POLL_MS } from "../limits.ts";
import { connectPostgres, type Sql } from "./pg_client.ts";

/** Called with a notification's payload. */
export type NoticeHandler = (payload: string) => void;

/** A connection listening on some channels. */
export class PgListener {
  readonly #sql: Sql;
  readonly #channels: readonly string[];
  #retry: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  private constructor(sql: Sql, channels: readonly string[]) {
    this.#sql = sql;
    this.#channels = channels;
  }

  /**
   * Connects to `url` and listens on each channel of `handlers`.
   * @throws the database's error when the first LISTEN fails
   */
  static async open(
    url: string,
    handlers: ReadonlyMap<string, NoticeHandler>,
  ): Promise<PgListener> {
    // The pool is made before the listener its close handler tells.
    const opened: { listener?: PgListener } = {};
    const sql = await connectPostgres(url, {
      max: 1,
      onnotify: (channel, payload) => handlers.get(channel)?.(payload),
      onclose: () => opened.listener?.lost(),
    });
    const listener = opened.listener = new PgListener(sql, [...handlers.keys()]);
    try {
      await listener.#listen();
    } catch (error) {
      await listener.close();
      throw error;
    }
    return listener;
  }

  async #listen(): Promise<void> {
    // Channel names are this program's constants, never input.
    for (const channel of this.#channels) await this.#sql.unsafe(`LISTEN ${channel}`);
  }

  /** Told by the pool that its connection closed: listens again on a new
   * one, until that works. */
  lost(): void {
    if (this.#closed || this.#retry !== undefined) return;
    const retry = setTimeout(() => {
      this.#retry = undefined;
      this.#listen().catch(() => this.lost());
    }, PG_DRAW_POLL_MS);
    Deno.unrefTimer(Number(retry));
    this.#retry = retry;
  }

  /** Stops listening and closes the connection. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.#sql.end({ timeout: 1 });
  }
}
