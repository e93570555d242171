package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/scanner"
)

var runFlags = []cliFlag{
	{name: "url", env: "INVSYNC_SCANNER_URL", help: "invsync base URL, e.g. https://invsync.example:8080"},
	{name: "token", env: "INVSYNC_SCANNER_TOKEN", help: "the scanner's bearer token; prefer the environment variable (a flag is visible in ps)"},
	{name: "scanner-id", env: "INVSYNC_SCANNER_ID", help: "this scanner's id, sent as scannerId (must match the token's name)"},
	{name: "data-dir", env: "INVSYNC_SCANNER_DATA_DIR", help: "directory of the durable queue (scanner.db); created if missing"},
	{name: "once", isBool: true, help: "read all of stdin, make one sync attempt, exit 0 (all synced), 3 (scans queued) or 4 (rejections)"},
	{name: "sync-every", env: "INVSYNC_SCANNER_SYNC_EVERY", def: "30s", help: "interval between sync attempts (a new scan is also sent at once while the server answers)"},
	{name: "batch-size", def: "1000", help: "most scans per request (1 to 1000)"},
	{name: "request-timeout", def: "30s", help: "bound on one upload, answer included"},
	{name: "log-level", env: "INVSYNC_SCANNER_LOG_LEVEL", def: "warn", help: "debug, info, warn or error (sync problems are logged at warn)"},
}

// maxLine bounds one input line; a longer one is reported and skipped.
const maxLine = 64 << 10

// maxGroup bounds the lines queued in one transaction (one disk flush).
const maxGroup = 500

func runMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	const cmd = "invsync scanner"
	a := parseCLI(args, runFlags, getenv)
	if a.help {
		fmt.Fprint(stdout, runUsage)
		printFlags(stdout, runFlags)
		return scanner.ExitOK
	}
	a.require(runFlags, "url", "token", "scanner-id", "data-dir")
	for _, extra := range a.args {
		a.problems = append(a.problems, fmt.Sprintf("unexpected argument %q (scans are read from standard input)", extra))
	}
	syncEvery, err := time.ParseDuration(a.vals["sync-every"])
	if err != nil || syncEvery <= 0 {
		a.problems = append(a.problems, fmt.Sprintf("--sync-every %q must be a positive duration such as 30s", a.vals["sync-every"]))
	}
	timeout, err := time.ParseDuration(a.vals["request-timeout"])
	if err != nil || timeout <= 0 {
		a.problems = append(a.problems, fmt.Sprintf("--request-timeout %q must be a positive duration such as 30s", a.vals["request-timeout"]))
	}
	batch, err := strconv.Atoi(a.vals["batch-size"])
	if err != nil || batch < 1 || batch > scanner.MaxBatch {
		a.problems = append(a.problems, fmt.Sprintf("--batch-size %q must be a whole number from 1 to %d", a.vals["batch-size"], scanner.MaxBatch))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.vals["log-level"])); err != nil {
		a.problems = append(a.problems, fmt.Sprintf("--log-level %q must be debug, info, warn or error", a.vals["log-level"]))
	}
	cfg := scanner.Config{URL: a.vals["url"], Token: a.vals["token"], ScannerID: a.vals["scanner-id"], DataDir: a.vals["data-dir"],
		SyncEvery: syncEvery, BatchSize: batch, RequestTimeout: timeout,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))}
	// The rest of Config's checks (the URL's form, the id's characters);
	// missing values were reported above, so stand-ins keep them from
	// being reported twice.
	check := cfg
	for _, f := range []*string{&check.URL, &check.Token, &check.ScannerID, &check.DataDir} {
		if *f == "" {
			*f = "http://missing"
		}
	}
	var ve *scanner.ValidationError
	if errors.As(check.Validate(), &ve) {
		a.problems = append(a.problems, ve.Problems...)
	}
	if len(a.problems) > 0 {
		return reportProblems(stderr, cmd, a.problems)
	}
	if a.fromFlag["token"] {
		fmt.Fprintf(stderr, "%s: warning: --token is visible to other users in ps; set INVSYNC_SCANNER_TOKEN instead\n", cmd)
	}
	r := &runner{cmd: cmd, stderr: stderr, out: bufio.NewWriter(stdout), once: a.vals["once"] == "true", synced: make(chan struct{}, 1)}
	cfg.Progress = r.progress
	cfg.AfterSync = r.afterSync
	d, err := scanner.Open(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return scanner.ExitError
	}
	defer d.Close()
	r.d, r.batchSize, r.dataDir = d, cfg.BatchSize, cfg.DataDir
	return r.run(ctx, stdin)
}

