/** Where a test's server keeps its bets: the default draw under a temp folder. */

import { DRAW_ID_DEFAULT } from "../../lib/config/draw_id.ts";
import { drawBetsPath } from "../../lib/store/draw_paths.ts";

/** The bets file of the default (local) draw under storage folder `dir`. */
export function localBetsPath(dir: string): string {
  return drawBetsPath(dir, DRAW_ID_DEFAULT);
}
