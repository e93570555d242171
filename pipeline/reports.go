package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// ReportCommands splits a report into its pieces: one command for each of
// the n partitions holding its stock keys, and, for a complete report, for
// every other partition too (with no positions), since each partition
// checks which of its records the cloud lacks. A piece's id is
// "<reportId>#<partition>".
func (p *Producer) ReportCommands(r *processors.CloudReport, n int32) []PartitionedCommand {
	byPart := map[int32][]processors.CloudPosition{}
	for _, pos := range r.Positions {
		part := p.Partition(processors.StockKey(r.WarehouseID, pos.ItemID), n)
		byPart[part] = append(byPart[part], pos)
	}
	if r.Complete {
		for part := range n {
			if _, ok := byPart[part]; !ok {
				byPart[part] = nil
			}
		}
	}
	out := make([]PartitionedCommand, 0, len(byPart))
	for part, ps := range byPart {
		id := r.ReportID + "#" + strconv.Itoa(int(part))
		out = append(out, PartitionedCommand{Partition: part, Command: processors.Command{CommandID: id, Kind: processors.CommandReportPiece,
			WarehouseID: r.WarehouseID, Report: &processors.ReportPiece{PieceID: id, ReportID: r.ReportID, WarehouseID: r.WarehouseID,
				Complete: r.Complete, ItemFrom: r.ItemFrom, ItemTo: r.ItemTo, Positions: ps}}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out
}

// ReportCheck validates a report against the catalog; nil means it may be
// compared.
type ReportCheck func(*processors.CloudReport) error

// ReportSplitter turns the cloud's reports on the cloud-positions topic
// into commands, like POST /v1/reconciliation/reports does. Every instance
// runs one in a consumer group of its own; a report is split at least once
// (its offsets are committed after its commands are written) and compared
// once (a piece id is compared once). A report that does not decode or
// check goes to the dead-letter topic with the reason.
type ReportSplitter struct {
	cl         *kgo.Client
	producer   *Producer
	codec      *schemas.Set
	check      ReportCheck
	deadLetter string
	partitions int32
	log        *slog.Logger
}

// NewReportSplitter creates the splitter's consumer in group.
func NewReportSplitter(brokers []string, group string, topics schemas.Topics, partitions int32, codec *schemas.Set,
	producer *Producer, check ReportCheck, log *slog.Logger, opts ...kgo.Opt) (*ReportSplitter, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics.CloudPositions), kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500 * time.Millisecond)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating the report splitter: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ReportSplitter{cl: cl, producer: producer, codec: codec, check: check, deadLetter: topics.DeadLetter,
		partitions: partitions, log: log.With("component", "reports")}, nil
}

// Run splits reports until ctx ends.
func (r *ReportSplitter) Run(ctx context.Context) error {
	defer r.cl.Close()
	for {
		fetches := r.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) { r.log.Warn("fetching cloud reports", "partition", p, "err", err) })
		var failed bool
		fetches.EachRecord(func(rec *kgo.Record) {
			if failed {
				return
			}
			if err := r.split(ctx, rec); err != nil {
				failed = true
				r.log.Warn("splitting a cloud report; retrying", "offset", rec.Offset, "err", err)
			}
		})
		if failed {
			// Nothing committed: the same records come again.
			r.cl.SetOffsets(r.cl.CommittedOffsets())
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		if err := r.cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("committing cloud report offsets", "err", err)
		}
	}
}

// split turns one record into commands (or a dead letter).
func (r *ReportSplitter) split(ctx context.Context, rec *kgo.Record) error {
	// The pieces continue the report's trace when it came with one (the
	// producer's tracing makes each piece a child of it).
	ctx = recordContext(ctx, rec)
	w, err := r.codec.DecodeCloudPositionsReport(rec.Value)
	rep := processors.CloudReport{ReportID: w.ReportID, WarehouseID: w.WarehouseID, Complete: w.Complete,
		ItemFrom: deref(w.ItemFrom), ItemTo: deref(w.ItemTo)}
	for _, p := range w.Positions {
		rep.Positions = append(rep.Positions, processors.CloudPosition(p))
	}
	if err == nil && rep.ReportID == "" {
		err = errors.New("reportId is required")
	}
	if err == nil && r.check != nil {
		err = r.check(&rep)
	}
	if err != nil {
		r.log.Error("cloud report refused; sent to the dead-letter topic", "offset", rec.Offset, "err", err)
		res := r.producer.cl.ProduceSync(ctx, &kgo.Record{Topic: r.deadLetter, Key: rec.Key, Value: rec.Value,
			Headers: []kgo.RecordHeader{{Key: "error", Value: []byte(err.Error())},
				{Key: "source", Value: []byte(fmt.Sprintf("%s/%d/%d", rec.Topic, rec.Partition, rec.Offset))}}})
		return res.FirstErr()
	}
	return r.producer.ProduceCommands(ctx, r.producer.ReportCommands(&rep, r.partitions), "cloud-positions topic", rec.Timestamp)
}
