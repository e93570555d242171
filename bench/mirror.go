package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/mirror"
	"github.com/invsync/invsync/schemas"
)

// DefaultMirrorPoll is how often MirrorWatch reads the mirror's stored
// offsets: the resolution of the lag it measures.
const DefaultMirrorPoll = 10 * time.Millisecond

// MirrorConfig configures a mirror run alongside the load, to measure how
// far behind the topics its SQL copy stays (StartMirror).
type MirrorConfig struct {
	// Database is where the mirror writes: "sqlite" (a file in a temporary
	// directory), "sqlite://<path>" (a file that must not hold a mirror
	// yet), or "postgres://..." (a schema of its own is created in that
	// database and dropped at Stop).
	Database string
	// Brokers, KafkaOpts and TopicPrefix locate the service's topics.
	Brokers     []string
	KafkaOpts   []kgo.Opt
	TopicPrefix string
	// Workers is passed to the mirror (0: its default).
	Workers int
	// Poll is how often the stored offsets are read (default
	// DefaultMirrorPoll).
	Poll time.Duration
	// Logger receives the mirror's log (default: warnings to stderr).
	Logger *slog.Logger
}

// MirrorLag is what a MirrorWatch measured: for each event produced while
// it ran, the time from the moment a read_committed consumer could read
// it to the moment the mirror's database had applied it (its partition's
// stored next_offset past it, as a poll every PollMs saw it), and, sampled
// at each poll, how many records the database was behind the topic as that
// consumer had read it. The figures are per phase of the bench run (the
// phase of the transaction whose event it is) and for the whole run.
type MirrorLag struct {
	Database string  `json:"database"` // sqlite or postgres
	Workers  int     `json:"workers"`
	PollMs   float64 `json:"poll_ms"`
	// Events is the number of events whose lag was measured; Unapplied
	// those still not applied when the watch stopped (after waiting for
	// them).
	Events    int64         `json:"events"`
	Unapplied int64         `json:"unapplied"`
	All       MirrorPhase   `json:"all"`
	Phases    []MirrorPhase `json:"phases"`
	Err       string        `json:"error,omitempty"`
}

// MirrorPhase is the mirror's lag during one phase of the run.
type MirrorPhase struct {
	Name string `json:"name"`
	// Lag is readable on the topic → applied in SQL.
	Lag Latency `json:"lag"`
	// SinceTimestamp is the event record's timestamp (set by the
	// processor when it produced it, before its Kafka transaction
	// committed) → applied in SQL.
	SinceTimestamp Latency `json:"since_timestamp"`
	// Behind is the records the database was behind, sampled at each poll.
	BehindP50 int64 `json:"behind_p50"`
	BehindP99 int64 `json:"behind_p99"`
	BehindMax int64 `json:"behind_max"`
}

// MirrorWatch is a mirror running into a database, and the watch on it.
type MirrorWatch struct {
	cfg   MirrorConfig
	m     *mirror.Mirror
	db    *mirrorDB
	topic string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	runErr error

	mu      sync.Mutex
	pending map[int32][]pendingEvent // by partition, in offset order
	read    map[int32]int64          // next offset after the last read
	applied map[int32]int64          // stored next_offset, as last polled
	phase   int                      // phase of the last bench event read
	benchAt time.Time                // when the last bench event was read
	stats   [maxPhases + 1]*lagStats // by phase; [maxPhases] is every event
}

type pendingEvent struct {
	offset int64
	phase  int // -1: not an event of a bench transaction
	readAt time.Time
	stamp  time.Time
}

type lagStats struct {
	lag, stamp, behind *hdrhistogram.Histogram
}

func newLagStats() *lagStats {
	return &lagStats{lag: hdrhistogram.New(histMin, histMax, histDigits), stamp: hdrhistogram.New(histMin, histMax, histDigits),
		behind: hdrhistogram.New(0, 1<<40, histDigits)}
}

