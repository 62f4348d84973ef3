/** Closing a resource (connection, listener, file) that may be closed already. */

/** Anything with a `close()`: `Deno.Conn`, `Deno.Listener`, `Deno.FsFile`, a test double. */
export interface Closable {
  close(): void;
}

/**
 * Closes `resource`, ignoring the error of one closed already (or closing
 * nothing when it is undefined), so cleanup paths can always call it.
 * @param resource what to close, or undefined
 * @example
 * ```ts
 * closeQuietly(conn);
 * closeQuietly(conn); // closed already: no error
 * ```
 */
export function closeQuietly(resource: Closable | undefined): void {
  try {
    resource?.close();
  } catch {
    // already closed
  }
}
