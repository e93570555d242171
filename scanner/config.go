package scanner

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Limits of one upload, as the server enforces them (413 beyond).
const (
	// MaxBatch is the most transactions one request may carry.
	MaxBatch = 1000
	// MaxBodyBytes is the largest request body the server reads.
	MaxBodyBytes = 1 << 20
)

// Defaults of the Config fields left zero.
const (
	DefaultSyncEvery      = 30 * time.Second
	DefaultRequestTimeout = 30 * time.Second
	DefaultRedAfter       = 5 * time.Minute
	DefaultPollEvery      = time.Minute
	DefaultRetention      = 30 * 24 * time.Hour
)

// Config describes one scanner device. The zero value of every optional
// field means its default; Validate reports every problem at once.
type Config struct {
	// URL is the invsync base URL, such as https://invsync.example:8080.
	// Empty opens the queue without a server: scans are queued and the
	// operator functions (Status, Rejections, Dismiss, RetryWithVersion,
	// Correct) work, Sync returns ErrNoServer. Several such Devices may
	// share a data directory with the one that syncs.
	URL string
	// Token is the scanner's bearer token. Required with URL. It is never
	// written to disk (only a fingerprint of a refused one).
	Token string
	// ScannerID is sent as the upload's scannerId. Required with URL. A
	// data directory is bound to the scanner id it first queued under;
	// opening it with another returns ErrScannerMismatch. Without URL it
	// may be empty (the stored one is used).
	ScannerID string
	// DataDir holds scanner.db (the queue); created if missing.
	DataDir string

	// HTTPClient sends the uploads. Default: one client shared by every
	// Device of the process (so a fleet shares its connection pool).
	// Its Timeout, if any, applies on top of RequestTimeout.
	HTTPClient *http.Client
	// Now is the device clock. Default time.Now.
	Now func() time.Time
	// SyncEvery is Run's interval between sync attempts (a new scan is
	// also sent at once while the server answers). Default 30s.
	SyncEvery time.Duration
	// BatchSize bounds the transactions of one request. Default and
	// maximum MaxBatch (1000).
	BatchSize int
	// MaxBodyBytes bounds one request body. Default and maximum
	// MaxBodyBytes (1 MiB).
	MaxBodyBytes int
	// RequestTimeout bounds one HTTP request, answer included (the
	// server waits up to 10 s for ?wait=applied). Default 30s.
	RequestTimeout time.Duration
	// RedAfter: with the server reachable but no successful sync for this
	// long, the status turns red. Default 5m.
	RedAfter time.Duration
	// PollEvery: scans synced with a pending or held outcome are asked
	// about (GET /v1/transactions/{id}) at most this often, for a day, so
	// a late rejection shows up. Default 1m; negative turns polling off.
	PollEvery time.Duration
	// Retention: synced, dismissed and replaced scans are kept in the
	// history this long. Default 30 days.
	Retention time.Duration

	// Logger receives sync failures and state changes. Default: discard.
	Logger *slog.Logger
	// Progress, when set, is called after every answered request of a
	// Sync, from the syncing goroutine. It should return quickly.
	Progress func(Progress)
	// AfterSync, when set, is called by Run after each sync attempt, from
	// Run's goroutine (it may call the Device's methods). It should return
	// quickly: Run waits for it.
	AfterSync func(SyncReport, error)
}

// Progress is reported after each answered request of a Sync.
type Progress struct {
	// Total is the number of scans queued when the Sync began.
	Total int
	// Done counts the scans answered so far in this Sync (accepted,
	// duplicate or rejected).
	Done int
	// Accepted, Duplicate and Rejected split Done.
	Accepted, Duplicate, Rejected int
}

// Validate reports every problem of c at once (a *ValidationError), or nil.
func (c Config) Validate() error {
	var p []string
	if strings.TrimSpace(c.DataDir) == "" {
		p = append(p, "DataDir is required (the directory of the scan queue)")
	} else if strings.ContainsAny(c.DataDir, "?#") {
		p = append(p, fmt.Sprintf("DataDir %q must not contain ? or #", c.DataDir))
	}
	if c.URL != "" {
		if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p = append(p, fmt.Sprintf("URL %q must be an absolute http:// or https:// URL such as https://invsync.example:8080", c.URL))
		} else if u.RawQuery != "" || u.Fragment != "" {
			p = append(p, fmt.Sprintf("URL %q must not carry a query or fragment", c.URL))
		}
		if c.Token == "" {
			p = append(p, "Token is required with URL (the scanner's bearer token)")
		}
		if c.ScannerID == "" {
			p = append(p, "ScannerID is required with URL")
		}
	}
	if strings.ContainsFunc(c.Token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		p = append(p, "Token must not contain spaces or control characters")
	}
	if msg := checkPrintable(c.ScannerID, 128); msg != "" {
		p = append(p, "ScannerID "+msg)
	}
	if c.BatchSize < 0 || c.BatchSize > MaxBatch {
		p = append(p, fmt.Sprintf("BatchSize %d must be between 1 and %d (0 means %d)", c.BatchSize, MaxBatch, MaxBatch))
	}
	if c.MaxBodyBytes != 0 && (c.MaxBodyBytes < 16<<10 || c.MaxBodyBytes > MaxBodyBytes) {
		p = append(p, fmt.Sprintf("MaxBodyBytes %d must be between %d and %d (0 means %d)", c.MaxBodyBytes, 16<<10, MaxBodyBytes, MaxBodyBytes))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"SyncEvery", c.SyncEvery}, {"RequestTimeout", c.RequestTimeout}, {"RedAfter", c.RedAfter}, {"Retention", c.Retention}} {
		if d.v < 0 {
			p = append(p, fmt.Sprintf("%s %s must not be negative (0 means the default)", d.name, d.v))
		}
	}
	if len(p) > 0 {
		return &ValidationError{What: "config", Problems: p}
	}
	return nil
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.HTTPClient == nil {
		c.HTTPClient = sharedClient
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.SyncEvery = cmp.Or(c.SyncEvery, DefaultSyncEvery)
	c.BatchSize = cmp.Or(c.BatchSize, MaxBatch)
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, MaxBodyBytes)
	c.RequestTimeout = cmp.Or(c.RequestTimeout, DefaultRequestTimeout)
	c.RedAfter = cmp.Or(c.RedAfter, DefaultRedAfter)
	c.PollEvery = cmp.Or(c.PollEvery, DefaultPollEvery)
	c.Retention = cmp.Or(c.Retention, DefaultRetention)
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c.URL = strings.TrimRight(c.URL, "/")
	return c
}

// sharedClient is the default HTTP client: one connection pool for every
// Device of the process. It is never changed after start.
var sharedClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	ForceAttemptHTTP2:     true,
	MaxIdleConns:          256,
	MaxIdleConnsPerHost:   64,
	IdleConnTimeout:       90 * time.Second,
	TLSHandshakeTimeout:   10 * time.Second,
	ExpectContinueTimeout: time.Second,
}}

// checkPrintable returns "" or what is wrong with an identifier: printable
// and at most max bytes, the rule the server applies to every id.
func checkPrintable(s string, max int) string {
	if len(s) > max {
		return fmt.Sprintf("is %d bytes long, the limit is %d", len(s), max)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "contains a control character"
	}
	return ""
}

// plainTextRemote reports whether u sends the token unencrypted to
// another machine (http:// to a non-loopback host).
func plainTextRemote(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