// StartMirror starts a mirror of cfg.TopicPrefix's topics into a fresh
// database, and a watch of its lag: a read_committed consumer of the
// events topic from its current end, and a poll of the database's
// consumed_offsets. Stop ends both and returns the figures.
func StartMirror(ctx context.Context, cfg MirrorConfig) (*MirrorWatch, error) {
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultMirrorPoll
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = DefaultTopicPrefix
	}
	db, err := openMirrorDB(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	w := &MirrorWatch{cfg: cfg, db: db, topic: schemas.NewTopics(cfg.TopicPrefix).InventoryEvents,
		pending: map[int32][]pendingEvent{}, read: map[int32]int64{}, applied: map[int32]int64{}, phase: -1}
	for i := range w.stats {
		w.stats[i] = newLagStats()
	}
	fail := func(err error) (*MirrorWatch, error) {
		if w.m != nil {
			_ = w.m.Close()
		}
		db.close()
		return nil, err
	}
	w.m, err = mirror.New(mirror.Config{Brokers: cfg.Brokers, KafkaOpts: cfg.KafkaOpts, TopicPrefix: cfg.TopicPrefix,
		SQLURL: db.url, Workers: cfg.Workers, Logger: cfg.Logger})
	if err != nil {
		return fail(err)
	}

	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.KafkaOpts...)...)
	if err != nil {
		return fail(fmt.Errorf("creating the admin client: %w", err))
	}
	start, _, _, err := endOffsets(ctx, kadm.NewClient(cl), w.topic)
	cl.Close()
	if err != nil {
		return fail(err)
	}
	offsets := make(map[int32]kgo.Offset, len(start))
	for p, o := range start {
		offsets[p] = kgo.NewOffset().At(o)
		w.read[p] = o
	}
	reader, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(10 * time.Millisecond)}, cfg.KafkaOpts...)...)
	if err != nil {
		return fail(fmt.Errorf("creating the events consumer: %w", err))
	}

	ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	w.wg.Go(func() {
		if err := w.m.Run(ctx); err != nil {
			w.mu.Lock()
			w.runErr = err
			w.mu.Unlock()
		}
	})
	w.wg.Go(func() {
		defer reader.Close()
		w.readEvents(ctx, reader)
	})
	w.wg.Go(func() { w.pollOffsets(ctx) })
	return w, nil
}

// readEvents notes, for every event, when it became readable.
func (w *MirrorWatch) readEvents(ctx context.Context, cl *kgo.Client) {
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		w.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			ph := benchPhase(r.Value)
			if ph >= 0 {
				w.phase, w.benchAt = ph, now
			}
			w.read[r.Partition] = r.Offset + 1
			e := pendingEvent{offset: r.Offset, phase: ph, readAt: now, stamp: r.Timestamp}
			if r.Offset < w.applied[r.Partition] {
				// Applied before this consumer read it: no lag to see.
				w.record(e, now)
				return
			}
			w.pending[r.Partition] = append(w.pending[r.Partition], e)
		})
		w.mu.Unlock()
	}
}

// pollOffsets reads the stored offsets every Poll; what they passed was
// applied by then.
func (w *MirrorWatch) pollOffsets(ctx context.Context) {
	tick := time.NewTicker(w.cfg.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		stored, err := w.storedOffsets(ctx)
		if err != nil {
			continue // not created yet, or the database is away: the mirror says so
		}
		now := time.Now()
		w.mu.Lock()
		var behind int64
		for p, next := range stored {
			w.applied[p] = next
			q := w.pending[p]
			i := 0
			for i < len(q) && q[i].offset < next {
				w.record(q[i], now)
				i++
			}
			w.pending[p] = q[i:]
		}
		for p, read := range w.read {
			behind += max(read-w.applied[p], 0)
		}
		// Sampled while the load runs (a bench event read in the last
		// second, or some still to apply): idle time is not a figure.
		if w.phase >= 0 && (behind > 0 || now.Sub(w.benchAt) < time.Second) {
			_ = w.stats[w.phase].behind.RecordValue(behind)
			_ = w.stats[maxPhases].behind.RecordValue(behind)
		}
		w.mu.Unlock()
	}
}

func (w *MirrorWatch) storedOffsets(ctx context.Context) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return mirror.ConsumedOffsets(ctx, w.db.db, w.topic)
}

// record adds e, applied at now, to its phase's figures and the run's.
// Called with w.mu held.
func (w *MirrorWatch) record(e pendingEvent, now time.Time) {
	us := func(d time.Duration) int64 { return min(max(int64(d/time.Microsecond), histMin), histMax) }
	for _, i := range []int{e.phase, maxPhases} {
		if i < 0 {
			continue
		}
		_ = w.stats[i].lag.RecordValue(us(now.Sub(e.readAt)))
		_ = w.stats[i].stamp.RecordValue(us(now.Sub(e.stamp)))
	}
}

