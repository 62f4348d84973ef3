/**
 * Every bound of the system in one place. Each value says what it bounds and
 * why it has this size. Configurable limits name their config key; the values
 * here are their defaults and hard ceilings.
 */

/** Server-side cap on one frame's body (config FRAME_BYTES_MAX). 1 MiB holds
 * thousands of bets yet keeps a hostile length prefix from costing memory. */
export const FRAME_BYTES_MAX_DEFAULT = 1024 * 1024;

/** Hard ceiling for FRAME_BYTES_MAX: the body length field is a u32, and no
 * sane batch needs more than 64 MiB. */
export const FRAME_BYTES_MAX_CEILING = 64 * 1024 * 1024;

/** Client-side cap on one batch frame (header included). 8 KiB keeps each
 * frame inside a couple of TCP segments and below any server cap. */
export const CLIENT_FRAME_BYTES_MAX = 8 * 1024;

/** Bets per batch frame (client batch.maxAmount default). 100 bets of
 * realistic size (about 45 bytes, 80 with long names) fit in 8 KiB. */
export const BATCH_BETS_DEFAULT = 100;

/** Upper bound for batch.maxAmount: the bet count travels as a u16. */
export const BATCH_BETS_MAX = 65_535;

/** Unacknowledged batches a client keeps in flight (batch.window default).
 * Enough to cover a group commit (fdatasync) round trip at full speed; a
 * smaller or larger window uploads slower. The same as
 * CONNECTION_BATCHES_PENDING_MAX, so a whole window is read at once. */
export const BATCH_WINDOW_DEFAULT = 256;

/** Upper bound for batch.window: bounds client memory (window × 8 KiB). */
export const BATCH_WINDOW_MAX = 4096;

/** Client: acknowledged batch frames kept for reuse by later batches, so an
 * upload does not allocate (and leave to the garbage collector) a buffer per
 * batch; a default window's worth, at most 2 MiB of 8 KiB frames. */
export const CLIENT_SPARE_FRAMES_MAX = 256;

/** Client: frames at least this long are rounded up to it and reused; the
 * batches of one upload differ by a few bytes, so they fit each other's.
 * Shorter frames are allocated as they are: they cost little either way. */
export const CLIENT_FRAME_ROOM_BYTES = 1024;

/** Batches a server connection may have queued for the store before it stops
 * reading from that socket (backpressure per connection). */
export const CONNECTION_BATCHES_PENDING_MAX = 256;

/** Open connections the server serves at once (config CONNECTIONS_MAX);
 * beyond it a new connection gets an error frame and is closed. Holds the
 * benchmark's 10,000 agencies at once with room for echo checks and
 * reconnects. Each connection costs one file descriptor (the server caps it
 * below its open-file limit, see OPEN_FILES_RESERVED) and, waiting, about
 * 12 KB of server memory, so the cap's worst case is about 200 MB. */
export const CONNECTIONS_MAX_DEFAULT = 16_384;

/** File descriptors the server keeps for itself beside its connections:
 * stdio, the listeners (plain, TLS, admin), the admin port's viewers
 * (ADMIN_VIEWERS_MAX) and scrapes, the store's files, and Deno's own (epoll,
 * eventfds, threads). When CONNECTIONS_MAX plus this exceeds the process's
 * soft open-file limit (RLIMIT_NOFILE, which Deno raises to the hard limit
 * at start), the server logs a warning and caps connections at the limit
 * minus this, so one connection too many is refused with
 * tooManyConnections instead of failing accept with EMFILE (which fails
 * again at once while the connection waits in the queue). Compose and
 * stack files set the server's nofile to CONNECTIONS_MAX_DEFAULT plus this. */
export const OPEN_FILES_RESERVED = 128;

/** A connection that completes no message (frame or echo line) for this long
 * is closed (IDLE_TIMEOUT), so a peer trickling bytes (slowloris) cannot keep
 * a slot. Winners queries waiting for the draw are not idle. */
export const IDLE_TIMEOUT_MS_DEFAULT = 30_000;

