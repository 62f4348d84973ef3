/**
 * The PostgreSQL client (npm `postgres`), loaded only when STORE_URL names a
 * database: the file store, the course's default, never loads it.
 */

import net from "node:net";
import type postgresType from "postgres";
import { PG_CONNECT_TIMEOUT_S, PG_CONNECTIONS_MAX } from "../limits.ts";

/** A pool of connections to one database. */
export type Sql = postgresType.Sql;

/** The connection a transaction runs on. */
export type TransactionSql = postgresType.TransactionSql;

/** The type of an int4[] parameter (`tx.array(values, PG_INT4_ARRAY)`). */
export const PG_INT4_ARRAY = 1007;

/** The type of an int8[] parameter (`tx.array(values, PG_INT8_ARRAY)`). */
export const PG_INT8_ARRAY = 1016;

/** An array of whole numbers as PostgreSQL's text form, `{1,2,3}`, both ways. */
function _integerArray(oid: number) {
  return {
    to: oid,
    from: [oid],
    serialize: (values: number[]) => `{${values.join(",")}}`,
    parse: (text: string) => text === "{}" ? [] : text.slice(1, -1).split(",").map(Number),
  };
}

/** A pool's size and event callbacks, when not the store's defaults. */
export interface PoolOptions {
  /** Connections at most (default PG_CONNECTIONS_MAX). */
  max?: number;
  /** Told each notification a connection of the pool receives. */
  onnotify?: (channel: string, payload: string) => void;
  /** Told each time a connection of the pool closes. */
  onclose?: () => void;
}

/**
 * Opens a pool on `url` (no connection is made until the first query).
 * Notices (e.g. "relation already exists") are not logged.
 */
export async function connectPostgres(url: string, options: PoolOptions = {}): Promise<Sql> {
  const { default: postgres } = await import("postgres");
  return postgres(url, {
    // The client reads `socket`; its types do not name it.
    ...({ socket: _connectNoDelay } as object),
    max: options.max ?? PG_CONNECTIONS_MAX,
    ...(options.onnotify === undefined ? {} : { onnotify: options.onnotify }),
    ...(options.onclose === undefined ? {} : { onclose: options.onclose }),
    connect_timeout: PG_CONNECT_TIMEOUT_S,
    onnotice: () => {},
    // No query for the database's array types at each connect: postgres.js
    // 3.4 drops that query's promise, so when it fails (the database dies
    // under it) the rejection is uncaught and ends the process. The store's
    // array parameters name their array types (PG_INT4_ARRAY, PG_INT8_ARRAY).
    fetch_types: false,
    // Bigints (positions, digests, epochs) come back as numbers: every value
    // the store keeps is below 2^53.
    types: {
      bigint: {
        to: 20,
        from: [20],
        serialize: (value: number) => String(value),
        parse: (text: string) => Number(text),
      },
      int4Array: _integerArray(PG_INT4_ARRAY),
      int8Array: _integerArray(PG_INT8_ARRAY),
    },
  });
}

/**
 * Opens the client's socket with Nagle's algorithm off. The client writes a
 * message and, without waiting, the next (BEGIN and a query, a COPY's data
 * and its end): with Nagle on, the second waits for the server's delayed
 * ACK, about 40 ms per transaction. The socket is returned still
 * connecting, as the client's own: what it writes meanwhile is buffered, and
 * a failed connect reaches the client as the socket's error and close.
 */
function _connectNoDelay(options: { host: string[]; port: number[] }): net.Socket {
  const socket = net.connect({ host: options.host[0]!, port: options.port[0]! });
  socket.setNoDelay(true);
  return socket;
}

/** postgres.js's codes for a connection that closed, was destroyed or ended. */
const _LOST_CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
]);

/**
 * Whether a query's error means its connection is gone: a closed socket,
 * a socket error (ECONNRESET, EPIPE, …), or the server's FATAL or PANIC
 * before it closes (a shutdown or a terminated backend).
 */
function _isConnectionLoss(error: unknown): boolean {
  const { code, severity } = (error ?? {}) as { code?: unknown; severity?: unknown };
  if (severity === "FATAL" || severity === "PANIC") return true;
  return typeof code === "string" && (_LOST_CONNECTION_CODES.has(code) || /^E[A-Z]+$/.test(code));
}

/**
 * Runs `body` in one transaction on `sql` (postgres.js `begin`): it commits
 * when `body` resolves and rolls back when `body` throws.
 *
 * When the transaction's connection is lost, `body`'s rejection is held
 * back for good and the returned promise rejects with `begin`'s own
 * connection error instead: postgres.js 3.4 would send ROLLBACK on the
 * closed socket from a timer, which throws where nothing can catch it (the
 * process dies) or leaves the pool's connection unable to send again.
 * @returns what `body` returns, once committed
 * @throws the database's error (rolled back), `body`'s own error, or the
 *   lost connection's error (the outcome of a COMMIT in flight is unknown)
 */
export function inTransaction<T>(sql: Sql, body: (tx: TransactionSql) => Promise<T>): Promise<T> {
  return sql.begin((tx) =>
    body(tx).catch((error: unknown) => {
      if (_isConnectionLoss(error)) return new Promise<never>(() => {});
      throw error;
    })
  ) as Promise<T>;
}
