/**
 * Where a draw's files live: one folder per draw under the storage folder,
 * `<storage>/draws/<draw id>/bets.csv` and its journal beside it. Earlier
 * draws stay where they are, for audit.
 */

/** The folder of a draw's files. */
function drawDir(storageDir: string, drawId: string): string {
  return `${storageDir}/draws/${drawId}`;
}

/** The bets file of a draw; its journal is `<path>.journal`. */
export function drawBetsPath(storageDir: string, drawId: string): string {
  return `${drawDir(storageDir, drawId)}/bets.csv`;
}
