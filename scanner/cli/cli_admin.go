package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/invsync/invsync/scanner"
)

var dataDirFlag = cliFlag{name: "data-dir", env: "INVSYNC_SCANNER_DATA_DIR", help: "directory of the scanner's queue"}
var jsonFlag = cliFlag{name: "json", isBool: true, help: "print JSON"}

// openExisting opens the queue in dir for the operator commands (no server:
// they work offline, beside a running scanner). It refuses a directory
// without a queue rather than creating an empty one.
func openExisting(dir string) (*scanner.Device, error) {
	if _, err := os.Stat(filepath.Join(dir, scanner.DBFile)); err != nil {
		return nil, fmt.Errorf("no scanner queue in %s (%s not found)", dir, scanner.DBFile)
	}
	return scanner.Open(scanner.Config{DataDir: dir})
}

// adminCommand parses an operator command's flags, opens the queue and runs
// do with it.
func adminCommand(ctx context.Context, name, usage string, args []string, specs []cliFlag, stdout, stderr io.Writer,
	getenv func(string) string, check func(*cliArgs), do func(*scanner.Device, cliArgs) int) int {
	cmd := "invsync scanner " + name
	specs = append([]cliFlag{dataDirFlag}, specs...)
	a := parseCLI(args, specs, getenv)
	if a.help {
		fmt.Fprint(stdout, usage)
		printFlags(stdout, specs)
		return scanner.ExitOK
	}
	a.require(specs, "data-dir")
	check(&a)
	if len(a.problems) > 0 {
		return reportProblems(stderr, cmd, a.problems)
	}
	d, err := openExisting(a.vals["data-dir"])
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return scanner.ExitError
	}
	defer d.Close()
	return do(d, a)
}

func noArgs(a *cliArgs) {
	for _, x := range a.args {
		a.problems = append(a.problems, fmt.Sprintf("unexpected argument %q", x))
	}
}

// showCommand is an operator command that reads one thing from the queue
// (read) and prints it: as JSON with --json (asJSON gives the value to
// encode), as text otherwise (text writes it and returns the exit code).
func showCommand[T any](ctx context.Context, name, usage string, args []string, stdout, stderr io.Writer, getenv func(string) string,
	read func(*scanner.Device) (T, error), asJSON func(T) any, text func(T) int) int {
	return adminCommand(ctx, name, usage, args, []cliFlag{jsonFlag}, stdout, stderr, getenv, noArgs, func(d *scanner.Device, a cliArgs) int {
		v, err := read(d)
		if err != nil {
			fmt.Fprintf(stderr, "invsync scanner %s: %v\n", name, err)
			return scanner.ExitError
		}
		if a.vals["json"] == "true" {
			return printJSON(stdout, stderr, asJSON(v))
		}
		return text(v)
	})
}

func statusMain(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	const usage = "Usage: invsync scanner status --data-dir DIR [--json]\n\nPrints the scanner's status from its queue (no network needed):\n" +
		"green (nothing queued, no rejection, last sync succeeded), yellow (scans queued or offline),\n" +
		"red (a rejection waits, the token was refused, or no successful sync for 5 minutes while online).\n" +
		"--json prints {\"status\", \"queued\", \"rejected\", \"lastSyncAt\" (RFC 3339 or null), \"message\", ...}.\n\n"
	asJSON := func(st scanner.Status) any { return st }
	return showCommand(ctx, "status", usage, args, stdout, stderr, getenv, (*scanner.Device).Status, asJSON, func(st scanner.Status) int {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "status\t%s\n", strings.ToUpper(st.Status))
		fmt.Fprintf(tw, "scanner\t%s\n", st.ScannerID)
		fmt.Fprintf(tw, "queued\t%d\n", st.Queued)
		fmt.Fprintf(tw, "rejected\t%d\n", st.Rejected)
		fmt.Fprintf(tw, "last sync\t%s\n", ago(st.LastSyncAt))
		fmt.Fprintf(tw, "last attempt\t%s\n", ago(st.LastAttemptAt))
		if st.OldestQueuedAt != nil {
			fmt.Fprintf(tw, "oldest queued\t%s\n", ago(st.OldestQueuedAt))
		}
		fmt.Fprintf(tw, "message\t%s\n", st.Message)
		tw.Flush()
		return scanner.ExitOK
	})
}

func ago(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return fmt.Sprintf("%s (%s ago)", t.Format(time.RFC3339), time.Since(*t).Round(time.Second))
}

func rejectionsMain(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	const usage = "Usage: invsync scanner rejections --data-dir DIR [--json]\n\nLists the rejected scans waiting for attention, oldest first, with the\n" +
		"server's code and message. Stage \"ingest\": never written; \"apply\": accepted, then not applied.\n" +
		"Then: retry (VERSION_CONFLICT), correct, or dismiss each.\n--json prints {\"rejections\": [...]}.\n\n"
	asJSON := func(rs []scanner.Rejection) any {
		if rs == nil {
			rs = []scanner.Rejection{}
		}
		return map[string]any{"rejections": rs}
	}
	return showCommand(ctx, "rejections", usage, args, stdout, stderr, getenv, (*scanner.Device).Rejections, asJSON, func(rs []scanner.Rejection) int {
		if len(rs) == 0 {
			fmt.Fprintln(stdout, "no rejected scans")
			return scanner.ExitOK
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TRANSACTION\tSCANNED\tTYPE\tWAREHOUSE/ITEM/LOCATION\tQTY\tSTAGE\tCODE\tMESSAGE")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s/%s\t%d\t%s\t%s\t%s\n", r.TransactionID, r.Timestamp.Format(time.RFC3339),
				r.Scan.Type, r.Scan.WarehouseID, r.Scan.ItemID, r.Scan.LocationID, r.Scan.Quantity, r.Stage, r.Code, r.Message)
		}
		tw.Flush()
		return scanner.ExitOK
	})
}

