package mirror

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// rowsPerStatement bounds the rows of one multi-row INSERT: 500 rows of at
// most 15 columns stay far below both databases' parameter limits.
const rowsPerStatement = 500

// store writes batches and reads back what the mirror needs. Safe for
// concurrent use; concurrent batches must cover disjoint partitions.
type store struct {
	db  *database
	now func() time.Time
}

// apply writes b in one SQL transaction: the consumed offsets of its
// partitions, its rows and its dead letters commit together or not at all.
// Any error leaves the database as it was (the transaction is rolled back)
// and the batch must be fetched again from the stored offsets; it wraps
// ErrOffsetsMoved when another writer has applied these records already.
func (s *store) apply(ctx context.Context, b *batch) error {
	tx, err := s.db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op

	for _, tp := range sortedPartitions(b.offsets) {
		if err := s.advance(ctx, tx, tp, b.offsets[tp]); err != nil {
			return err
		}
	}
	if err := s.upsertPositions(ctx, tx, b.positions); err != nil {
		return err
	}
	if err := s.upsertAllocations(ctx, tx, b.allocations); err != nil {
		return err
	}
	if err := s.upsertDiscrepancies(ctx, tx, b.discrepancies); err != nil {
		return err
	}
	if err := s.insertDeadLetters(ctx, tx, b.deadLetters); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// advance moves a partition's stored offset to rg.next. The stored offset
// must not be past rg.first: if it is, another writer has applied these
// records, and so the batch is refused (ErrOffsetsMoved). It may be before
// rg.first: records of aborted transactions are never fetched.
func (s *store) advance(ctx context.Context, tx *sql.Tx, tp topicPartition, rg offsetRange) error {
	res, err := tx.ExecContext(ctx, `UPDATE consumed_offsets SET next_offset = $1
		WHERE topic = $2 AND "partition" = $3 AND next_offset <= $4`, rg.next, tp.Topic, tp.Partition, rg.first)
	if err != nil {
		return fmt.Errorf("advancing the offset of %s/%d: %w", tp.Topic, tp.Partition, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("advancing the offset of %s/%d: %w", tp.Topic, tp.Partition, err)
	} else if n == 1 {
		return nil
	}
	res, err = tx.ExecContext(ctx, `INSERT INTO consumed_offsets (topic, "partition", next_offset) VALUES ($1, $2, $3)
		ON CONFLICT (topic, "partition") DO NOTHING`, tp.Topic, tp.Partition, rg.next)
	if err != nil {
		return fmt.Errorf("storing the offset of %s/%d: %w", tp.Topic, tp.Partition, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("storing the offset of %s/%d: %w", tp.Topic, tp.Partition, err)
	} else if n == 0 {
		return fmt.Errorf("applying offsets %d..%d of %s/%d: %w", rg.first, rg.next-1, tp.Topic, tp.Partition, ErrOffsetsMoved)
	}
	return nil
}

// replaceOnConflict is the clause of an insert into a table whose first
// nKey columns are its primary key: a row whose key is already stored
// replaces every other column of it.
func replaceOnConflict(columns []string, nKey int) string {
	set := make([]string, 0, len(columns)-nKey)
	for _, c := range columns[nKey:] {
		set = append(set, c+" = excluded."+c)
	}
	return " ON CONFLICT (" + strings.Join(columns[:nKey], ", ") + ") DO UPDATE SET " + strings.Join(set, ", ")
}

// valuesByKey returns the values of m in the order of their keys.
func valuesByKey[K cmp.Ordered, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

var positionColumns = []string{"warehouse_id", "item_id", "location_id", "lot_number", "on_hand", "allocated", "available", "version", "updated_at"}

// upsertPositions writes each row unless the stored row is at a later
// version (or, for a normal event, the same one): positionRow.supersedes.
func (s *store) upsertPositions(ctx context.Context, tx *sql.Tx, rows map[positionKey]positionRow) error {
	var normal, corrections []positionRow
	for _, k := range slices.SortedFunc(maps.Keys(rows), comparePositionKeys) {
		if r := rows[k]; r.Correction {
			corrections = append(corrections, r)
		} else {
			normal = append(normal, r)
		}
	}
	set := replaceOnConflict(positionColumns, 4)
	for _, g := range []struct {
		rows  []positionRow
		where string
	}{
		{normal, ` WHERE positions.version < excluded.version`},
		{corrections, ` WHERE positions.version <= excluded.version`},
	} {
		err := insertChunks(ctx, tx, s.db.dialect, "positions", positionColumns, set+g.where, g.rows, func(r positionRow, args []any) []any {
			return append(args, r.WarehouseID, r.ItemID, r.LocationID, r.LotNumber,
				r.OnHand, r.Allocated, r.Available, r.Version, s.db.dialect.timestamp(r.UpdatedAt))
		})
		if err != nil {
			return fmt.Errorf("writing positions: %w", err)
		}
	}
	return nil
}

var allocationColumns = []string{"allocation_id", "order_id", "order_line", "warehouse_id", "item_id", "status",
	"requested_quantity", "confirmed_quantity", "backorder_quantity", "picked_quantity", "lines", "reason",
	"decision_id", "decision_sequence", "updated_at"}

// upsertAllocations writes each decision unless the stored one is of the
// same or a later sequence.
func (s *store) upsertAllocations(ctx context.Context, tx *sql.Tx, rows map[string]allocationRow) error {
	err := insertChunks(ctx, tx, s.db.dialect, "allocations", allocationColumns, replaceOnConflict(allocationColumns, 1)+`
		WHERE allocations.decision_sequence < excluded.decision_sequence`, valuesByKey(rows), func(r allocationRow, args []any) []any {
		return append(args, r.AllocationID, r.OrderID, r.OrderLine, r.WarehouseID, r.ItemID, r.Status,
			r.Requested, r.Confirmed, r.Backorder, r.Picked, r.LinesJSON, r.Reason,
			r.DecisionID, r.Sequence, s.db.dialect.timestamp(r.UpdatedAt))
	})
	if err != nil {
		return fmt.Errorf("writing allocations: %w", err)
	}
	return nil
}

var discrepancyColumns = []string{"discrepancy_id", "warehouse_id", "item_id", "location_id", "lot_number", "kind",
	"warehouse_on_hand", "warehouse_version", "cloud_on_hand", "cloud_version", "status", "assignee", "resolution",
	"opened_at", "updated_at"}

// upsertDiscrepancies writes each discrepancy unless the stored state is
// more recent.
func (s *store) upsertDiscrepancies(ctx context.Context, tx *sql.Tx, rows map[string]Discrepancy) error {
	err := insertChunks(ctx, tx, s.db.dialect, "discrepancies", discrepancyColumns, replaceOnConflict(discrepancyColumns, 1)+`
		WHERE discrepancies.updated_at <= excluded.updated_at`, valuesByKey(rows), func(d Discrepancy, args []any) []any {
		ts := s.db.dialect.timestamp
		return append(args, d.DiscrepancyID, d.WarehouseID, d.ItemID, d.LocationID, d.LotNumber, d.Kind,
			d.WarehouseOnHand, d.WarehouseVersion, d.CloudOnHand, d.CloudVersion, d.Status, d.Assignee, d.Resolution,
			ts(d.OpenedAt), ts(d.UpdatedAt))
	})
	if err != nil {
		return fmt.Errorf("writing discrepancies: %w", err)
	}
	return nil
}

var deadLetterColumns = []string{"topic", `"partition"`, `"offset"`, "error", "key", "value", "at"}

// insertDeadLetters records the records that did not decode. Their offsets
// are covered by the batch's, so each is written once; one already there
// (the offsets were rewound by hand to replay a partition) is kept as it
// was.
func (s *store) insertDeadLetters(ctx context.Context, tx *sql.Tx, rows []deadLetter) error {
	at := s.db.dialect.timestamp(s.now())
	err := insertChunks(ctx, tx, s.db.dialect, "dead_letters", deadLetterColumns, ` ON CONFLICT (topic, "partition", "offset") DO NOTHING`, rows, func(d deadLetter, args []any) []any {
		return append(args, d.Topic, d.Partition, d.Offset, d.Err, d.Key, d.Value, at)
	})
	if err != nil {
		return fmt.Errorf("writing dead letters: %w", err)
	}
	return nil
}

// insertChunks runs INSERT INTO table (columns) VALUES (...), (...) tail
// for rows, rowsPerStatement rows at a time; args appends one row's values.
func insertChunks[T any](ctx context.Context, tx *sql.Tx, d dialect, table string, columns []string, tail string, rows []T, args func(T, []any) []any) error {
	for start := 0; start < len(rows); start += rowsPerStatement {
		chunk := rows[start:min(start+rowsPerStatement, len(rows))]
		vals := make([]any, 0, len(chunk)*len(columns))
		for _, r := range chunk {
			vals = args(r, vals)
		}
		if _, err := tx.ExecContext(ctx, insertSQL(d.numbered, table, columns, len(chunk))+tail, vals...); err != nil {
			return err
		}
	}
	return nil
}

// insertSQL is INSERT INTO table (columns) VALUES ($1, ...), ... for n rows,
// or with ? placeholders when not numbered.
func insertSQL(numbered bool, table string, columns []string, n int) string {
	var b strings.Builder
	b.Grow(32 + 16*len(columns) + n*len(columns)*7)
	b.WriteString("INSERT INTO ")
	b.WriteString(table)
	b.WriteString(" (")
	b.WriteString(strings.Join(columns, ", "))
	b.WriteString(") VALUES ")
	p := 1
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range columns {
			if j > 0 {
				b.WriteString(", ")
			}
			if numbered {
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(p))
			} else {
				b.WriteByte('?')
			}
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// readOffsets returns the stored next offset of every partition consumed
// so far.
func (s *store) readOffsets(ctx context.Context) (map[topicPartition]int64, error) {
	return readConsumedOffsets(ctx, s.db.db, "reading consumed offsets")
}

// ConsumedOffsets reads, from a mirror's database (SQLite or PostgreSQL),
// the stored next offset of each partition of topic: every record before
// it is applied. A partition not consumed yet is absent. It only reads,
// so it may run beside the mirror that writes.
func ConsumedOffsets(ctx context.Context, db *sql.DB, topic string) (map[int32]int64, error) {
	stored, err := readConsumedOffsets(ctx, db, "reading the mirror's offsets")
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for tp, next := range stored {
		if tp.Topic == topic {
			out[tp.Partition] = next
		}
	}
	return out, nil
}

// readConsumedOffsets returns the stored next offset of every partition
// consumed so far; what says what the reading was for, in its errors.
func readConsumedOffsets(ctx context.Context, db *sql.DB, what string) (map[topicPartition]int64, error) {
	type stored struct {
		tp   topicPartition
		next int64
	}
	list, err := queryRows(ctx, db, what, `SELECT topic, "partition", next_offset FROM consumed_offsets`, nil,
		func(rows *sql.Rows) (o stored, err error) { return o, rows.Scan(&o.tp.Topic, &o.tp.Partition, &o.next) })
	if err != nil {
		return nil, err
	}
	out := make(map[topicPartition]int64, len(list))
	for _, o := range list {
		out[o.tp] = o.next
	}
	return out, nil
}

// queryRows runs query and returns scan's value of each row; what says
// what the query was for, in its errors.
func queryRows[T any](ctx context.Context, db *sql.DB, what, query string, args []any, scan func(*sql.Rows) (T, error)) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

func sortedPartitions[V any](m map[topicPartition]V) []topicPartition {
	return slices.SortedFunc(maps.Keys(m), func(a, b topicPartition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
}

func comparePositionKeys(a, b positionKey) int {
	return cmp.Or(cmp.Compare(a.WarehouseID, b.WarehouseID), cmp.Compare(a.ItemID, b.ItemID),
		cmp.Compare(a.LocationID, b.LocationID), cmp.Compare(a.LotNumber, b.LotNumber))
}
