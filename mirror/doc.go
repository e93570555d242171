// Package mirror keeps an SQL copy of invsync's positions, allocations and
// discrepancies, exactly once, in SQLite (the default) or PostgreSQL, and
// reports the positions back for reconciliation. It is what `invsync
// mirror` runs, and the reference for any consumer of the topics.
//
// # How it reads
//
// It reads <prefix>inventory-events, <prefix>allocation-decisions and
// <prefix>discrepancies, with isolation level read_committed (records of
// aborted Kafka transactions are never seen). It uses no consumer group: it
// assigns itself every partition of those topics, starting each from the
// offset stored in its own database (the start of the log for a partition
// never consumed), and picks up topics and partitions created later.
//
// Partitions are applied in parallel by Config.Workers goroutines, each
// owning a fixed share of them. A worker applies a batch of records (up to
// Config.BatchRecords) in ONE SQL transaction that also moves the batch's
// partitions in consumed_offsets, so the rows and the offsets they reflect
// commit together: after a crash at any moment (kill -9 included) the
// database holds exactly the records below its stored offsets, and
// consumption resumes from there. A batch whose partitions' stored offsets
// have moved past it (a second mirror writing to the same database) is
// refused whole. Transaction markers move a partition's stored offset too,
// so a mirror that has caught up stores exactly the partitions' ends.
//
// # Rules
//
// A positions row only moves forward in version: an event whose version is
// not above the row's changes nothing, so duplicates, replays and older
// events leave the table right. An event of type ReconciliationCorrection
// (the warehouse's onHand and version, published by reconciliation for a
// record found out of line) also replaces a row of its own version: equal
// version with a different onHand is the MISMATCH it repairs. An
// allocations row moves forward in its decision sequence (decisionId is
// dec-<allocationId>-<sequence>), a discrepancies row in updated_at.
//
// Because every table is idempotent this way, a partition can be replayed
// by lowering its next_offset by hand (while no mirror runs): the tables end
// as they were. To rebuild from scratch, empty the tables and
// consumed_offsets together.
//
// A record that does not decode (not Avro in the wire format, an unknown or
// wrong schema id, a malformed payload, or a value the database cannot
// store: a NUL character in text, a time outside the years 1 to 9999) is
// written to dead_letters with its topic, partition, offset and the error,
// in the same transaction that moves its offset past it; the mirror goes on.
//
// When the database fails, consumption stops: the batch in hand is
// dropped, no offset moves, and the mirror says so in the log, probes the
// database with backoff (up to Config.MaxBackoff), and once it answers
// resumes from the stored offsets. Kafka failures are retried the same way.
//
// While it catches up it logs a progress line (records applied, lag, rate)
// every Config.ProgressInterval, and one when it has caught up. Metrics
// (OpenTelemetry, through Config.Meter): invsync.mirror.records (by topic
// and outcome applied or dead_letter), invsync.mirror.lag (records not yet
// applied, by topic), invsync.mirror.caught_up, invsync.mirror.batch.duration,
// invsync.mirror.failures (by cause), invsync.mirror.reports (by outcome).
//
// # Reports
//
// With Config.URL and Config.Token (a token of role cloud), once it has
// caught up and then every Config.ReportInterval, it posts each
// warehouse's positions to POST {URL}/v1/reconciliation/reports as
// {"reportId": "mirror-<warehouse>-<RFC 3339 time>", "warehouseId",
// "complete": true, "positions": [{"itemId", "locationId", "lotNumber",
// "onHand", "version"}]}. A warehouse of more than 5,000 positions is sent
// in pages cut at item boundaries (reportId suffixed -p1, -p2, ...), each
// with "complete": true and "itemRange": {"from", "to"}, its first and last
// itemId (inclusive, byte order), so completeness holds for the items in
// that range. An item with more than 5,000 positions on its own is sent in
// chunks marked "complete": false. The answer (compared, agreed, behind,
// discrepancies) is logged.
//
// # Tables
//
// Created and migrated by the mirror itself (schema_migrations records the
// numbered migrations applied). Times are TIMESTAMPTZ in PostgreSQL and,
// in SQLite, UTC text of fixed width ("2026-11-26T10:30:00.200Z"), which
// sorts as time and which SQLite's date functions read.
//
// positions: one row per stock record, keyed by the first four columns.
//
//	warehouse_id, item_id, location_id  text
//	lot_number                          text, '' when the item is not lot-tracked
//	on_hand, allocated, available       bigint (available = on_hand - allocated)
//	version                             bigint, the stock record's version
//	updated_at                          when the warehouse applied the change
//
// allocations: one row per allocation, in its latest decided state.
//
//	allocation_id                       text, key
//	order_id, order_line                text, integer
//	warehouse_id, item_id               text
//	status                              TENTATIVE, CONFIRMED, PARTIAL, REJECTED, CANCELLED, FULFILLED, EXPIRED
//	requested_quantity, confirmed_quantity, backorder_quantity, picked_quantity   bigint
//	lines                               JSON text: [{"locationId", "lotNumber", "quantity"}]
//	reason                              text or NULL
//	decision_id, decision_sequence      the decision this row reflects
//	updated_at                          when that decision was made
//
// discrepancies: one row per reconciliation finding, in its latest state.
//
//	discrepancy_id                      text, key
//	warehouse_id, item_id, location_id, lot_number   text
//	kind                                MISMATCH, MISSING_IN_CLOUD, STALE, AHEAD, UNKNOWN_TO_WAREHOUSE
//	warehouse_on_hand, warehouse_version, cloud_on_hand, cloud_version   bigint or NULL
//	status                              OPEN, INVESTIGATING, RESOLVED
//	assignee, resolution                text or NULL
//	opened_at, updated_at
//
// dead_letters: records that could not be applied, keyed by the first three.
//
//	topic, "partition", "offset"        where the record is
//	error                               why it was not applied
//	key, value                          the record's bytes (BLOB / BYTEA)
//	at                                  when it was written here
//
// consumed_offsets: the next offset to read of every partition consumed.
//
//	topic, "partition", next_offset
//
// "partition" and "offset" are keywords: quote them in SQL.
//
// # Example queries
//
// Available to promise per warehouse and item:
//
//	SELECT warehouse_id, item_id, SUM(on_hand) AS on_hand,
//	       SUM(allocated) AS allocated, SUM(available) AS available
//	FROM positions
//	GROUP BY warehouse_id, item_id
//	ORDER BY warehouse_id, item_id;
//
// Positions changed in the last hour (PostgreSQL, then SQLite):
//
//	SELECT * FROM positions WHERE updated_at > now() - interval '1 hour' ORDER BY updated_at DESC;
//	SELECT * FROM positions WHERE updated_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hour') ORDER BY updated_at DESC;
//
// Open allocations of an item, with what they hold:
//
//	SELECT allocation_id, order_id, status, confirmed_quantity, lines
//	FROM allocations
//	WHERE warehouse_id = 'WH-001' AND item_id = 'ITEM-12345' AND status IN ('CONFIRMED', 'PARTIAL');
//
// Unresolved discrepancies per warehouse and kind:
//
//	SELECT warehouse_id, kind, COUNT(*) FROM discrepancies WHERE status <> 'RESOLVED' GROUP BY warehouse_id, kind;
//
// How far the mirror has read, and what it could not apply:
//
//	SELECT topic, "partition", next_offset FROM consumed_offsets ORDER BY topic, "partition";
//	SELECT topic, "partition", "offset", error, at FROM dead_letters ORDER BY at DESC LIMIT 20;
package mirror
