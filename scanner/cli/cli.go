// Package cli is the `invsync scanner` command: a scanner device reading
// scans from standard input (the run), and its operator commands (status,
// rejections, dismiss, retry, correct), with their own flag parser. The
// device itself is package scanner; cmd/invsync and internal/scannermain
// call Main.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/invsync/invsync/scanner"
)

// Main is `invsync scanner`: args are what follows "scanner". It reads
// flags, the environment (INVSYNC_SCANNER_*) and, for the run, scans from
// stdin; it returns the exit code. ctx ending (SIGINT/SIGTERM in the
// command) stops it cleanly with the queue kept.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return mainWith(ctx, args, stdin, stdout, stderr, os.Getenv)
}

func mainWith(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 {
		switch args[0] {
		case "status":
			return statusMain(ctx, args[1:], stdout, stderr, getenv)
		case "rejections":
			return rejectionsMain(ctx, args[1:], stdout, stderr, getenv)
		case "dismiss":
			return dismissMain(ctx, args[1:], stdout, stderr, getenv)
		case "retry":
			return retryMain(ctx, args[1:], stdout, stderr, getenv)
		case "correct":
			return correctMain(ctx, args[1:], stdin, stdout, stderr, getenv)
		case "help":
			fmt.Fprint(stdout, runUsage)
			return scanner.ExitOK
		}
	}
	return runMain(ctx, args, stdin, stdout, stderr, getenv)
}

const runUsage = `invsync scanner: act as a scanner device. Reads scans from standard input,
one JSON transaction per line, queues each durably and uploads them to invsync.

Usage:
  invsync scanner --url URL --scanner-id ID --data-dir DIR [--once] [flags] < scans.jsonl
  invsync scanner status     --data-dir DIR [--json]
  invsync scanner rejections --data-dir DIR [--json]
  invsync scanner dismiss    --data-dir DIR TXID | --all
  invsync scanner retry      --data-dir DIR TXID --expected-version N
  invsync scanner correct    --data-dir DIR TXID 'JSON scan' | -   (- reads it from stdin)

Input: one scan per line, in the upload's transaction shape without
transactionId and timestamp, which the scanner sets when it reads the line:
  {"type":"CYCLE_COUNT","warehouseId":"WH-001","itemId":"ITEM-12345",
   "locationId":"A-05-02","lotNumber":"LOT-2024-089","quantity":95,"userId":"u23"}
Fields: type (RECEIPT, PICK, MOVE, ADJUSTMENT, CYCLE_COUNT), warehouseId,
itemId, locationId, quantity (required); lotNumber, toLocationId (MOVE only,
required there), expectedVersion, allocationId (PICK only), override, userId,
reasonCode, countTaskId (CYCLE_COUNT only). Blank lines are skipped.

Output: each scan queued durably is acknowledged on standard output, one
JSON line, once it is on disk (it survives kill -9 and power loss from then):
  {"line":1,"transactionId":"0b6f...","timestamp":"2026-11-26T10:00:02.000Z","status":"queued"}
A bad line is reported on standard error with its line number and is not
queued; the other lines go on. A line without an acknowledgement may or may
not have been queued when the process died. Progress and sync problems go to
standard error.

Syncing: uploads go oldest first, at most 1000 scans and 1 MiB a request,
at once while the server answers and every --sync-every otherwise;
unanswered requests are resent with the same transactions. Without --once
it runs until standard input is closed and nothing is left queued, or until
SIGINT/SIGTERM (exit 0, the queue is kept and sent at the next start).
With --once it reads all of standard input, makes one sync attempt and exits.

Exit codes: 0 nothing left queued; 3 scans remain queued (offline, server
failing, or token refused); 4 rejected scans wait for attention (see
rejections, then retry, correct or dismiss); 2 bad flags; 1 the queue could
not be opened or written.

Status: green (nothing queued, no rejection, last sync succeeded), yellow
(scans queued or offline), red (a rejection waits, the token was refused, or
the server has been reachable for 5 minutes without a successful sync).

The token: prefer INVSYNC_SCANNER_TOKEN; a --token flag is visible to other
users of the machine in ps.

Flags of the run:
`
