/**
 * The central's /metrics: every family, its meaning and its unit, read at
 * scrape time from the store, the server and the counters (nothing here runs
 * on the lottery's hot path). docs/OPERATIONS.md lists the same families.
 */

import { ADMIN_AGENCY_SERIES_MAX } from "../limits.ts";
import { ExpositionWriter, type Sample } from "./prometheus_text.ts";
import { type AdminState, totalBets } from "./central_status.ts";

/** What the process reports about itself. */
export interface ProcessFacts {
  /** `Deno.memoryUsage()` */
  memory: { rss: number; heapTotal: number; heapUsed: number; external: number };
  /** When the process started, epoch seconds. */
  startTimeSeconds: number;
  /** Status page streams open, and refused since the start. */
  viewers: number;
  viewersRefused: number;
}

function _byKey(counts: ReadonlyMap<string, number>, label: string): Sample[] {
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([key, value]) => ({
    labels: { [label]: key },
    value,
  }));
}

/**
 * Renders the exposition (Prometheus text format 0.0.4).
 * @returns the text, ending in a line feed
 */
export function renderMetrics(state: AdminState, process: ProcessFacts): string {
  const { metrics } = state;
  const reader = state.reader;
  const agencies = reader?.agencies ?? 0;
  const finished = reader?.finishedAgencies() ?? new Map<number, number>();
  const stats = reader?.syncStats() ?? { syncs: 0, batches: 0 };
  const transactions = metrics.transactions();
  const perAgency: Sample[] = [];
  if (reader !== undefined && agencies <= ADMIN_AGENCY_SERIES_MAX) {
    for (let agency = 1; agency <= agencies; agency += 1) {
      perAgency.push({ labels: { agency }, value: reader.betCount(agency) });
    }
  }
  const drawn = reader !== undefined && finished.size >= agencies;
  const phase = state.phase;
  const writer = new ExpositionWriter()
    .gauge("tp0_ready", "1 when the store is restored and the lottery port listens (/readyz)", [
      { value: phase === "ready" ? 1 : 0 },
    ])
    .gauge("tp0_bets_stored", "Bets in the store, all agencies (restored ones included)", [
      { value: reader === undefined ? 0 : totalBets(reader) },
    ])
    .gauge(
      "tp0_agency_bets_stored",
      `Bets in the store per agency (only while AGENCIES <= ${ADMIN_AGENCY_SERIES_MAX})`,
      perAgency,
    )
    .counter("tp0_batches_stored_total", "Batches written to the store since the start", [
      { value: stats.batches },
    ])
    .counter(
      "tp0_batches_duplicate_total",
      "Re-sent batches acknowledged again without being stored",
      [{ value: metrics.batchesDuplicate }],
    )
    .counter(
      "tp0_batches_refused_total",
      "Batches refused with a nack, by error code",
      _byKey(metrics.batchesRefused(), "code"),
    )
    .counter(
      "tp0_store_group_commits_total",
      "Group commits: one fdatasync of the bets file and one of the journal for many batches",
      [{ value: stats.syncs }],
    )
    .histogram(
      "tp0_store_fsync_duration_seconds",
      "Time of one fdatasync of a store file",
      (["bets", "journal"] as const).map((file) => ({
        labels: { file },
        snapshot: metrics.fsyncSeconds(file),
      })),
    )
    .counter(
      "tp0_store_transactions_total",
      "Group-commit transactions of the PostgreSQL store, by result",
      [
        { labels: { result: "committed" }, value: transactions.committed },
        { labels: { result: "failed" }, value: transactions.failed },
      ],
    )
    .histogram(
      "tp0_store_transaction_duration_seconds",
      "Time of one group-commit transaction of the PostgreSQL store",
      [{ snapshot: transactions.seconds }],
    )
    .gauge("tp0_store_queued_bytes", "Bytes of bet rows waiting for the disk", [
      { value: reader?.queuedBytes() ?? 0 },
    ])
    .gauge("tp0_connections_open", "Open connections on the lottery port (agencies and echo)", [
      { value: reader?.connectionsOpen() ?? 0 },
    ])
    .counter(
      "tp0_connections_refused_total",
      "Connections refused with an error frame and closed, by reason (error code)",
      _byKey(metrics.connectionsRefused(), "reason"),
    )
    .counter("tp0_received_bytes_total", "Bytes of agency frames received, headers included", [
      { value: metrics.bytesReceived },
    ])
    .counter("tp0_received_frames_total", "Agency frames received", [
      { value: metrics.framesReceived },
    ])
    .gauge("tp0_agencies", "Agencies that must finish before the draw (AGENCIES)", [
      { value: agencies },
    ])
    .gauge("tp0_agencies_connected", "Agencies with an open connection bound by hello", [
      { value: metrics.agencyConnections().size },
    ])
    .gauge("tp0_agencies_finished", "Agencies whose finished is durable", [
      { value: finished.size },
    ])
    .gauge("tp0_draw_state", "The draw's state: 1 for the current one; draw_id is DRAW_ID", [
      {
        labels: { state: "open", draw_id: reader?.drawId ?? "" },
        value: reader !== undefined && !drawn ? 1 : 0,
      },
      { labels: { state: "drawn", draw_id: reader?.drawId ?? "" }, value: drawn ? 1 : 0 },
    ])
    .gauge(
      "tp0_draw_timestamp_seconds",
      "When the draw happened in this process (absent before it, or when restored drawn)",
      metrics.drawAtMs === undefined ? [] : [{ value: metrics.drawAtMs / 1000 }],
    )
    .counter("tp0_winners_answers_total", "Winners answers sent to agencies", [
      { value: metrics.winnersAnswers },
    ])
    .gauge("tp0_admin_viewers", "Status page streams open", [{ value: process.viewers }])
    .counter(
      "tp0_admin_viewers_refused_total",
      "Status page streams refused because ADMIN_VIEWERS_MAX were open",
      [{ value: process.viewersRefused }],
    )
    .gauge("process_resident_memory_bytes", "Resident memory of the server process", [
      { value: process.memory.rss },
    ])
    .gauge("process_start_time_seconds", "When the server process started, since the epoch", [
      { value: process.startTimeSeconds },
    ])
    .gauge("tp0_heap_used_bytes", "V8 heap in use", [{ value: process.memory.heapUsed }])
    .gauge("tp0_heap_total_bytes", "V8 heap reserved", [{ value: process.memory.heapTotal }])
    .gauge("tp0_external_memory_bytes", "Memory outside the V8 heap (buffers)", [
      { value: process.memory.external },
    ]);
  return writer.text();
}