// runner is one `invsync scanner` run.
type runner struct {
	cmd       string
	d         *scanner.Device
	dataDir   string
	stderr    io.Writer
	out       *bufio.Writer
	once      bool
	batchSize int
	synced    chan struct{} // Run finished a sync attempt

	lastErr atomic.Pointer[error] // the last sync attempt's error
}

func (r *runner) setLastErr(err error) { r.lastErr.Store(&err) }

func (r *runner) lastSyncErr() error {
	if err := r.lastErr.Load(); err != nil {
		return *err
	}
	return nil
}

// inputLine is one line read, stamped when it was read: the scan's device
// time is the moment the scanner got it.
type inputLine struct {
	n    int
	text []byte
	at   time.Time
	err  string // the line could not be read whole
}

func (r *runner) run(ctx context.Context, stdin io.Reader) int {
	lines := make(chan inputLine, maxGroup)
	readErr := make(chan error, 1)
	// The reader may stay blocked on stdin after an interrupt; the
	// process exits around it.
	go readLines(ctx, stdin, time.Now, lines, readErr)

	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan struct{})
	if r.once {
		close(runDone)
	} else {
		go func() {
			defer close(runDone)
			r.d.Run(runCtx)
		}()
	}
	defer func() { stopRun(); <-runDone }()

	bad, code := r.queueAll(ctx, lines)
	if code >= 0 {
		return code
	}
	if err := drain(readErr); err != nil {
		fmt.Fprintf(r.stderr, "%s: reading standard input: %v\n", r.cmd, err)
	}
	if ctx.Err() != nil {
		return r.interrupted()
	}
	if bad > 0 {
		fmt.Fprintf(r.stderr, "%s: %d %s not queued (see above)\n", r.cmd, bad, plural(bad, "line was", "lines were"))
	}
	if r.once {
		r.d.Sync(ctx) // its outcome is in the status below
		if ctx.Err() != nil {
			return r.interrupted()
		}
		return r.exit()
	}
	return r.waitEmpty(ctx)
}

// queueAll queues lines as they come, a group at a time (one disk flush per
// group), acknowledging each queued scan on stdout after its commit. It
// returns the count of bad lines, and an exit code >= 0 to stop with.
func (r *runner) queueAll(ctx context.Context, lines <-chan inputLine) (bad, code int) {
	for {
		var group []inputLine
		select {
		case <-ctx.Done():
			return bad, -1
		case l, ok := <-lines:
			if !ok {
				return bad, -1
			}
			group = append(group, l)
		}
	more:
		for len(group) < maxGroup {
			select {
			case l, ok := <-lines:
				if !ok {
					break more
				}
				group = append(group, l)
			default:
				break more
			}
		}
		var scans []scanner.Scan
		var nums []int
		for _, l := range group {
			s, err := parseInputLine(l)
			if err != nil {
				bad++
				fmt.Fprintf(r.stderr, "%s: line %d: %v (not queued)\n", r.cmd, l.n, err)
				continue
			}
			scans, nums = append(scans, s), append(nums, l.n)
		}
		if len(scans) == 0 {
			continue
		}
		// Finish the commit even if interrupted meanwhile, so what is on
		// disk is what is acknowledged.
		qs, err := r.d.ScanAll(context.WithoutCancel(ctx), scans)
		if err != nil {
			fmt.Fprintf(r.stderr, "%s: lines %d to %d not queued: %v\n", r.cmd, nums[0], nums[len(nums)-1], err)
			return bad, scanner.ExitError
		}
		for i, q := range qs {
			line, _ := json.Marshal(ack{nums[i], q.TransactionID, api.FormatTime(q.Timestamp), "queued"})
			r.out.Write(append(line, '\n'))
		}
		if err := r.out.Flush(); err != nil {
			fmt.Fprintf(r.stderr, "%s: writing acknowledgements: %v\n", r.cmd, err)
			return bad, scanner.ExitError
		}
	}
}

