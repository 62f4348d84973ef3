/** Waiting for the signals that ask a process to stop. */

/** The signals that trigger a graceful shutdown. */
export const SHUTDOWN_SIGNALS = ["SIGTERM", "SIGINT"] as const;
export type ShutdownSignal = typeof SHUTDOWN_SIGNALS[number];

/**
 * Resolves with the first SIGTERM or SIGINT received, then removes its
 * listeners so the event loop can end by itself.
 */
export function waitForShutdownSignal(): Promise<ShutdownSignal> {
  const { promise, resolve } = Promise.withResolvers<ShutdownSignal>();
  const handlers = SHUTDOWN_SIGNALS.map((signal) => {
    const handler = () => {
      for (const [name, registered] of handlers) Deno.removeSignalListener(name, registered);
      resolve(signal);
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  return promise;
}
