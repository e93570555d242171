package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Latency histograms record microseconds from 1 µs to 60 s with three
// significant digits; longer latencies are clamped to 60 s (and counted).
const (
	histMin    = 1
	histMax    = int64(60 * time.Second / time.Microsecond)
	histDigits = 3
)

// maxPhases bounds the phases of one run (preload, latency, the rate
// steps, the backlog drain).
const maxPhases = 64

// phase tracks the transactions of one part of the run: which were sent,
// which events have been read, and their latencies. The consumer goroutine
// is the only one that records events; senders and the sampler read its
// counters.
type phase struct {
	id       int
	name     string
	nTx      int  // seq slots: requests × batch
	expected int  // transactions actually generated (≤ nTx)
	measure  bool // record latencies

	// gen appends the transactions of request req, intended to leave at
	// at; transaction k of it has seq req*batch+k.
	gen func(dst []scanTx, req int, at time.Time) []scanTx

	// Transaction seq belongs to request seq/batch, whose intended send
	// time is start + request*batch/rate seconds (all at start when rate
	// is 0). Times are nanoseconds since the run's epoch.
	start int64
	batch int
	rate  int

	// legs[seq] is the number of events still expected of a transaction:
	// set (1, or 2 for a MOVE) by the sender before the request leaves,
	// decremented by the consumer. nil means single-leg counting only
	// (the preload, where a slice per record would cost memory).
	legs []atomic.Int32

	sentTx     atomic.Int64 // in requests that were sent
	acceptedTx atomic.Int64 // accepted or duplicate
	rejectedTx atomic.Int64 // rejected by ingest: no event will come
	failedTx   atomic.Int64 // in failed requests (transport error or non-200)
	failedReq  atomic.Int64
	behind     atomic.Int64 // requests handed out late: every worker was busy
	maxLateNs  atomic.Int64 // the latest a request left after its intended time
	inflight   atomic.Int64 // requests sent and not yet answered

	seenTx     atomic.Int64 // transactions whose every event was read
	seenEv     atomic.Int64
	dupEv      atomic.Int64 // events beyond the expected (never, read_committed)
	unknownEv  atomic.Int64 // events naming a seq outside the phase
	lastSeenNs atomic.Int64

	mu       sync.Mutex
	hist     *hdrhistogram.Histogram
	clamped  int64
	errMu    sync.Mutex
	firstErr string
}

func newPhase(id int, name string, nTx, batch, rate int, start int64, measure, trackLegs bool) *phase {
	p := &phase{id: id, name: name, nTx: nTx, expected: nTx, batch: batch, rate: rate, start: start, measure: measure,
		hist: hdrhistogram.New(histMin, histMax, histDigits)}
	if trackLegs {
		p.legs = make([]atomic.Int32, nTx)
	}
	return p
}

// intended returns the intended send time of request req.
func (p *phase) intended(req int) int64 {
	if p.rate <= 0 {
		return p.start
	}
	return p.start + int64(req)*int64(p.batch)*int64(time.Second)/int64(p.rate)
}

// lost is the number of transactions no event will come for.
func (p *phase) lost() int64 { return p.rejectedTx.Load() + p.failedTx.Load() }

// done reports whether every transaction is accounted for: seen or lost.
func (p *phase) done() bool {
	return p.inflight.Load() == 0 && p.seenTx.Load()+p.lost() >= int64(p.expected)
}

func (p *phase) noteErr(format string, args ...any) {
	p.errMu.Lock()
	if p.firstErr == "" {
		p.firstErr = fmt.Sprintf(format, args...)
	}
	p.errMu.Unlock()
}

func (p *phase) error() string {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.firstErr
}

// onEvent records one event of transaction seq read at now.
func (p *phase) onEvent(seq int, now int64) {
	if seq < 0 || seq >= p.nTx {
		p.unknownEv.Add(1)
		return
	}
	p.seenEv.Add(1)
	p.lastSeenNs.Store(now)
	if p.legs == nil {
		p.complete(seq, now)
		return
	}
	switch v := p.legs[seq].Add(-1); {
	case v == 0:
		p.complete(seq, now)
	case v < 0:
		p.dupEv.Add(1)
	}
}

