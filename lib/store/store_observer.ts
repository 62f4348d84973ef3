/**
 * What the store tells an observer (the server's metrics) about its writes.
 * The store calls it once per group commit at most, never per bet.
 */

/** Which of the store's two files was synced. */
export type StoreFileKind = "bets" | "journal";

/** Told about the store's disk work; every method must be cheap and must not throw. */
export interface StoreObserver {
  /** One fdatasync of `file` took `seconds` (the file store). */
  synced(file: StoreFileKind, seconds: number): void;
  /** One group-commit transaction took `seconds`, committed or failed (the PostgreSQL store). */
  transaction(seconds: number, committed: boolean): void;
}
