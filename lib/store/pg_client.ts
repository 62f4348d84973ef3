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

/** Options for a pool that listens (pg_notices.ts); the client reads them,
 * its types do not name them. */
export interface ListeningOptions {
  max: number;
  /** Each notification of a channel the connection listens on. */
  onnotify: (channel: string, payload: string) => void;
  /** The connection closed. */
  onclose: () => void;
}

/**
 * Opens a pool on `url` (no connection is made until the first query).
 * Notices (e.g. "relation already exists") are not logged.
 */
export async function connectPostgres(url: string, listening?: ListeningOptions): Promise<Sql> {
  const { default: postgres } = await import("postgres");
  return postgres(url, {
    // The client reads `socket`; its types do not name it.
    ...({ socket: _connectNoDelay } as object),
    ...(listening as object),
    max: listening?.max ?? PG_CONNECTIONS_MAX,
    connect_timeout: PG_CONNECT_TIMEOUT_S,
    onnotice: () => {},
    // Bigints (positions, digests, epochs) come back as numbers: every value
    // the store keeps is below 2^53.
    types: {
      bigint: {
        to: 20,
        from: [20],
        serialize: (value: number) => String(value),
        parse: (text: string) => Number(text),
      },
    },
  });
}

/**
 * Opens the client's socket with Nagle's algorithm off. The client writes a
 * message and, without waiting, the next (BEGIN and a query, a COPY's data
 * and its end): with Nagle on, the second waits for the server's delayed
 * ACK, about 40 ms per transaction.
 */
function _connectNoDelay(options: { host: string[]; port: number[] }): Promise<net.Socket> {
  const socket = net.connect({ host: options.host[0]!, port: options.port[0]! });
  socket.setNoDelay(true);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}
