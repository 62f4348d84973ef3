/** Reacting to the signals that ask a process to stop (SIGTERM, SIGINT). */

/** The signals that trigger a graceful shutdown. */
export const SHUTDOWN_SIGNALS = ["SIGTERM", "SIGINT"] as const;
export type ShutdownSignal = typeof SHUTDOWN_SIGNALS[number];

/**
 * Calls `onSignal` on the first SIGTERM or SIGINT.
 * @returns a function that removes the listeners (call it when done, so the
 *   event loop can end by itself); the first signal also removes them
 */
export function onShutdownSignal(onSignal: (signal: ShutdownSignal) => void): () => void {
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
  };
  const handlers = SHUTDOWN_SIGNALS.map((signal) => {
    const handler = () => {
      remove();
      onSignal(signal);
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  return remove;
}
