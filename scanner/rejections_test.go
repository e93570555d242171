package scanner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/scanner/internal/fakeapi"
)

func TestRejectionStaysVisibleUntilDismissed(t *testing.T) {
	srv, clk, d := onFake(t)
	srv.Reject = fakeapi.RejectWhere("itemId", "NOPE", "UNKNOWN_ITEM", `item "NOPE" is not in the catalog`)
	ctx := context.Background()
	good := queueN(t, d, clk, 0, 2)
	bad := countScan(99)
	bad.ItemID = "NOPE"
	qb, err := d.Scan(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	more := queueN(t, d, clk, 100, 2)
	rep, err := d.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 4 || rep.Rejected != 1 || rep.Rejections != 1 {
		t.Fatalf("report %+v: the rejected scan must not block the rest", rep)
	}
	srv.AssertWrittenOnce(t, append(ids(good), ids(more)...))
	st := wantStatus(t, d, Red, 0, 1)
	if !strings.Contains(st.Message, "1 rejected scan") {
		t.Fatalf("message %q", st.Message)
	}
	rs, err := d.Rejections()
	if err != nil || len(rs) != 1 {
		t.Fatalf("Rejections: %v %v", rs, err)
	}
	r := rs[0]
	if r.TransactionID != qb.TransactionID || r.Code != "UNKNOWN_ITEM" || !strings.Contains(r.Message, "NOPE") ||
		r.Stage != "ingest" || r.Scan.ItemID != "NOPE" || !r.Timestamp.Equal(qb.Timestamp) {
		t.Fatalf("rejection %+v", r)
	}
	// A rejected scan is not resent.
	before := len(srv.Requests())
	if _, err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if len(srv.Requests()) != before {
		t.Fatal("a rejected scan was sent again")
	}
	if err := d.Dismiss("no-such-id"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Dismiss of an unknown id: %v", err)
	}
	if err := d.Dismiss(qb.TransactionID); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, d, Green, 0, 0)
	var res string
	if err := d.db.QueryRow(`SELECT resolution FROM history WHERE id = ?`, qb.TransactionID).Scan(&res); err != nil || res != "dismissed" {
		t.Fatalf("history keeps the dismissed scan as %q (%v)", res, err)
	}
}

func TestCorrectReplacesARejectedScan(t *testing.T) {
	srv, clk, d := onFake(t)
	srv.Reject = fakeapi.RejectWhere("locationId", "Z-99", "UNKNOWN_LOCATION", "location Z-99 is not a location of warehouse WH-001")
	ctx := context.Background()
	bad := countScan(1)
	bad.LocationID = "Z-99"
	qb, _ := d.Scan(ctx, bad)
	d.Sync(ctx)
	wantStatus(t, d, Red, 0, 1)
	clk.Advance(time.Hour)
	fixed := bad
	fixed.LocationID = "A-05-02"
	qc, err := d.Correct(qb.TransactionID, fixed)
	if err != nil {
		t.Fatal(err)
	}
	if qc.TransactionID == qb.TransactionID || !qc.Timestamp.Equal(qb.Timestamp) {
		t.Fatalf("correction %+v of %+v: want a new id and the scan's own time", qc, qb)
	}
	wantStatus(t, d, Yellow, 1, 0)
	mustSync(t, d)
	wantStatus(t, d, Green, 0, 0)
	srv.AssertWrittenOnce(t, []string{qc.TransactionID})
}