/** How long the error frame sent right before a close (idleTimeout,
 * tooManyConnections, shuttingDown at accept) may take to write before the
 * connection is closed anyway: a peer that reads nothing would otherwise
 * hold the write, and the close behind it, for ever. */
export const ERROR_REPLY_WAIT_MS = 1_000;

/** How long shutdown waits for in-flight batches (SHUTDOWN_GRACE). Below
 * Docker's default `stop -t 10`, so the process exits before SIGKILL. */
export const SHUTDOWN_GRACE_MS_DEFAULT = 5_000;

/** At shutdown, an agency with no batch at the store is told shuttingDown
 * and closed once no frame came from it for this long: an honest agency
 * closes on the refusal first, a peer parking a partial frame or silent
 * costs the shutdown this, not SHUTDOWN_GRACE. Long enough for frames
 * already on the wire (a window of 256 × 8 KiB, 2 MiB) to be read and
 * refused. */
export const SHUTDOWN_QUIET_MS = 100;

/** Longest echo line the health check accepts before closing the session. */
export const ECHO_LINE_BYTES_MAX = 64 * 1024;

/** Batches the store writes in one group commit (one fdatasync). */
export const GROUP_COMMIT_BATCHES_MAX = 4096;

/** Bytes the store writes in one group commit, to bound its buffer. */
export const GROUP_COMMIT_BYTES_MAX = 16 * 1024 * 1024;

/** The store's staging buffer: a group's rows (up to GROUP_COMMIT_BYTES_MAX)
 * go to the bets file in writes of this size, not joined into one array. */
export const STORE_WRITE_STAGING_BYTES = 1024 * 1024;

/** Rows waiting for the disk, all connections together: above it a session
 * reads no further frame until the writer catches up (TCP backpressure), so
 * many agencies with full windows cannot grow the server without bound. At
 * most one batch per connection more than this can be waiting. The store
 * keeps these rows in one ring of this size (store/row_ring.ts; rows beyond
 * it get buffers of their own). Five full windows of 256 batches fit; a
 * smaller queue slows five agencies down, a larger one costs memory with
 * many agencies for little throughput. */
export const STORE_QUEUE_BYTES_MAX = 8 * 1024 * 1024;

/** PostgreSQL store: connections of a server process's pool: one runs the
 * group-commit transactions, the rest serve hellos' claims and reads
 * meanwhile. Listening for other replicas takes one more of its own. */
export const PG_CONNECTIONS_MAX = 4;

/** PostgreSQL store: rows one transaction copies in at most. Each group is
 * encoded whole before it is sent, so a group of the file store's size
 * would cost the server tens of MB more. */
export const PG_GROUP_BYTES_MAX = 2 * 1024 * 1024;

/** PostgreSQL store: bound on establishing one database connection, in seconds. */
export const PG_CONNECT_TIMEOUT_S = 10;

/** PostgreSQL store: how long a starting server retries reaching the
 * database (it may start with it, as in compose) before exiting. */
export const PG_START_RETRY_MS = 60_000;

/** PostgreSQL store: how long /readyz waits for the database's answer
 * before it says the central is not ready. */
export const PG_HEALTH_TIMEOUT_MS = 2_000;

/** PostgreSQL store: how often a replica asks whether another one made the
 * draw, besides the notification it listens for (which a lost connection
 * can miss). */
export const PG_DRAW_POLL_MS = 1_000;

/** A connection reader's first buffer: a hello (at most 9 + 4 + 1 + 255
 * bytes with a secret) fits, and so does the byte the server peeks at to
 * tell an agency from an echo check. A reader goes back to it before waiting
 * on an empty buffer for a peer that may stay silent (an agency waiting for
 * the draw), so 10,000 waiting agencies hold 10 MB of buffers, not 160 MB. */
export const READ_BUFFER_FIRST_BYTES = 1024;