func parseInputLine(l inputLine) (scanner.Scan, error) {
	if l.err != "" {
		return scanner.Scan{}, errors.New(l.err)
	}
	s, err := scanner.ParseScan(l.text)
	if err != nil {
		var ve *scanner.ValidationError
		if errors.As(err, &ve) {
			return scanner.Scan{}, errors.New(strings.Join(ve.Problems, "; "))
		}
		return scanner.Scan{}, err
	}
	s.At = l.at
	return s, nil
}

// readLines sends stdin's non-blank lines, numbered from 1 and stamped
// with the time they were read, and closes lines at the end.
func readLines(ctx context.Context, stdin io.Reader, now func() time.Time, lines chan<- inputLine, readErr chan<- error) {
	defer close(lines)
	br := bufio.NewReaderSize(stdin, maxLine)
	for n := 1; ; n++ {
		text, tooLong, err := readLine(br)
		l := inputLine{n: n, text: text, at: now()}
		if tooLong {
			l.err = fmt.Sprintf("longer than %d bytes", maxLine)
		}
		if len(bytes.TrimSpace(text)) > 0 || tooLong {
			select {
			case lines <- l:
			case <-ctx.Done():
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				readErr <- err
			}
			return
		}
	}
}

// readLine reads one line of at most maxLine bytes; a longer one is
// consumed and reported as too long.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			line = append(line, chunk...)
		}
		if err == bufio.ErrBufferFull {
			tooLong, line = true, nil
			continue
		}
		return line, tooLong, err
	}
}

func drain(ch <-chan error) error {
	select {
	case err := <-ch:
		return err
	default:
		return nil
	}
}

// waitEmpty waits, after the end of input, until nothing is queued.
func (r *runner) waitEmpty(ctx context.Context) int {
	for {
		st, err := r.d.Status()
		if err != nil {
			fmt.Fprintf(r.stderr, "%s: %v\n", r.cmd, err)
			return scanner.ExitError
		}
		if st.Queued == 0 {
			return r.exit()
		}
		if err := r.lastSyncErr(); errors.Is(err, scanner.ErrTokenRefused) {
			// Nothing changes without a new token: stop, keep the queue.
			return r.exit()
		}
		select {
		case <-ctx.Done():
			return r.interrupted()
		case <-r.synced:
		}
	}
}

// exit prints the final status and returns the exit code it calls for.
// (The sync error itself was logged by the Device.)
func (r *runner) exit() int {
	st, err := r.d.Status()
	if err != nil {
		fmt.Fprintf(r.stderr, "%s: %v\n", r.cmd, err)
		return scanner.ExitError
	}
	fmt.Fprintf(r.stderr, "%s: status %s: %d queued, %d rejected: %s\n", r.cmd, st.Status, st.Queued, st.Rejected, st.Message)
	switch {
	case st.Rejected > 0:
		return scanner.ExitRejected
	case st.Queued > 0:
		return scanner.ExitQueued
	}
	return scanner.ExitOK
}

func (r *runner) interrupted() int {
	if st, err := r.d.Status(); err == nil {
		fmt.Fprintf(r.stderr, "%s: interrupted; %d %s queued in %s, sent at the next start\n",
			r.cmd, st.Queued, plural(st.Queued, "scan stays", "scans stay"), r.dataDir)
	}
	return scanner.ExitOK
}

// progress prints a line per request while a backlog larger than one
// request drains.
func (r *runner) progress(p scanner.Progress) {
	if p.Total <= r.batchSize {
		return
	}
	fmt.Fprintf(r.stderr, "%s: synced %d/%d (accepted %d, duplicate %d, rejected %d)\n",
		r.cmd, p.Done, p.Total, p.Accepted, p.Duplicate, p.Rejected)
}

// afterSync is Run's report of each attempt.
func (r *runner) afterSync(rep scanner.SyncReport, err error) {
	if rep.Rejected+rep.LateRejected > 0 {
		fmt.Fprintf(r.stderr, "%s: %d %s rejected: see `invsync scanner rejections --data-dir %s`\n",
			r.cmd, rep.Rejected+rep.LateRejected, plural(rep.Rejected+rep.LateRejected, "scan", "scans"), r.dataDir)
	}
	r.setLastErr(err)
	select {
	case r.synced <- struct{}{}:
	default:
	}
}

// ack is the line printed for each queued scan:
// {"line":1,"transactionId":…,"timestamp":…,"status":"queued"}.
type ack struct {
	Line          int    `json:"line"`
	TransactionID string `json:"transactionId"`
	Timestamp     string `json:"timestamp"`
	Status        string `json:"status"`
}
