/**
 * One uploader per agency: the newest hello for an agency takes it over from
 * any older connection, which is fenced (it stores nothing more and is
 * closed with `superseded`). The newcomer's helloAck waits until every batch
 * the older connections handed to the store is committed or failed, so the
 * stored count it reports is final and a restarted client is never blocked
 * by its own half-open predecessor.
 */

/** A session that can hold an agency. */
export interface AgencyHolder {
  /** Stops taking batches and closes the connection with `superseded`. */
  fence(): void;
  /** Resolves once no batch of this session waits at the store. */
  storeSettled(): Promise<void>;
}

interface _Claim {
  holder: AgencyHolder;
  /** Resolves once every earlier holder's store work is settled. */
  settled: Promise<void>;
}

/** Which session holds which agency. */
export class AgencyClaims {
  readonly #claims = new Map<number, _Claim>();

  /**
   * Makes `holder` the agency's uploader, fencing the one before it.
   * @returns once no earlier holder has a batch at the store
   */
  claim(agency: number, holder: AgencyHolder): Promise<void> {
    const previous = this.#claims.get(agency);
    let settled = Promise.resolve();
    if (previous !== undefined) {
      previous.holder.fence();
      settled = Promise.all([previous.settled, previous.holder.storeSettled()]).then(() => {});
    }
    this.#claims.set(agency, { holder, settled });
    return settled;
  }

  /** Another central sharing the store took the agency over: fences this
   * process's holder, if any (it keeps its claim until it ends). */
  fenceHolder(agency: number): void {
    this.#claims.get(agency)?.holder.fence();
  }

  /** Ends `holder`'s claim, unless a newer holder took the agency already. */
  release(agency: number, holder: AgencyHolder): void {
    if (this.#claims.get(agency)?.holder === holder) this.#claims.delete(agency);
  }

  /** Whether `holder` is the agency's current uploader. */
  holds(agency: number, holder: AgencyHolder): boolean {
    return this.#claims.get(agency)?.holder === holder;
  }
}
