/** Closing a resource that may be closed already. */

/**
 * Closes `resource`, ignoring that it is closed already (or absent).
 * @example closeQuietly(listener) // safe after listener.close()
 */
export function closeQuietly(resource: { close(): void } | undefined): void {
  try {
    resource?.close();
  } catch {
    // Closed already: the close this asked for has happened.
  }
}