func dismissMain(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	const usage = "Usage: invsync scanner dismiss --data-dir DIR TXID... | --all\n\nCloses rejections without replacing them (kept in the history as dismissed).\n\n"
	all := cliFlag{name: "all", isBool: true, help: "dismiss every rejection waiting"}
	check := func(a *cliArgs) {
		if (a.vals["all"] == "true") == (len(a.args) > 0) {
			a.problems = append(a.problems, "give either transaction ids or --all")
		}
	}
	return adminCommand(ctx, "dismiss", usage, args, []cliFlag{all}, stdout, stderr, getenv, check, func(d *scanner.Device, a cliArgs) int {
		if a.vals["all"] == "true" {
			n, err := d.DismissAll()
			if err != nil {
				fmt.Fprintf(stderr, "invsync scanner dismiss: %v\n", err)
				return scanner.ExitError
			}
			fmt.Fprintf(stdout, "dismissed %d %s\n", n, plural(n, "rejection", "rejections"))
			return scanner.ExitOK
		}
		code := scanner.ExitOK
		for _, id := range a.args {
			if err := d.Dismiss(id); err != nil {
				fmt.Fprintf(stderr, "invsync scanner dismiss: %v\n", err)
				code = scanner.ExitError
				continue
			}
			fmt.Fprintf(stdout, "dismissed %s\n", id)
		}
		return code
	})
}

func retryMain(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	const usage = "Usage: invsync scanner retry --data-dir DIR TXID --expected-version N\n\n" +
		"Answers a VERSION_CONFLICT: queues the same scan (same device time) under a new transactionId\n" +
		"with expectedVersion N, and closes the rejection. A running scanner sends it at its next sync.\n\n"
	ev := cliFlag{name: "expected-version", help: "the record's current version, as seen now"}
	var version int64
	check := func(a *cliArgs) {
		if len(a.args) != 1 {
			a.problems = append(a.problems, "give exactly one transaction id")
		}
		v, err := strconv.ParseInt(a.vals["expected-version"], 10, 64)
		if err != nil || v < 0 {
			a.problems = append(a.problems, fmt.Sprintf("--expected-version %q must be a whole number >= 0", a.vals["expected-version"]))
		}
		version = v
	}
	return adminCommand(ctx, "retry", usage, args, []cliFlag{ev}, stdout, stderr, getenv, check, func(d *scanner.Device, a cliArgs) int {
		q, err := d.RetryWithVersion(a.args[0], version)
		if err != nil {
			fmt.Fprintf(stderr, "invsync scanner retry: %v\n", err)
			return scanner.ExitError
		}
		fmt.Fprintf(stdout, "queued %s (retry of %s with expectedVersion %d)\n", q.TransactionID, a.args[0], version)
		return scanner.ExitOK
	})
}

func correctMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	const usage = "Usage: invsync scanner correct --data-dir DIR TXID 'JSON scan' | -\n\n" +
		"Replaces a rejected scan with a corrected one (same input shape as a line of the run; - reads it\n" +
		"from stdin): queued under a new transactionId with the rejected scan's device time.\n\n"
	check := func(a *cliArgs) {
		if len(a.args) != 2 {
			a.problems = append(a.problems, "give a transaction id and the corrected scan as JSON (or -)")
		}
	}
	return adminCommand(ctx, "correct", usage, args, nil, stdout, stderr, getenv, check, func(d *scanner.Device, a cliArgs) int {
		text := []byte(a.args[1])
		if a.args[1] == "-" {
			var err error
			if text, err = io.ReadAll(io.LimitReader(stdin, maxLine)); err != nil {
				fmt.Fprintf(stderr, "invsync scanner correct: reading stdin: %v\n", err)
				return scanner.ExitError
			}
		}
		s, err := scanner.ParseScan(text)
		if err != nil {
			fmt.Fprintf(stderr, "invsync scanner correct: %v\n", err)
			return scanner.ExitUsage
		}
		q, err := d.Correct(a.args[0], s)
		if err != nil {
			fmt.Fprintf(stderr, "invsync scanner correct: %v\n", err)
			if errors.Is(err, scanner.ErrInvalidScan) {
				return scanner.ExitUsage
			}
			return scanner.ExitError
		}
		fmt.Fprintf(stdout, "queued %s (correction of %s)\n", q.TransactionID, a.args[0])
		return scanner.ExitOK
	})
}

func printJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "invsync scanner: writing JSON: %v\n", err)
		return scanner.ExitError
	}
	return scanner.ExitOK
}
