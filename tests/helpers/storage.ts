/** Test storage: where a test's server keeps its bets, and a file opener that counts. */

import { DRAW_ID_DEFAULT } from "../../lib/config/draw_id.ts";
import { drawBetsPath } from "../../lib/store/draw_paths.ts";
import { openAppendFile, type StoreFileOpener } from "../../lib/store/store_file.ts";

/** The bets file of the default (local) draw under storage folder `dir`. */
export function localBetsPath(dir: string): string {
  return drawBetsPath(dir, DRAW_ID_DEFAULT);
}

/** A file opener that opens for real and counts the files still open. */
export function countingOpener(): { opener: StoreFileOpener; openFiles: () => number } {
  let open = 0;
  const opener: StoreFileOpener = async (file) => {
    const real = await openAppendFile(file);
    open += 1;
    return {
      write: (bytes) => real.write(bytes),
      syncData: () => real.syncData(),
      truncate: (length) => real.truncate(length),
      close: () => {
        open -= 1;
        real.close();
      },
    };
  };
  return { opener, openFiles: () => open };
}
