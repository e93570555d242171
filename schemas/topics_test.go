package schemas

import (
	"bufio"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestTopicTable checks the table against itself, the schemas and Topics.
func TestTopicTable(t *testing.T) {
	table := TopicTable()
	seen := map[string]bool{}
	schemaRows := map[string]int{}
	for _, spec := range table {
		if spec.Suffix == "" || seen[spec.Suffix] {
			t.Errorf("topic %q: empty or listed twice", spec.Suffix)
		}
		seen[spec.Suffix] = true
		if spec.Key == "" || spec.Description == "" {
			t.Errorf("topic %s: no key or description", spec.Suffix)
		}
		if spec.Partitioning < PartitionSingle || spec.Partitioning > PartitionSpread {
			t.Errorf("topic %s: partitioning %d", spec.Suffix, spec.Partitioning)
		}
		if spec.Cleanup != CleanupDelete && spec.Cleanup != CleanupCompact {
			t.Errorf("topic %s: cleanup %d", spec.Suffix, spec.Cleanup)
		}
		if spec.Cleanup == CleanupCompact && spec.Retention != RetainBrokerDefault {
			t.Errorf("topic %s: compacted, so a retention does not apply", spec.Suffix)
		}
		if spec.Schema != "" {
			schemaRows[spec.Schema]++
		}
	}
	// Every schema is the value of exactly one topic, and every schema a
	// topic names exists.
	for _, d := range defs {
		if schemaRows[d.name] != 1 {
			t.Errorf("schema %s is the value of %d topics, want 1", d.name, schemaRows[d.name])
		}
		delete(schemaRows, d.name)
	}
	for name := range schemaRows {
		t.Errorf("the topic table names schema %q, which does not exist", name)
	}

	// The fields of Topics are the table's topics, no more, no fewer.
	topics := NewTopics("p.")
	var fields, rows []string
	v := reflect.ValueOf(topics)
	for i := range v.NumField() {
		if v.Type().Field(i).IsExported() {
			fields = append(fields, v.Field(i).String())
		}
	}
	for _, spec := range table {
		rows = append(rows, topics.Name(spec.Suffix))
	}
	slices.Sort(fields)
	slices.Sort(rows)
	if !slices.Equal(fields, rows) {
		t.Errorf("Topics fields %v\nbut the table has %v", fields, rows)
	}

	var aligned []string
	for _, spec := range table {
		if spec.Partitioning == PartitionAligned {
			aligned = append(aligned, "p."+spec.Suffix)
		}
	}
	if got := topics.Partitioned(); !slices.Equal(got, aligned) || !slices.Contains(got, topics.Transactions) {
		t.Errorf("Partitioned() = %v, want %v (with the transactions topic)", got, aligned)
	}
}

// TestREADMETopics holds the README's topic table to TopicTable, both ways:
// every row of one is a row of the other, with the same key, value,
// partitions and cleanup.
func TestREADMETopics(t *testing.T) {
	rows := readmeTopicRows(t, "../README.md")
	records := map[string]string{}
	for _, d := range defs {
		records[d.name] = d.record
	}
	for _, spec := range TopicTable() {
		row, ok := rows[spec.Suffix]
		if !ok {
			t.Errorf("README.md has no row for topic <prefix>%s", spec.Suffix)
			continue
		}
		delete(rows, spec.Suffix)
		if row.key != spec.Key {
			t.Errorf("README.md: %s is keyed by %q, the table says %q", spec.Suffix, row.key, spec.Key)
		}
		switch {
		case spec.Schema != "":
			if want := records[spec.Schema] + " (" + spec.Schema + ".avsc)"; row.value != want {
				t.Errorf("README.md: %s holds %q, the table says %q", spec.Suffix, row.value, want)
			}
		case strings.Contains(row.value, ".avsc"):
			t.Errorf("README.md: %s holds %q, but the table gives it no schema", spec.Suffix, row.value)
		}
		if want := readmePartitions(spec.Partitioning); row.partitions != want {
			t.Errorf("README.md: %s has partitions %q, the table says %q", spec.Suffix, row.partitions, want)
		}
		if want := readmeCleanup(spec); row.cleanup != want {
			t.Errorf("README.md: %s has cleanup %q, the table says %q", spec.Suffix, row.cleanup, want)
		}
	}
	for suffix := range rows {
		t.Errorf("README.md lists topic <prefix>%s, which is not in the table", suffix)
	}
}

// readmeRow is one row of the README's topic table, backticks removed.
type readmeRow struct{ key, value, partitions, cleanup string }

const readmeTopicHeader = "| topic | key | value | partitions | cleanup | notes |"

// readmeTopicRows reads the README's topic table, by topic suffix.
func readmeTopicRows(t *testing.T, path string) map[string]readmeRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string]readmeRow{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !in {
			in = line == readmeTopicHeader
			continue
		}
		if !strings.HasPrefix(line, "|") {
			break
		}
		if strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 6 {
			t.Fatalf("README.md topic row %q has %d cells, want 6", line, len(cells))
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(strings.ReplaceAll(cells[i], "`", ""))
		}
		suffix, ok := strings.CutPrefix(cells[0], "<prefix>")
		if !ok {
			t.Errorf("README.md topic row %q: the name does not start with <prefix>", line)
		}
		if _, dup := rows[suffix]; dup {
			t.Errorf("README.md lists topic %s twice", suffix)
		}
		rows[suffix] = readmeRow{key: cells[1], value: cells[2], partitions: cells[3], cleanup: cells[4]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !in || len(rows) == 0 {
		t.Fatalf("README.md has no topic table (a line %q followed by rows)", readmeTopicHeader)
	}
	return rows
}

// readmePartitions and readmeCleanup are how the README writes the
// properties (explained above its table).
func readmePartitions(p Partitioning) string {
	switch p {
	case PartitionSingle:
		return "1"
	case PartitionAligned:
		return "--partitions, aligned"
	case PartitionSpread:
		return "--partitions"
	}
	return "?"
}

func readmeCleanup(spec TopicSpec) string {
	switch {
	case spec.Cleanup == CleanupCompact:
		return "compact"
	case spec.Retention == RetainForever:
		return "delete, never"
	default:
		return "delete, broker default"
	}
}
