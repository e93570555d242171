package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// startRunMirror starts, for `invsync bench --mirror DB`, a mirror of
// the bench's topics into DB and the watch of its lag (StartMirror).
// finish, called with the run's report, stops it, puts a one-line summary
// in the report's settings (so --json carries it) and writes the lag per
// phase to w. With an empty db nothing runs and finish does nothing.
func startRunMirror(ctx context.Context, db string, cfg Config, stderr io.Writer) (finish func(rep *Report, w io.Writer), err error) {
	if db == "" {
		return func(*Report, io.Writer) {}, nil
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	mw, err := StartMirror(ctx, MirrorConfig{Database: db, Brokers: cfg.Brokers, TopicPrefix: cfg.TopicPrefix, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("starting the mirror: %w", err)
	}
	fmt.Fprintf(stderr, "invsync bench: mirroring the topics into %s alongside the load\n", db)
	return func(rep *Report, w io.Writer) {
		lag := mw.Stop(*rep, 2*time.Minute)
		if rep.Settings == nil {
			rep.Settings = map[string]string{}
		}
		rep.Settings["mirror"] = lag.Summary()
		lag.WriteTable(w)
	}, nil
}
