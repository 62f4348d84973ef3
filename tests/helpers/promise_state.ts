/** Inspecting promises without waiting on a clock. */

const _PENDING = Symbol("pending");

/**
 * Tells whether a promise is still pending once the microtasks queued before
 * this call have run. A promise that is already settled wins the race against
 * a fresh resolved one, because its reaction is queued first.
 */
export async function isPending(promise: Promise<unknown>): Promise<boolean> {
  const winner = await Promise.race([
    promise.then(() => undefined, () => undefined),
    Promise.resolve(_PENDING),
  ]);
  return winner === _PENDING;
}
