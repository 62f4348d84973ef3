/**
 * The notification channels replicas of one database talk on. A
 * notification is delivered only after its transaction commits; one that a
 * broken connection misses is made up for by polling (see PG_DRAW_POLL_MS)
 * and by each claim reading the agency afresh.
 */

/** Payload: the draw id whose draw was just made. */
export const PG_DRAWS_CHANNEL = "lottery_draws";

/** Payload: JSON {@link ClaimNotice}, sent by each claim. */
export const PG_CLAIMS_CHANNEL = "lottery_claims";

/** A claim as other replicas hear of it. */
export interface ClaimNotice {
  drawId: string;
  agency: number;
  epoch: number;
}

/**
 * Reads a claims notification's payload.
 * @returns undefined when the payload is not a claim notice
 */
export function parseClaimNotice(payload: string): ClaimNotice | undefined {
  try {
    const value = JSON.parse(payload);
    if (
      typeof value?.drawId === "string" && Number.isSafeInteger(value.agency) &&
      Number.isSafeInteger(value.epoch)
    ) {
      return { drawId: value.drawId, agency: value.agency, epoch: value.epoch };
    }
  } catch {
    // Not ours: another program may use the channel name.
  }
  return undefined;
}