/** Up to this size a reader's buffer grows without asking the read budget:
 * two 8 KiB batch frames (CLIENT_FRAME_BYTES_MAX), so an uploading agency
 * never reserves. Agencies uploading at once each hold this much; idle ones
 * shrink back to READ_BUFFER_FIRST_BYTES. */
export const READ_BUFFER_FREE_BYTES = 16 * 1024;

/** Bytes the server's connection readers hold beyond READ_BUFFER_FREE_BYTES
 * each, all connections together: a reader reserves from it before it
 * grows for a frame (or echo line) larger than its buffer, and waits while it
 * is spent (TCP backpressure), then shrinks back and releases once the frame
 * is consumed. Honest agencies send 8 KiB frames (CLIENT_FRAME_BYTES_MAX) and
 * never reserve. Without it, peers parking maximal frames grow the server by
 * a frame each, for good; 8 MiB reads 8 maximal frames at once and keeps
 * the server's memory bounded (tests/faults/parked_frames_and_shutdown_test.ts). */
export const READ_BUFFERS_BYTES_MAX = 8 * 1024 * 1024;

/** Highest agency number; agency ids travel as u32 but AGENCIES caps them. */
export const AGENCIES_MAX = 100_000;

/** Longest UTF-8 encoding of a name field (u8 length on the wire). */
export const NAME_BYTES_MAX = 255;

/** Longest document number (DNI) in digits. */
export const DOCUMENT_DIGITS_MAX = 12;

/** Client: total time spent reconnecting before giving up. */
export const RECONNECT_BUDGET_MS_DEFAULT = 30_000;

/** Client, and a server waiting for its database: first and largest pause
 * between connection attempts (runtime/retry_backoff.ts). */
export const RECONNECT_DELAY_MS_MIN = 50;
export const RECONNECT_DELAY_MS_MAX = 2_000;

/** Client: an INFO progress line at least this often during uploads. */
export const PROGRESS_INTERVAL_MS = 2_000;

/** Largest error text carried in a frame. */
export const ERROR_TEXT_BYTES_MAX = 1024;

/** Longest agency secret in UTF-8 bytes: it travels with a u8 length prefix
 * in hello (server SECRETS_FILE, client `secret`). */
export const SECRET_BYTES_MAX = 255;

/** Longest line of an agency file or of the store's bets file: four text
 * fields at NAME_BYTES_MAX with every quote doubled, plus the number, the
 * commas and the agency column. A longer line is refused, not buffered. */
export const AGENCY_LINE_BYTES_MAX = 4 * (2 * NAME_BYTES_MAX + 2) + 64;

/** Client (lottery mode): largest frame it reads from the server. A winners
 * answer lists every winning document of the agency, so it can be long. */
export const UPLOAD_REPLY_BYTES_MAX = 64 * 1024 * 1024;

/** Client (bet mode): largest frame it reads; only helloAck, batchAck or a
 * refusal can come back. */
export const SINGLE_BET_REPLY_BYTES_MAX = 64 * 1024;

/** Client: bytes read from the agency file at a time. 256 KiB costs the
 * client the least CPU: smaller chunks mean more reads, larger ones send
 * batches in bigger bursts and hold more memory. */
export const FILE_CHUNK_BYTES = 256 * 1024;

/** Highest TCP port (SERVER_PORT, server.address). */
export const PORT_MAX = 65_535;

/** Kernel accept queue (SERVER_LISTEN_BACKLOG) default and bounds; Linux
 * caps it at net.core.somaxconn anyway. */
export const LISTEN_BACKLOG_DEFAULT = 511;
export const LISTEN_BACKLOG_MAX = 65_535;

/** Agencies that must finish before the draw (AGENCIES), by default: the
 * exercise's five. */
export const AGENCIES_DEFAULT = 5;

/** Smallest FRAME_BYTES_MAX: below 1 KiB a batch of one long bet would not fit. */
export const FRAME_BYTES_MAX_FLOOR = 1024;

/** Ceiling of CONNECTIONS_MAX: each connection costs a file descriptor and
 * a reader buffer. */
