/**
 * The two files a store writes (the bets CSV and its journal beside it), as
 * the store sees them: appended to, synced, cut back. Tests substitute
 * failing ones through a {@link StoreFileOpener}.
 */

/** The files a store writes; tests substitute failing ones. */
export interface StoreFile {
  write(bytes: Uint8Array): Promise<number>;
  syncData(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): void;
}

/** Opens a store file for appending; tests pass their own. */
export type StoreFileOpener = (path: string) => Promise<StoreFile>;

/** Opens a file for appending with owner-only permissions. */
export const openAppendFile: StoreFileOpener = (path) =>
  Deno.open(path, { append: true, create: true, read: true, mode: 0o600 });

/** Path of the journal that belongs to a bets file. */
export function journalPathFor(betsPath: string): string {
  return `${betsPath}.journal`;
}
