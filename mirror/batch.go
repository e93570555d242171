package mirror

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// batch is the records of one SQL transaction, folded: at most one row per
// key (the one that wins under the tables' rules, so applying the batch's
// rows equals applying its records one by one), the dead letters, and for
// every partition the offsets the batch covers.
type batch struct {
	positions     map[positionKey]positionRow
	allocations   map[string]allocationRow
	discrepancies map[string]Discrepancy
	deadLetters   []deadLetter
	offsets       map[topicPartition]offsetRange
	// records counts the data records (control records excluded) per topic.
	records map[string]int
	total   int
	// events are the inventory events applied, for their traces and
	// latencies. The events decoder sets eventDecoded and eventScanned
	// (the corrected scan time, zero when no scan is behind the event)
	// for add.
	events       []eventTrace
	eventDecoded bool
	eventScanned time.Time
}

// offsetRange is the part of a partition a batch covers: from its first
// record's offset to the offset after its last one.
type offsetRange struct{ first, next int64 }

func newBatch() *batch {
	return &batch{
		positions:     map[positionKey]positionRow{},
		allocations:   map[string]allocationRow{},
		discrepancies: map[string]Discrepancy{},
		offsets:       map[topicPartition]offsetRange{},
		records:       map[string]int{},
	}
}

// add folds one fetched record into b. Control records (transaction
// markers) only move the partition's offset; a record that does not decode
// becomes a dead letter. Records of a partition must come in offset order.
func (b *batch) add(r *kgo.Record, dec *decoders) {
	tp := topicPartition{r.Topic, r.Partition}
	if rg, ok := b.offsets[tp]; ok {
		rg.next = r.Offset + 1
		b.offsets[tp] = rg
	} else {
		b.offsets[tp] = offsetRange{first: r.Offset, next: r.Offset + 1}
	}
	if r.Attrs.IsControl() {
		return
	}
	b.records[r.Topic]++
	b.total++
	b.eventDecoded, b.eventScanned = false, time.Time{}
	if err := dec.decode(r.Topic, r.Value, b); err != nil {
		b.deadLetters = append(b.deadLetters, deadLetter{
			Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
			Err: sanitizeText(err.Error()), Key: r.Key, Value: r.Value,
		})
		return
	}
	if b.eventDecoded {
		b.events = append(b.events, newEventTrace(r, b.eventScanned))
	}
}

func (b *batch) addPosition(p positionRow) {
	if cur, ok := b.positions[p.positionKey]; ok && !p.supersedes(cur) {
		return
	}
	b.positions[p.positionKey] = p
}

// addAllocation keeps the decision of the highest sequence; a decision of
// an equal sequence (a replay) replaces it with the same content.
func (b *batch) addAllocation(a allocationRow) {
	if cur, ok := b.allocations[a.AllocationID]; ok && a.Sequence < cur.Sequence {
		return
	}
	b.allocations[a.AllocationID] = a
}

// addDiscrepancy keeps the latest state of a discrepancy by UpdatedAt (by
// log order among equal times).
func (b *batch) addDiscrepancy(d Discrepancy) {
	if cur, ok := b.discrepancies[d.DiscrepancyID]; ok && d.UpdatedAt.Before(cur.UpdatedAt) {
		return
	}
	b.discrepancies[d.DiscrepancyID] = d
}

func (b *batch) empty() bool { return len(b.offsets) == 0 }