export const CONNECTIONS_MAX_CEILING = 1_000_000;

/** Ceiling of IDLE_TIMEOUT, loop.period and reconnect.budget: one hour;
 * longer is a typo, not a setting. */
export const CONFIG_DURATION_MS_MAX = 3_600_000;

/** Ceiling of SHUTDOWN_GRACE: ten minutes. */
export const SHUTDOWN_GRACE_MS_MAX = 600_000;

/** Echo mode (loop.amount): messages by default, and at most. */
export const LOOP_AMOUNT_DEFAULT = 5;
export const LOOP_AMOUNT_MAX = 1_000_000;

/** Longest draw id (DRAW_ID): it names the draw's folder in the storage
 * volume and travels as s8 in helloAck. */
export const DRAW_ID_BYTES_MAX = 64;

/** Stored-prefix digests a helloAck carries at most, so a client whose file
 * does not match the stored bets can say where they part; 256 of them cost
 * 2 KiB per hello. */
export const HELLO_CHECKPOINTS_MAX = 256;

/** Admin port: status page viewers (Server-Sent Events streams) open at
 * once; beyond it a viewer gets 503. Each costs one snapshot serialization
 * per push; 16 operators watching one draw is plenty, and the bound keeps a
 * tab reopened in a loop from growing the server. */
export const ADMIN_VIEWERS_MAX = 16;

/** Admin port: how often the status is sampled (throughput history, upload
 * rates) and pushed to the viewers. One second is as fast as a person reads
 * a number change, and costs one pass over the agencies per second. */
export const ADMIN_PUSH_INTERVAL_MS = 1_000;

/** Admin port: throughput samples kept for the chart: 5 minutes at one per
 * ADMIN_PUSH_INTERVAL_MS, enough to see a whole five-agency upload and the draw,
 * and 300 points of about 20 bytes each per push. */
export const ADMIN_HISTORY_SAMPLES_MAX = 300;

/** Admin port: last refusals (refused batches and connections) kept for the
 * page, newest first. A hostile peer can refuse thousands a second; the page
 * needs the latest few with their reasons, not all of them. */
export const ADMIN_REFUSALS_KEPT = 20;

/** Admin port: agency rows in one page push (all rows, the slowest ones, or
 * one page of them): 50 rows fit one screen, and 1,000 agencies stay
 * readable as a summary plus the slowest 50. */
export const ADMIN_PAGE_ROWS_MAX = 50;

/** Admin port: agencies with their own `agency` label in /metrics. Each is a
 * Prometheus series; above this many (AGENCIES goes up to 100,000) only the
 * totals are exposed, so a scrape stays small. */
export const ADMIN_AGENCY_SERIES_MAX = 1_000;

/** Admin port: longest ADMIN_TOKEN in bytes; it is compared in constant time
 * over digests, so only the request line's size bounds it. */
export const ADMIN_TOKEN_BYTES_MAX = 256;

/** Admin port: how long open status streams get to end at shutdown before
 * the HTTP server stops waiting for them. */
export const ADMIN_CLOSE_WAIT_MS = 1_000;

/** Server, TLS port: decrypted bytes one connection holds before its socket
 * is paused until the session reads them. On the plain port the kernel's
 * socket buffer bounds this; 256 KiB is 32 batches of at most 8 KiB (an
 * eighth of the default window): a peer that sends more than that before
 * the session reads is paused until it does. */
export const TLS_READ_BUFFER_BYTES_MAX = 256 * 1024;

/** Longest PEM file (certificate, key or CA bundle) read for TLS: a chain of
 * a few certificates is a few KiB; more is the wrong file. */
export const TLS_PEM_BYTES_MAX = 1024 * 1024;

/** Swarm stack: most server replicas `--replicas` takes with the PostgreSQL
 * store. Each keeps a pool of database connections (PostgreSQL's default
 * max_connections is 100) and a Deno process of about 40 MB; 16 is already
 * more fronts than one bundled database serves. */
export const SERVER_REPLICAS_MAX = 16;