// Stop waits (up to timeout) for the mirror to apply every event read,
// stops it and the watch, drops a database it created, and returns the
// figures, naming the phases after rep (the run's report).
func (w *MirrorWatch) Stop(rep Report, timeout time.Duration) MirrorLag {
	deadline := time.Now().Add(timeout)
	for w.unapplied() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	w.cancel()
	w.wg.Wait()
	_ = w.m.Close()
	w.db.close()

	w.mu.Lock()
	defer w.mu.Unlock()
	out := MirrorLag{Database: w.db.name, Workers: w.m.Config().Workers, PollMs: float64(w.cfg.Poll) / float64(time.Millisecond),
		All: w.stats[maxPhases].summary("all")}
	out.Events = out.All.Lag.Count
	for _, q := range w.pending {
		out.Unapplied += int64(len(q))
	}
	if w.runErr != nil {
		out.Err = w.runErr.Error()
	}
	names := phaseNames(rep)
	for id, s := range w.stats[:maxPhases] {
		if s.lag.TotalCount() > 0 {
			name, ok := names[id]
			if !ok {
				name = fmt.Sprintf("phase %d", id)
			}
			out.Phases = append(out.Phases, s.summary(name))
		}
	}
	return out
}

func (w *MirrorWatch) unapplied() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, q := range w.pending {
		n += len(q)
	}
	return n
}

func (s *lagStats) summary(name string) MirrorPhase {
	summarize := func(h *hdrhistogram.Histogram) Latency {
		ms := func(us int64) float64 { return float64(us) / 1000 }
		return Latency{Count: h.TotalCount(), P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
			P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max())}
	}
	return MirrorPhase{Name: name, Lag: summarize(s.lag), SinceTimestamp: summarize(s.stamp),
		BehindP50: s.behind.ValueAtQuantile(50), BehindP99: s.behind.ValueAtQuantile(99), BehindMax: s.behind.Max()}
}

// phaseNames names the phase ids of a run in the order Run creates them:
// the preload, the latency phase, each rate step, then the backlog drain.
func phaseNames(rep Report) map[int]string {
	names := map[int]string{0: "preload", 1: "latency"}
	if rep.Latency != nil {
		names[1] = fmt.Sprintf("latency (%d tx/s)", rep.Latency.Rate)
	}
	for i, s := range rep.Steps {
		names[2+i] = fmt.Sprintf("%s (%d tx/s)", s.Name, s.Rate)
	}
	names[2+len(rep.Steps)] = "backlog"
	return names
}

// benchPhase returns the phase of a bench event, from its eventId
// ("evt-bench.<run>.<phase>.<seq>[-<leg>]", the first field of the Avro
// payload), or -1 for any other event.
func benchPhase(value []byte) int {
	if len(value) < 6 || value[0] != 0 {
		return -1
	}
	n, k := binary.Varint(value[5:])
	if k <= 0 || n < 0 || int64(len(value)-5-k) < n {
		return -1
	}
	id, ok := strings.CutPrefix(string(value[5+k:5+k+int(n)]), "evt-bench.")
	if !ok {
		return -1
	}
	_, rest, ok := strings.Cut(id, ".")
	if !ok {
		return -1
	}
	ph, _, ok := leadingInt([]byte(rest))
	if !ok || ph >= maxPhases {
		return -1
	}
	return ph
}

// Summary is the lag in one line, for the report's settings.
func (l MirrorLag) Summary() string {
	s := fmt.Sprintf("in-process %s mirror, %d worker(s): readable → in SQL p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d events; behind p99 %d, max %d records",
		l.Database, l.Workers, l.All.Lag.P50, l.All.Lag.P99, l.All.Lag.Max, l.Events, l.All.BehindP99, l.All.BehindMax)
	if l.Unapplied > 0 {
		s += fmt.Sprintf("; %d events NOT applied at the end", l.Unapplied)
	}
	if l.Err != "" {
		s += "; mirror error: " + l.Err
	}
	return s
}

// WriteTable writes the lag per phase for people.
func (l MirrorLag) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "\nMirror lag (%s, %d worker(s), in-process; offsets polled every %.0f ms), ms\n", l.Database, l.Workers, l.PollMs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tevents\tp50\tp99\tmax\tfrom ts p50\tp99\tmax\tbehind p50\tp99\tmax\t")
	for _, p := range append(l.Phases, l.All) {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%d\t\n", p.Name, p.Lag.Count, p.Lag.P50, p.Lag.P99, p.Lag.Max,
			p.SinceTimestamp.P50, p.SinceTimestamp.P99, p.SinceTimestamp.Max, p.BehindP50, p.BehindP99, p.BehindMax)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "  lag: readable by a read_committed consumer → its partition's stored offset past it; from ts: the event record's timestamp (before its Kafka transaction committed) → the same; behind: records not yet applied, sampled at each poll")
	if l.Unapplied > 0 {
		fmt.Fprintf(w, "  %d events read were NOT applied when the watch stopped\n", l.Unapplied)
	}
	if l.Err != "" {
		fmt.Fprintf(w, "  the mirror stopped with an error: %s\n", l.Err)
	}
}
