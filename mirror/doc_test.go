package mirror

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/schemas"
)

// docQueries returns the example SQL statements of doc.go: the indented
// comment lines from one starting with SELECT to one ending with ";".
func docQueries(t *testing.T) []string {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur []string
	for _, line := range strings.Split(string(src), "\n") {
		text, ok := strings.CutPrefix(line, "//\t")
		if !ok {
			cur = nil
			continue
		}
		if cur == nil && !strings.HasPrefix(text, "SELECT") {
			continue
		}
		cur = append(cur, text)
		if strings.HasSuffix(text, ";") {
			out = append(out, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	return out
}

// TestDocQueries runs every example query of the package documentation on
// a mirror's tables and checks the available-to-promise one adds up.
func TestDocQueries(t *testing.T) {
	queries := docQueries(t)
	if len(queries) < 7 {
		t.Fatalf("found %d example queries in doc.go", len(queries))
	}
	forEachDB(t, func(t *testing.T, d testDB) {
		db := openTestDB(t, d)
		s := &store{db: db, now: time.Now}
		now := time.Now().UTC()
		if err := applyEvents(t, s, topicPartition{"e", 0}, 0,
			event("WH-001", "ITEM-12345", "A-05-02", schemas.EventInventoryReceipt, 95, 18, now),
			event("WH-001", "ITEM-12345", "B-01-01", schemas.EventInventoryReceipt, 5, 2, now.Add(-2*time.Hour))); err != nil {
			t.Fatal(err)
		}
		ran := 0
		for _, q := range queries {
			if strings.Contains(q, "strftime(") && d.name != "sqlite" || strings.Contains(q, "interval '") && d.name != "postgres" {
				continue
			}
			rows, err := db.db.Query(q)
			if err != nil {
				t.Fatalf("%s\n%v", q, err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("%s\n%v", q, err)
			}
			rows.Close()
			ran++
			switch {
			case strings.Contains(q, "SUM(on_hand)") && n != 1:
				t.Errorf("available to promise: %d rows, want 1", n)
			case strings.Contains(q, "1 hour") && n != 1:
				t.Errorf("changed in the last hour: %d rows, want 1:\n%s", n, q)
			}
		}
		if ran < 6 {
			t.Fatalf("ran %d queries", ran)
		}
		var onHand, available int64
		if err := db.db.QueryRow(queries[0]).Scan(new(string), new(string), &onHand, new(int64), &available); err != nil {
			t.Fatal(err)
		}
		if onHand != 100 || available != 100 {
			t.Fatalf("available to promise: onHand %d, available %d; want 100 and 100", onHand, available)
		}
	})
}
