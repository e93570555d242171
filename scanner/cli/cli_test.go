package cli

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/scanner"
	"github.com/invsync/invsync/scanner/internal/fakeapi"
)

type cliResult struct {
	code           int
	stdout, stderr string
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// cli runs the command in process with env and stdin.
func cli(t *testing.T, e map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errb testkit.Buffer
	code := mainWith(context.Background(), args, strings.NewReader(stdin), &out, &errb, env(e))
	return cliResult{code, out.String(), errb.String()}
}

func scannerEnv(url, dir string) map[string]string {
	return map[string]string{"INVSYNC_SCANNER_URL": url, "INVSYNC_SCANNER_TOKEN": "tok-1",
		"INVSYNC_SCANNER_ID": "SCANNER-1", "INVSYNC_SCANNER_DATA_DIR": dir}
}

const (
	lineCount  = `{"type":"CYCLE_COUNT","warehouseId":"WH-001","itemId":"ITEM-12345","locationId":"A-05-02","quantity":95,"userId":"u1"}`
	lineMove   = `{"type":"MOVE","warehouseId":"WH-001","itemId":"ITEM-12345","locationId":"A-05-02","toLocationId":"B-01-01","quantity":5,"userId":"u2"}`
	lineBad    = `{"type":"PICK","warehouseId":"WH-001","itemId":"ITEM-12345","locationId":"A-05-02","quantity":0}`
	lineUnknow = `{"type":"RECEIPT","warehouseId":"WH-001","itemId":"NOPE","locationId":"A-05-02","quantity":1,"userId":"u3"}`
)

func acks(t *testing.T, stdout string) []ack {
	t.Helper()
	var out []ack
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if l == "" {
			continue
		}
		var a ack
		if err := json.Unmarshal([]byte(l), &a); err != nil || a.Status != "queued" || a.TransactionID == "" {
			t.Fatalf("acknowledgement %q is not {line, transactionId, timestamp, status: queued}: %v", l, err)
		}
		out = append(out, a)
	}
	return out
}

// cliStatus runs status --json; decoding it as a scanner.Status checks
// that lastSyncAt is RFC 3339 or null.
func cliStatus(t *testing.T, dir string) scanner.Status {
	t.Helper()
	r := cli(t, nil, "", "status", "--data-dir", dir, "--json")
	if r.code != 0 {
		t.Fatalf("status: exit %d: %s", r.code, r.stderr)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatalf("status --json printed %q: %v", r.stdout, err)
	}
	for _, k := range []string{"status", "queued", "rejected", "lastSyncAt"} {
		if _, ok := raw[k]; !ok {
			t.Fatalf("status --json lacks %q: %s", k, r.stdout)
		}
	}
	var s scanner.Status
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("status --json printed %q: %v", r.stdout, err)
	}
	return s
}

