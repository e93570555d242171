package pipeline

import (
	"context"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// FleetTable keeps every scanner's last device report, on every instance,
// equal to the compacted scanner-status topic, and publishes new reports
// to it: any instance answers for the whole fleet. Safe for concurrent use.
type FleetTable struct {
	*topicTable[schemas.ScannerStatus]

	mu      sync.RWMutex
	reports map[string]processors.DeviceReport
}

// NewFleetTable creates the table's client. Run must be running for
// Report to return and WaitLoaded to be meaningful.
func NewFleetTable(brokers []string, topic string, codec *schemas.Set, log *slog.Logger, opts ...kgo.Opt) (*FleetTable, error) {
	f := &FleetTable{reports: map[string]processors.DeviceReport{}}
	return openTable(f, &f.topicTable, brokers, topic, "scanner status", log, codec.DecodeScannerStatus, codec.AppendScannerStatus, f.apply, opts...)
}

func (f *FleetTable) apply(key string, w *schemas.ScannerStatus) error {
	if w == nil {
		f.mu.Lock()
		delete(f.reports, key)
		f.mu.Unlock()
		return nil
	}
	rep := processors.DeviceReport{ScannerID: w.ScannerID, ReceivedAt: w.ReceivedAt, SentAt: w.SentAt, Queued: w.Queued,
		OldestQueuedAt: w.OldestQueuedAt, Rejected: w.Rejected, AppVersion: w.AppVersion, LastUploadAt: w.LastUploadAt,
		Uploads: uploadsFromWire(w.RecentUploads)}
	f.mu.Lock()
	defer f.mu.Unlock()
	// Two instances may publish for one scanner at nearly the same time;
	// the later arrival wins whatever the log order, and the uploads of
	// both are kept.
	if old, ok := f.reports[rep.ScannerID]; ok {
		merged := processors.MergeUploads(old.Uploads, rep.Uploads)
		if old.ReceivedAt.After(rep.ReceivedAt) {
			rep = old
		}
		rep.Uploads = merged
	}
	f.reports[rep.ScannerID] = rep
	return nil
}

// Report publishes r (acks=all). With wait it returns once the write is
// acknowledged and this instance's table reflects it; without, it returns
// at once and a failure is only logged (an upload's device report must not
// slow the upload down). A report that is not an upload keeps the last
// upload time already known; every report keeps the uploads known, r's
// added to them.
func (f *FleetTable) Report(ctx context.Context, r processors.DeviceReport, wait bool) error {
	if old, ok := f.Get(r.ScannerID); ok {
		if r.LastUploadAt == nil {
			r.LastUploadAt = old.LastUploadAt
		}
		r.Uploads = processors.MergeUploads(old.Uploads, r.Uploads)
	}
	w := schemas.ScannerStatus{ScannerID: r.ScannerID, ReceivedAt: r.ReceivedAt, SentAt: r.SentAt, Queued: r.Queued,
		OldestQueuedAt: r.OldestQueuedAt, Rejected: r.Rejected, AppVersion: r.AppVersion, LastUploadAt: r.LastUploadAt,
		RecentUploads: uploadsToWire(r.Uploads)}
	if wait {
		return f.put(ctx, "publishing a device report", r.ScannerID, &w)
	}
	rec, err := f.record(r.ScannerID, &w)
	if err != nil {
		return err
	}
	f.cl.Produce(context.WithoutCancel(ctx), rec, func(_ *kgo.Record, err error) {
		if err != nil {
			f.log.Warn("publishing a device report", "scanner", r.ScannerID, "err", err)
		}
	})
	return nil
}

// Get returns the last report of scanner id.
func (f *FleetTable) Get(id string) (processors.DeviceReport, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.reports[id]
	return r, ok
}

// Reports returns a copy of every scanner's last report, by scannerId.
func (f *FleetTable) Reports() map[string]processors.DeviceReport {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make(map[string]processors.DeviceReport, len(f.reports))
	for k, v := range f.reports {
		out[k] = v
	}
	return out
}

func uploadsToWire(us []processors.ScannerUpload) []schemas.ScannerUpload {
	return convertAll(us, func(u processors.ScannerUpload) schemas.ScannerUpload {
		return schemas.ScannerUpload{At: u.At, Transactions: u.Transactions, Accepted: u.Accepted, Duplicate: u.Duplicate, Rejected: u.Rejected,
			Rejections: convertAll(u.Rejections, func(r processors.UploadRejection) schemas.UploadRejection { return schemas.UploadRejection(r) })}
	})
}

func uploadsFromWire(ws []schemas.ScannerUpload) []processors.ScannerUpload {
	return convertAll(ws, func(w schemas.ScannerUpload) processors.ScannerUpload {
		return processors.ScannerUpload{At: w.At, Transactions: w.Transactions, Accepted: w.Accepted, Duplicate: w.Duplicate, Rejected: w.Rejected,
			Rejections: convertAll(w.Rejections, func(r schemas.UploadRejection) processors.UploadRejection { return processors.UploadRejection(r) })}
	})
}

// convertAll converts each of in with conv; nil when in is empty, as the
// wire's lists are.
func convertAll[A, B any](in []A, conv func(A) B) []B {
	var out []B
	for _, a := range in {
		out = append(out, conv(a))
	}
	return out
}