func TestVersionConflictIsRetriedWithAFreshVersion(t *testing.T) {
	srv, clk, d := onFake(t)
	srv.OutcomeOf = func(tx map[string]any) *api.Outcome {
		if v, ok := tx["expectedVersion"]; ok && v.(interface{ String() string }).String() != "18" {
			return &api.Outcome{Status: api.OutcomeRejected, Code: codep("VERSION_CONFLICT"), Message: strp("expectedVersion 17, record is at 18")}
		}
		return nil
	}
	ctx := context.Background()
	s := countScan(5)
	v := int64(17)
	s.ExpectedVersion = &v
	q, _ := d.Scan(ctx, s)
	other := countScan(6)
	qo, _ := d.Scan(ctx, other)
	rep, err := d.Sync(ctx)
	if err != nil || rep.Rejected != 1 || rep.Accepted != 1 || rep.Remaining != 0 {
		t.Fatalf("report %+v %v: want the conflict counted as rejected, the other synced", rep, err)
	}
	wantStatus(t, d, Red, 0, 1)
	rs, _ := d.Rejections()
	if len(rs) != 1 || rs[0].Code != "VERSION_CONFLICT" || rs[0].Stage != "apply" {
		t.Fatalf("rejections %+v", rs)
	}
	if _, err := d.RetryWithVersion(qo.TransactionID, 18); !errors.Is(err, ErrNotFound) {
		t.Fatalf("retry of a synced scan: %v", err)
	}
	clk.Advance(time.Minute)
	qr, err := d.RetryWithVersion(q.TransactionID, 18)
	if err != nil {
		t.Fatal(err)
	}
	if qr.TransactionID == q.TransactionID || !qr.Timestamp.Equal(q.Timestamp) {
		t.Fatalf("retry %+v of %+v", qr, q)
	}
	if _, err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, d, Green, 0, 0)
	reqs := srv.Requests()
	last := string(reqs[len(reqs)-1].Txs[0])
	if !strings.Contains(last, `"expectedVersion":18`) || !strings.Contains(last, qr.TransactionID) {
		t.Fatalf("the retry sent %s", last)
	}
}

func TestRetryWithVersionOnlyAnswersVersionConflicts(t *testing.T) {
	srv, _, d := onFake(t)
	srv.Reject = func(map[string]any) (string, string) { return "UNKNOWN_ITEM", "no" }
	q, _ := d.Scan(context.Background(), countScan(1))
	d.Sync(context.Background())
	if _, err := d.RetryWithVersion(q.TransactionID, 3); !errors.Is(err, ErrNotRetryable) {
		t.Fatalf("RetryWithVersion of UNKNOWN_ITEM: %v", err)
	}
	n, err := d.DismissAll()
	if err != nil || n != 1 {
		t.Fatalf("DismissAll: %d %v", n, err)
	}
	wantStatus(t, d, Green, 0, 0)
}

func TestPendingOutcomeIsSyncedAndALateRejectionShows(t *testing.T) {
	srv, clk, d := onFake(t)
	srv.OutcomeOf = func(map[string]any) *api.Outcome {
		return &api.Outcome{Status: api.OutcomePending, Warnings: []string{}}
	}
	ctx := context.Background()
	q, _ := d.Scan(ctx, countScan(1))
	mustSync(t, d)
	wantStatus(t, d, Green, 0, 0)
	srv.Mu.Lock()
	srv.Applied[q.TransactionID] = &api.Outcome{Status: api.OutcomeRejected, Code: codep("LOCATION_LOCKED"), Message: strp("A-05-02 is locked by SCANNER-3")}
	srv.Mu.Unlock()
	if rep, _ := d.Sync(ctx); rep.LateRejected != 0 || srv.GetCount() != 0 {
		t.Fatalf("polled before PollEvery passed: %+v, %d GETs", rep, srv.GetCount())
	}
	clk.Advance(DefaultPollEvery)
	rep, err := d.Sync(ctx)
	if err != nil || rep.LateRejected != 1 {
		t.Fatalf("Sync after PollEvery: %+v %v, want one late rejection", rep, err)
	}
	wantStatus(t, d, Red, 0, 1)
	rs, _ := d.Rejections()
	if len(rs) != 1 || rs[0].Code != "LOCATION_LOCKED" || rs[0].Stage != "apply" {
		t.Fatalf("rejections %+v", rs)
	}
}

func TestAnIDReusedWithAnotherBodyIsRejectedMismatch(t *testing.T) {
	srv, _, d := onFake(t)
	q, _ := d.Scan(context.Background(), countScan(1))
	// The server already holds this id with another body (a restored
	// backup of another device's queue, say).
	srv.Mu.Lock()
	srv.Stored[q.TransactionID] = "something else"
	srv.Mu.Unlock()
	d.Sync(context.Background())
	rs, _ := d.Rejections()
	if len(rs) != 1 || rs[0].Code != "IDEMPOTENCY_MISMATCH" {
		t.Fatalf("rejections %+v", rs)
	}
}
