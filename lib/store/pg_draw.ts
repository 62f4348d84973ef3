/**
 * What one replica knows of the draw in a shared database: the finishes it
 * has seen durable and, once every agency finished, every agency's winners,
 * read from the database (other replicas stored most of them). The set of
 * finishes only becomes complete together with the winners, so a replica
 * never answers a winners query from a partial view.
 */

import type { Sql } from "./pg_client.ts";
import { readDrawState } from "./pg_reads.ts";
import { type WinnersAnswer, WinnersIndex } from "./winners_index.ts";

/** A replica's view of the draw. */
export class PgDraw {
  readonly #sql: Sql;
  readonly #drawId: string;
  readonly #agencies: number;
  /** Called when a read found the draw made by another replica. */
  readonly #onDrawnElsewhere: () => void;
  #finished: Map<number, number>;
  #winners: WinnersIndex | undefined;
  #reading: Promise<void> | undefined;

  /**
   * @param finished the draw's finishes as read at open
   * @param winners every agency's winners, when `finished` is complete
   */
  constructor(
    sql: Sql,
    drawId: string,
    agencies: number,
    finished: Map<number, number>,
    winners: WinnersIndex | undefined,
    onDrawnElsewhere: () => void,
  ) {
    this.#sql = sql;
    this.#drawId = drawId;
    this.#agencies = agencies;
    this.#finished = finished;
    this.#winners = winners;
    this.#onDrawnElsewhere = onDrawnElsewhere;
  }

  /** Finishes known durable: every agency's once the draw is made and its winners read. */
  get finished(): ReadonlyMap<number, number> {
    return this.#finished;
  }

  /** Whether the draw's winners are read. */
  get drawn(): boolean {
    return this.#winners !== undefined;
  }

  /** The agency's winners answer (empty before the draw: nobody asks then). */
  winners(agency: number): WinnersAnswer {
    return (this.#winners ?? _NO_WINNERS_YET).answer(agency);
  }

  /**
   * Adds finishes known durable; when they complete the set, reads the
   * winners first (a failed read leaves the set as it was: the poll reads again).
   * @param elsewhere the finishes were read from the database, not written
   *   by this replica: a draw they complete was made by another
   */
  async add(finishes: ReadonlyMap<number, number>, elsewhere: boolean): Promise<void> {
    const union = new Map([...this.#finished, ...finishes]);
    if (union.size >= this.#agencies && !this.drawn) {
      // A read begun before these finishes committed may miss them: read after it.
      await this.#reading;
      await this.refresh(elsewhere);
      return;
    }
    this.#finished = union;
  }

  /**
   * Reads the draw's finishes; once complete, every agency's winners.
   * @param elsewhere the draw may have been made by another replica: say so when it was
   */
  refresh(elsewhere: boolean): Promise<void> {
    if (this.drawn) return Promise.resolve();
    return this.#reading ??= readDrawState(this.#sql, this.#drawId, this.#agencies)
      .then(({ finishes, winners }) => {
        if (winners === undefined || this.drawn) return;
        this.#winners = winners;
        this.#finished = finishes;
        if (elsewhere) this.#onDrawnElsewhere();
      })
      .catch(() => {}) // The poll reads again.
      .finally(() => this.#reading = undefined);
  }

  /** Resolves once no read is under way. */
  async settled(): Promise<void> {
    await this.#reading;
  }
}

/** Answers before the draw's winners are read. */
const _NO_WINNERS_YET = new WinnersIndex();
