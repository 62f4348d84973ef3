/**
 * Notifications from the other replicas (pg_channels.ts), on a connection of
 * their own. The client's built-in LISTEN re-listens whenever its connection
 * closes, its own end included, so after a database restart it could leave
 * a connection open that keeps the process alive; this one re-listens only
 * while open, when asked (the draw poll asks each tick).
 */

import { connectPostgres, type Sql } from "./pg_client.ts";

/** Called with each notification of a listened channel. */
export type NoticeHandler = (channel: string, payload: string) => void;

/** LISTEN on a set of channels, kept up by {@link PgNotices.ensure}. */
export class PgNotices {
  readonly #sql: Sql;
  readonly #channels: readonly string[];
  #listening: Promise<boolean> | undefined;
  #closed = false;

  private constructor(sql: Sql, channels: readonly string[]) {
    this.#sql = sql;
    this.#channels = channels;
  }

  /** Opens the connection and listens; rejects when the database cannot be reached. */
  static async open(url: string, channels: readonly string[], onNotice: NoticeHandler) {
    // The pool is made before the object its close handler tells.
    const opened: { notices?: PgNotices } = {};
    const sql = await connectPostgres(url, {
      max: 1,
      onnotify: (channel, payload) => onNotice(channel, payload),
      onclose: () => opened.notices?.lost(),
    });
    const notices = opened.notices = new PgNotices(sql, channels);
    if (!(await notices.ensure())) {
      await sql.end({ timeout: 0 });
      throw new Error("cannot LISTEN for the other replicas' notifications");
    }
    return notices;
  }

  /** The connection closed: notifications stop until {@link ensure} listens again. */
  lost(): void {
    this.#listening = undefined;
  }

  /** Listens again if the connection was lost; resolves whether it listens. */
  ensure(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    return this.#listening ??= (async () => {
      try {
        for (const channel of this.#channels) await this.#sql.unsafe(`LISTEN "${channel}"`);
        return true;
      } catch {
        this.#listening = undefined;
        return false;
      }
    })();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#listening;
    await this.#sql.end({ timeout: 0 });
  }
}
