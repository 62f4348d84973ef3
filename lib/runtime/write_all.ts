/** Writing whole byte arrays to a connection or a file, looping over short writes. */

import { flushLogLines } from "./log.ts";

/** What bytes are written to: a `Deno.Conn`, a `Deno.FsFile` or a test double. */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * Writes every byte, looping over short writes, after the log lines queued so far.
 * @throws {Error} when the sink reports zero bytes written
 */
export async function writeAll(
  sink: ByteSink,
  bytes: Uint8Array,
): Promise<void> {
  // Readers of the logs order a reply after the lines logged before it.
  flushLogLines();
  let written = 0;
  while (written < bytes.length) {
    const count = await sink.write(bytes.subarray(written));
    if (count <= 0) {
      throw new Error(
        `write made no progress after ${written} of ${bytes.length} bytes`,
      );
    }
    written += count;
  }
}

/**
 * Writes chunks in order through a staging buffer: small chunks are gathered
 * into one write per staging buffer full, a chunk larger than the buffer is
 * written as it is. A writer of large groups of small chunks thus keeps one
 * bounded buffer instead of joining each group into a new array.
 * @throws {Error} as {@link writeAll}
 */
export async function writeChunks(
  sink: ByteSink,
  chunks: readonly Uint8Array[],
  staging: Uint8Array,
): Promise<void> {
  let used = 0;
  for (const chunk of chunks) {
    if (used > 0 && used + chunk.length > staging.length) {
      await writeAll(sink, staging.subarray(0, used));
      used = 0;
    }
    if (chunk.length > staging.length) {
      await writeAll(sink, chunk);
      continue;
    }
    staging.set(chunk, used);
    used += chunk.length;
  }
  if (used > 0) await writeAll(sink, staging.subarray(0, used));
}
