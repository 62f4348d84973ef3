/**
 * Deno flags every server and client process runs with (tasks, Dockerfiles,
 * local clusters, the benchmark; a test checks they all agree).
 *
 * V8's young generation grows to 16 MiB semi-spaces by default; the ingest
 * allocates short-lived frames and rows fast, so the heap sat near its cap.
 * With 2 MiB semi-spaces, measured here: one agency uploading a 1 GB file
 * peaked at 68 MB client / 74 MB server instead of 124 / 156 MB, and was
 * faster (17.5 s instead of 20.6 s); 5 x 1M bets kept their ~3 s with the
 * server at 85-90 MB instead of 117-120 MB.
 */
export const V8_FLAGS = "--v8-flags=--max-semi-space-size=2";
