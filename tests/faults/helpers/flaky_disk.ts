/**
 * A store file opener whose disk can be made full or failing at will: while
 * full, a write lands a part of its bytes and then fails with ENOSPC, as a
 * real full disk does; a failing sync reports EIO; a failing truncate
 * reports EIO too.
 */

import {
  openAppendFile,
  type StoreFile,
  type StoreFileOpener,
} from "../../../lib/store/store_file.ts";

/** The injected faults and how often each struck. */
export class FlakyDisk {
  /** Writes land half their bytes, then fail with ENOSPC. */
  full = false;
  /** syncData fails with EIO. */
  syncFails = false;
  /** truncate fails with EIO. */
  truncateFails = false;
  /** Injected failures so far. */
  failures = 0;

  /** Opens a real append file whose calls obey the flags above. */
  open: StoreFileOpener = async (path) => {
    const file = await openAppendFile(path);
    let landedPart = false;
    const flaky: StoreFile = {
      write: async (bytes) => {
        if (!this.full) {
          landedPart = false;
          return await file.write(bytes);
        }
        if (!landedPart && bytes.length > 1) {
          landedPart = true;
          return await file.write(bytes.subarray(0, bytes.length >> 1));
        }
        landedPart = false;
        this.failures += 1;
        throw new Error(`No space left on device (os error 28), injected on ${path}`);
      },
      syncData: async () => {
        if (this.syncFails) {
          this.failures += 1;
          throw new Error(`Input/output error (os error 5), injected sync on ${path}`);
        }
        await file.syncData();
      },
      truncate: async (length) => {
        if (this.truncateFails) {
          this.failures += 1;
          throw new Error(`Input/output error (os error 5), injected truncate on ${path}`);
        }
        await file.truncate(length);
      },
      close: () => file.close(),
    };
    return flaky;
  };
}