func (p *phase) complete(seq int, now int64) {
	p.seenTx.Add(1)
	if !p.measure {
		return
	}
	us := (now - p.intended(seq/p.batch)) / int64(time.Microsecond)
	p.mu.Lock()
	if us > histMax {
		us = histMax
		p.clamped++
	}
	_ = p.hist.RecordValue(max(us, histMin)) // in range by construction
	p.mu.Unlock()
}

// latency returns the percentiles of what was recorded so far.
func (p *phase) latency() Latency {
	p.mu.Lock()
	defer p.mu.Unlock()
	ms := func(us int64) float64 { return float64(us) / 1000 }
	h := p.hist
	return Latency{
		Count: h.TotalCount(),
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
	}
}

// parseEventID reads the eventId (the first field of the Avro payload of an
// inventory event in Confluent wire format) and, when it names a
// transaction of this run ("evt-" + prefix + "<phase>.<seq>", optionally
// followed by "-<leg>"), returns its phase and seq. Only the first field is
// read: decoding the whole event would cost the bench more CPU than the
// matching is worth.
func parseEventID(value []byte, prefix string) (phase, seq int, ok bool) {
	if len(value) < 6 || value[0] != 0 {
		return 0, 0, false
	}
	n, w := binary.Varint(value[5:]) // Avro longs are zig-zag varints
	if w <= 0 || n < 0 || int64(len(value)-5-w) < n {
		return 0, 0, false
	}
	id := value[5+w : 5+w+int(n)]
	const evt = "evt-"
	if len(id) < len(evt)+len(prefix) || string(id[:len(evt)]) != evt || string(id[len(evt):len(evt)+len(prefix)]) != prefix {
		return 0, 0, false
	}
	rest := id[len(evt)+len(prefix):]
	phase, rest, ok = leadingInt(rest)
	if !ok || len(rest) == 0 || rest[0] != '.' {
		return 0, 0, false
	}
	seq, rest, ok = leadingInt(rest[1:])
	if !ok {
		return 0, 0, false
	}
	if len(rest) > 0 { // "-<leg>"
		if rest[0] != '-' {
			return 0, 0, false
		}
		if _, tail, ok := leadingInt(rest[1:]); !ok || len(tail) != 0 {
			return 0, 0, false
		}
	}
	return phase, seq, true
}

// leadingInt parses the decimal digits b starts with.
func leadingInt(b []byte) (v int, rest []byte, ok bool) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' && i < 12 {
		v = v*10 + int(b[i]-'0')
		i++
	}
	return v, b[i:], i > 0
}

// eventReader is the run's one consumer of the events topic: read_committed,
// tuned for latency, starting at the end offsets taken before the run, so
// it sees only what the run caused (and whatever else is produced
// meanwhile, which it ignores).
type eventReader struct {
	cl     *kgo.Client
	prefix string // "bench.<run>."
	epoch  time.Time
	phases [maxPhases]atomic.Pointer[phase]

	foreign atomic.Int64 // events of other runs or other producers
	fetchMu sync.Mutex
	fetchEr string
}

func newEventReader(brokers []string, topic string, start map[int32]int64, prefix string, epoch time.Time) (*eventReader, error) {
	offsets := make(map[int32]kgo.Offset, len(start))
	for p, o := range start {
		offsets[p] = kgo.NewOffset().At(o)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(10*time.Millisecond), // franz-go's minimum
	)
	if err != nil {
		return nil, fmt.Errorf("creating events consumer: %w", err)
	}
	return &eventReader{cl: cl, prefix: prefix, epoch: epoch}, nil
}

func (r *eventReader) register(p *phase) { r.phases[p.id].Store(p) }

// run reads events until ctx ends.
func (r *eventReader) run(ctx context.Context) {
	for {
		fs := r.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		now := int64(time.Since(r.epoch))
		fs.EachError(func(t string, p int32, err error) {
			r.fetchMu.Lock()
			r.fetchEr = fmt.Sprintf("reading %s[%d]: %v", t, p, err)
			r.fetchMu.Unlock()
		})
		fs.EachRecord(func(rec *kgo.Record) {
			ph, seq, ok := parseEventID(rec.Value, r.prefix)
			if !ok || ph < 0 || ph >= maxPhases {
				r.foreign.Add(1)
				return
			}
			if p := r.phases[ph].Load(); p != nil {
				p.onEvent(seq, now)
			} else {
				r.foreign.Add(1)
			}
		})
	}
}

func (r *eventReader) close() { r.cl.Close() }
