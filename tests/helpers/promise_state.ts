/** Inspecting promises without waiting on a clock. */

const _PENDING = Symbol("pending");

/**
 * Tells whether a promise is still pending once the microtasks queued before
 * this call have run. A promise that is already settled wins the race against
 * a fresh resolved one, because its reaction is queued first; the race must
 * watch `promise` itself, since a derived promise settles a tick later.
 */
export function isPending(promise: Promise<unknown>): Promise<boolean> {
  return Promise.race([promise, Promise.resolve(_PENDING)]).then(
    (winner) => winner === _PENDING,
    () => false,
  );
}

/**
 * Resolves after a timer turn: every microtask queued so far, and every one
 * those queue, has run. For asserting that a chain of awaits is held, not just
 * a few hops behind.
 */
export function afterMicrotasks(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
