package e2e

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/invsync/invsync/pipeline"
)

// chaosSnapshotInterval is the instances' --snapshot-interval in the chaos
// suite: short, so snapshot jobs run through the kills and pauses.
const chaosSnapshotInterval = 5 * time.Second

// verifySnapshots reads the position-snapshots topic (read_committed) and
// checks every part of a slot that ended before the read: each part (one
// snapshot id on one partition) holds as many records as its
// snapshot-records header says, every stock record once. A part published
// twice, or torn, fails it. It returns the parts checked.
func verifySnapshots(t *testing.T, brokers []string, prefix, registry string) int {
	t.Helper()
	before := time.Now().Add(-2 * chaosSnapshotInterval)
	recs := consumeUntilQuiet(t, brokers, prefix+"position-snapshots", 1, 3*time.Second, 2*time.Minute)
	type part struct {
		header int
		keys   map[string]int
	}
	parts := map[string]*part{}
	codecs := map[uint32]*goavro.Codec{}
	for _, r := range recs {
		if len(r.Value) < 5 || r.Value[0] != 0 {
			t.Fatalf("snapshot record %d/%d: not Confluent wire format", r.Partition, r.Offset)
		}
		id := binary.BigEndian.Uint32(r.Value[1:5])
		codec := codecs[id]
		if codec == nil {
			codec = schemaCodec(t, registry, id)
			codecs[id] = codec
		}
		native, _, err := codec.NativeFromBinary(r.Value[5:])
		if err != nil {
			t.Fatalf("snapshot record %d/%d: %v", r.Partition, r.Offset, err)
		}
		m := native.(map[string]any)
		snapID := m["snapshotId"].(string)
		slot, err := time.Parse(time.RFC3339Nano, snapID[len("snap-"):])
		if err != nil {
			t.Fatalf("snapshot id %q: %v", snapID, err)
		}
		if !slot.Before(before) {
			continue // a slot still being published when the read began
		}
		k := fmt.Sprintf("%s@%d", snapID, r.Partition)
		p := parts[k]
		if p == nil {
			p = &part{keys: map[string]int{}}
			parts[k] = p
		}
		for _, h := range r.Headers {
			if h.Key == pipeline.SnapshotRecordsHeader {
				p.header, _ = strconv.Atoi(string(h.Value))
			}
		}
		// A stock record is an item at a location in a lot (the Kafka
		// key, the stock key, is shared by a key's locations and lots).
		p.keys[fmt.Sprintf("%v|%v|%v", m["itemId"], m["locationId"], m["lotNumber"])]++
	}
	bad := 0
	for k, p := range parts {
		n := 0
		for key, c := range p.keys {
			n += c
			if c != 1 && bad < 5 {
				t.Errorf("snapshot part %s: %s published %d times", k, key, c)
			}
		}
		if n != p.header || len(p.keys) != n {
			bad++
			if bad <= 5 {
				t.Errorf("snapshot part %s: %d records (%d keys), header says %d", k, n, len(p.keys), p.header)
			}
		}
	}
	if len(parts) == 0 {
		t.Error("no snapshot part was published")
	}
	t.Logf("chaos: snapshot parts checked=%d bad=%d", len(parts), bad)
	return len(parts)
}

// schemaCodec fetches schema id from the registry endpoints.
func schemaCodec(t *testing.T, base string, id uint32) *goavro.Codec {
	t.Helper()
	var sch struct {
		Schema string `json:"schema"`
	}
	if code := do(t, "GET", fmt.Sprintf("%s/schemas/ids/%d", base, id), nil, &sch); code != 200 {
		t.Fatalf("GET /schemas/ids/%d: %d", id, code)
	}
	codec, err := goavro.NewCodec(sch.Schema)
	if err != nil {
		t.Fatalf("schema %d: %v", id, err)
	}
	return codec
}
