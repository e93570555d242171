// Package scanner is the device side of invsync: a durable queue of scans
// and the uploads that bring them to the server, for programs that act as a
// scanner (fixed-mount scanners, integrations, a fleet simulator). The
// `invsync scanner` command built on it is package scanner/cli.
//
// # Contract
//
// A scan gets its transactionId (a random UUID) and its device timestamp
// (Config.Now, or Scan.At) when it is queued, and is committed to the queue
// before anything else happens: before Scan returns, before any upload.
// Scans are uploaded with POST {URL}/v1/transactions?wait=applied and
// "Authorization: Bearer <token>", oldest first (in the order they were
// queued), at most 1000 a request and under 1 MiB a body. Each
// transaction's JSON is encoded once, at the scan, and stored: every resend
// carries the same bytes, so the server's idempotency check (over the
// transaction's fields and the scannerId) answers a resend `duplicate`.
// Only sentAt, the device clock when the request is sent, is new on each
// request (the server corrects clock skew with it).
//
// Per transaction:
//
//   - accepted, duplicate: synced. The scan moves to the history with the
//     server's outcome (applied, pending, held; resultingOnHand, version).
//   - rejected (INVALID_TRANSACTION, UNKNOWN_ITEM, IDEMPOTENCY_MISMATCH, …),
//     and accepted or duplicate with outcome "rejected" (VERSION_CONFLICT,
//     LOCATION_LOCKED: accepted but not applied): a rejection. It stays in
//     the queue, visible (Rejections), never resent, until the operator
//     dismisses it (Dismiss, DismissAll), corrects it (Correct: a new scan,
//     new transactionId, from corrected fields) or, for VERSION_CONFLICT,
//     retries it with the record's current version (RetryWithVersion).
//     Both replacements keep the original device timestamp: the physical
//     event did not move.
//   - a scan synced with outcome pending or held is asked about again
//     (GET /v1/transactions/{id}) every PollEvery for a day; a late
//     rejection becomes a rejection like the others.
//
// Whole requests: a network error, a timeout, a dropped connection, a 5xx,
// a 503, a 429 (its Retry-After honoured: nothing is sent before it), or a
// 200 without a readable results list leaves every scan of the request
// queued (nothing of it is assumed accepted) and it is resent. A 413 halves
// the batch. A 401 or 403 stops syncing (ErrTokenRefused) until SetToken
// or a reopen with another token. A 400 or another 4xx is a bug or a wrong
// URL (ErrRequestRefused): the scans stay queued and are resent.
//
// # Durability
//
// The queue is SQLite (modernc.org/sqlite, pure Go) in <DataDir>/scanner.db,
// journal_mode=WAL with synchronous=FULL: a commit is on disk (fsync) when
// Scan returns, so a queued scan survives kill -9 and power loss. The data
// directory is fsynced after the files are created. The schema is
// versioned (schema_migrations); a newer schema is refused (ErrNewerSchema).
// A crash at any moment leaves each scan either not queued (Scan did not
// return; the command did not acknowledge its line) or queued; a crash
// between the server writing a batch and the device recording the answer
// makes the resend `duplicate`. Results and the sync record of one answer
// are committed in one transaction. The data directory is bound to its
// scanner id while it holds scans (queued scans must be sent under the id
// they were hashed with; ErrScannerMismatch), and a syncing Device holds an
// flock on it (ErrLocked for a second one; the kernel drops it on kill -9).
//
// # Status
//
// Status is computed from the queue and the stored record of attempts, so
// `invsync scanner status` in another process agrees with the running one:
//
//   - red: a rejection waits for attention; or the server refused the token
//     (401/403: re-enrol, get a new token) or the request (400 and other
//     4xx); or the server has been reachable but every attempt for
//     RedAfter (5 minutes) failed (5xx, 429, timeouts after connecting),
//     counted from the first such failure since the last success;
//   - yellow: scans are queued, or the last attempt could not connect
//     (offline; never red however long: dead zones are expected), or the
//     server is failing for less than RedAfter;
//   - green: nothing queued, no rejection, and the last attempt (if any)
//     succeeded.
//
// Time comes from Config.Now, so tests need not wait five minutes.
//
// # Concurrency and costs
//
// A Device is safe for concurrent use; syncs of one Device run one at a
// time; Close waits for the methods in progress and aborts an upload in
// flight. Per Device: one SQLite connection (the database, WAL and
// shared-memory files: three descriptors; a page cache capped at 256 KiB),
// one database/sql goroutine, and, while Run runs, one goroutine and one
// timer, nothing per scan. One fsync per Scan call (ScanAll queues a burst
// with one) and one per answered request. Uploads go through
// Config.HTTPClient, by default one client shared by the process, so a
// simulator running a few hundred Devices (each with its own DataDir) has
// a few hundred goroutines and file-descriptor triples, and one connection
// pool. Run's waits are real time; only timestamps and the status read
// Config.Now.
//
// # The command
//
// `invsync scanner` (scanner/cli.Main) reads scans from standard input
// (one JSON transaction per line, without transactionId and timestamp),
// acknowledges each on standard output once it is durable, and syncs; status,
// rejections, dismiss, retry and correct serve the operator. `invsync
// scanner --help` documents flags, environment variables and exit codes.
package scanner