func TestCLIBadFlagsAreReportedAllAtOnce(t *testing.T) {
	r := cli(t, nil, "", "--bogus", "--sync-every", "soon", "--batch-size", "0", "stray")
	if r.code != scanner.ExitUsage {
		t.Fatalf("exit %d, want 2", r.code)
	}
	for _, want := range []string{"unknown flag --bogus", "--sync-every", "--batch-size", "--url (or INVSYNC_SCANNER_URL) is required",
		"--token (or INVSYNC_SCANNER_TOKEN)", "--scanner-id", "--data-dir", `unexpected argument "stray"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r := cli(t, nil, "", "retry", "--data-dir", t.TempDir(), "--expected-version", "x"); r.code != scanner.ExitUsage ||
		!strings.Contains(r.stderr, "exactly one transaction id") || !strings.Contains(r.stderr, "--expected-version") {
		t.Errorf("retry with bad arguments: exit %d\n%s", r.code, r.stderr)
	}
}

func TestCLIHelpExplains(t *testing.T) {
	r := cli(t, nil, "", "--help")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	for _, want := range []string{"--once", "INVSYNC_SCANNER_TOKEN", "INVSYNC_SCANNER_URL", "INVSYNC_SCANNER_ID", "INVSYNC_SCANNER_DATA_DIR",
		"Exit codes", "status", "rejections", "dismiss", "retry", "visible", "--sync-every"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestCLIOnceSyncedExits0AndStatusIsGreen(t *testing.T) {
	srv := fakeapi.New(t)
	dir := t.TempDir()
	in := lineCount + "\n\n" + lineBad + "\n" + lineMove + "\n"
	r := cli(t, scannerEnv(srv.URL(), dir), in, "--once")
	if r.code != scanner.ExitOK {
		t.Fatalf("exit %d, want 0\n%s", r.code, r.stderr)
	}
	as := acks(t, r.stdout)
	if len(as) != 2 || as[0].Line != 1 || as[1].Line != 4 {
		t.Fatalf("acknowledged %+v, want lines 1 and 4", as)
	}
	if !strings.Contains(r.stderr, "line 3:") || !strings.Contains(r.stderr, "must be > 0") {
		t.Fatalf("stderr does not name the bad line 3:\n%s", r.stderr)
	}
	srv.AssertWrittenOnce(t, []string{as[0].TransactionID, as[1].TransactionID})
	s := cliStatus(t, dir)
	if s.Status != scanner.Green || s.Queued != 0 || s.Rejected != 0 || s.LastSyncAt == nil {
		t.Fatalf("status %+v, want green, 0, 0, lastSyncAt set", s)
	}
	table := cli(t, nil, "", "status", "--data-dir", dir)
	if table.code != 0 || !strings.Contains(table.stdout, "GREEN") || !strings.Contains(table.stdout, "queued") {
		t.Fatalf("status table:\n%s", table.stdout)
	}
}

func TestCLIOnceOfflineExits3(t *testing.T) {
	srv := fakeapi.New(t)
	url := srv.URL()
	srv.HTTP.Close()
	dir := t.TempDir()
	r := cli(t, scannerEnv(url, dir), lineCount+"\n"+lineMove+"\n", "--once")
	if r.code != scanner.ExitQueued {
		t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	if len(acks(t, r.stdout)) != 2 {
		t.Fatal("both scans must be acknowledged as queued even offline")
	}
	s := cliStatus(t, dir)
	if s.Status != scanner.Yellow || s.Queued != 2 || s.LastSyncAt != nil {
		t.Fatalf("status %+v, want yellow with 2 queued, never synced", s)
	}
	// Back online, an empty --once sends the queue.
	srv2 := fakeapi.New(t)
	if r := cli(t, scannerEnv(srv2.URL(), dir), "", "--once"); r.code != scanner.ExitOK {
		t.Fatalf("second run: exit %d\n%s", r.code, r.stderr)
	}
	if n := len(srv2.Accepted()); n != 2 {
		t.Fatalf("the second server got %d scans, want 2", n)
	}
}

func TestCLIRejectionExits4ThenDismiss(t *testing.T) {
	srv := fakeapi.New(t)
	srv.Reject = fakeapi.RejectWhere("itemId", "NOPE", "UNKNOWN_ITEM", `item "NOPE" is not in the catalog`)
	dir := t.TempDir()
	r := cli(t, scannerEnv(srv.URL(), dir), lineCount+"\n"+lineUnknow+"\n", "--once")
	if r.code != scanner.ExitRejected {
		t.Fatalf("exit %d, want 4\n%s", r.code, r.stderr)
	}
	if s := cliStatus(t, dir); s.Status != scanner.Red || s.Rejected != 1 || s.Queued != 0 {
		t.Fatalf("status %+v", s)
	}
	rj := cli(t, nil, "", "rejections", "--data-dir", dir, "--json")
	var list struct{ Rejections []scanner.Rejection }
	if err := json.Unmarshal([]byte(rj.stdout), &list); err != nil || len(list.Rejections) != 1 || list.Rejections[0].Code != "UNKNOWN_ITEM" {
		t.Fatalf("rejections --json: %s (%v)", rj.stdout, err)
	}
	if tbl := cli(t, nil, "", "rejections", "--data-dir", dir); !strings.Contains(tbl.stdout, "UNKNOWN_ITEM") || !strings.Contains(tbl.stdout, "NOPE") {
		t.Fatalf("rejections table:\n%s", tbl.stdout)
	}
	if d := cli(t, nil, "", "dismiss", "--data-dir", dir, list.Rejections[0].TransactionID); d.code != 0 {
		t.Fatalf("dismiss: exit %d %s", d.code, d.stderr)
	}
	if s := cliStatus(t, dir); s.Status != scanner.Green {
		t.Fatalf("status after dismiss %+v", s)
	}
}

func TestCLIRetryAnswersAVersionConflict(t *testing.T) {
	srv := fakeapi.New(t)
	srv.OutcomeOf = func(tx map[string]any) *api.Outcome {
		if v, ok := tx["expectedVersion"].(json.Number); ok && v != "18" {
			return &api.Outcome{Status: api.OutcomeRejected, Code: codep("VERSION_CONFLICT"), Message: strp("record is at version 18")}
		}
		return nil
	}
	dir := t.TempDir()
	line := `{"type":"CYCLE_COUNT","warehouseId":"WH-001","itemId":"ITEM-12345","locationId":"A-05-02","quantity":95,"expectedVersion":17}`
	r := cli(t, scannerEnv(srv.URL(), dir), line+"\n", "--once")
	if r.code != scanner.ExitRejected {
		t.Fatalf("exit %d, want 4\n%s", r.code, r.stderr)
	}
	id := acks(t, r.stdout)[0].TransactionID
	rt := cli(t, nil, "", "retry", "--data-dir", dir, id, "--expected-version", "18")
	if rt.code != 0 || !strings.Contains(rt.stdout, "queued ") {
		t.Fatalf("retry: exit %d\n%s%s", rt.code, rt.stdout, rt.stderr)
	}
	if r := cli(t, scannerEnv(srv.URL(), dir), "", "--once"); r.code != scanner.ExitOK {
		t.Fatalf("after retry: exit %d\n%s", r.code, r.stderr)
	}
	if s := cliStatus(t, dir); s.Status != scanner.Green {
		t.Fatalf("status %+v", s)
	}
}

// wantExitOK requires mainWith, running in the background, to send
// ExitOK on done within d.
func wantExitOK(t *testing.T, done <-chan int, d time.Duration, stderr *testkit.Buffer, what string) {
	t.Helper()
	if code := testkit.Receive(t, done, d, "the exit "+what); code != scanner.ExitOK {
		t.Fatalf("exit %d %s\n%s", code, what, stderr.String())
	}
}

func TestCLIRunsUntilStdinClosesAndTheQueueIsEmpty(t *testing.T) {
	srv := fakeapi.New(t)
	dir := t.TempDir()
	pr, pw := io.Pipe()
	var out, errb testkit.Buffer
	done := make(chan int, 1)
	go func() {
		done <- mainWith(context.Background(), []string{"--sync-every", "50ms"}, pr, &out, &errb, env(scannerEnv(srv.URL(), dir)))
	}()
	io.WriteString(pw, lineCount+"\n")
	waitFor(t, func() bool { return len(srv.Accepted()) == 1 }, "the first scan uploaded while stdin stays open")
	io.WriteString(pw, lineMove+"\n")
	pw.Close()
	wantExitOK(t, done, 10*time.Second, &errb, "after stdin closed and the queue emptied")
	as := acks(t, out.String())
	srv.AssertWrittenOnce(t, []string{as[0].TransactionID, as[1].TransactionID})
}

func TestCLIInterruptExitsCleanlyAndKeepsTheQueue(t *testing.T) {
	srv := fakeapi.New(t)
	url := srv.URL()
	srv.HTTP.Close()
	dir := t.TempDir()
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb testkit.Buffer
	done := make(chan int, 1)
	go func() { done <- mainWith(ctx, nil, pr, &out, &errb, env(scannerEnv(url, dir))) }()
	io.WriteString(pw, lineCount+"\n"+lineMove+"\n")
	waitFor(t, func() bool { return strings.Count(out.String(), "\n") == 2 }, "two acknowledgements")
	cancel()
	wantExitOK(t, done, 5*time.Second, &errb, "after interrupt")
	if !strings.Contains(errb.String(), "interrupted") {
		t.Fatalf("stderr: %s", errb.String())
	}
	if s := cliStatus(t, dir); s.Queued != 2 || s.Status != scanner.Yellow {
		t.Fatalf("status after interrupt %+v, want the 2 scans kept queued", s)
	}
}

func TestCLITokenFlagWarns(t *testing.T) {
	srv := fakeapi.New(t)
	e := scannerEnv(srv.URL(), t.TempDir())
	delete(e, "INVSYNC_SCANNER_TOKEN")
	r := cli(t, e, lineCount+"\n", "--once", "--token", "tok-1")
	if r.code != 0 || !strings.Contains(r.stderr, "visible to other users in ps") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestCLIRefusedTokenExits3AndStatusSaysReEnrol(t *testing.T) {
	srv := fakeapi.New(t)
	dir := t.TempDir()
	e := scannerEnv(srv.URL(), dir)
	e["INVSYNC_SCANNER_TOKEN"] = "revoked"
	r := cli(t, e, lineCount+"\n", "--once")
	if r.code != scanner.ExitQueued {
		t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	s := cliStatus(t, dir)
	if s.Status != scanner.Red || !strings.Contains(s.Message, "re-enrol") {
		t.Fatalf("status %+v", s)
	}
}

func TestCLIStatusOfAMissingQueueFails(t *testing.T) {
	r := cli(t, nil, "", "status", "--data-dir", t.TempDir()+"/none", "--json")
	if r.code != scanner.ExitError || !strings.Contains(r.stderr, "no scanner queue") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, testkit.True(cond, "not yet"), "waiting for %s", what)
}

func strp(s string) *string { return &s }

func codep(c api.ErrorCode) *api.ErrorCode { return &c }
