package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Files in a broker's data dir that tie a broker process to its supervisor.
const (
	// brokerLockFile is held (exclusively) by the broker process for as
	// long as it runs: a supervisor that finds it held knows the broker
	// is alive.
	brokerLockFile = "broker.lock"
	// stateFile says where the running broker listens and its pid.
	stateFile = "broker.json"
	// ownerLockFile is held by the supervising `invsync serve`; a broker
	// whose owner lock nobody holds for OrphanTimeout stops.
	ownerLockFile = "owner.lock"
	// LogFile receives the broker process's output.
	LogFile = "broker.log"
)

// processState is the content of stateFile.
type processState struct {
	PID       int       `json:"pid"`
	Addr      string    `json:"addr"`
	StartedAt time.Time `json:"startedAt"`
}

// ProcessConfig configures the broker's side of a broker process.
type ProcessConfig struct {
	Config
	// Supervised: the broker watches its data dir's owner lock and stops
	// once no supervisor has held it for OrphanTimeout (default 5
	// minutes), so a broker whose serve crashed and was not restarted
	// does not run forever.
	Supervised    bool
	OrphanTimeout time.Duration
	// Ready, when set, is called once the broker listens.
	Ready func(addr string)
}

// ErrBrokerRunning: another broker process already uses the data dir.
var ErrBrokerRunning = errors.New("an embedded broker is already running on this data dir")

// ErrDataDirGone: the broker's data dir was removed (or replaced) while it
// ran. Its log and locks went with it, so it cannot keep any promise; it
// stops instead of holding its port forever.
var ErrDataDirGone = errors.New("the embedded broker's data dir was removed while it ran")

// ErrBrokerStopped: the broker stopped by itself. It does so after a failed
// fsync of its log, rather than acknowledge writes that may not be on disk;
// a restart recovers from what is.
var ErrBrokerStopped = errors.New("the embedded broker stopped")

// RunProcess runs the broker until ctx ends (or, when supervised, until it
// has been orphaned for OrphanTimeout), then closes it, flushing its log.
// A broker whose data dir is removed under it stops with ErrDataDirGone. It
// holds the data dir's broker lock the whole time and publishes its address
// and pid in the state file.
func RunProcess(ctx context.Context, cfg ProcessConfig) error {
	if cfg.OrphanTimeout <= 0 {
		cfg.OrphanTimeout = 5 * time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("creating embedded broker data dir: %w", err)
	}
	dirInfo, err := os.Stat(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("embedded broker data dir: %w", err)
	}
	lock, err := tryLock(filepath.Join(cfg.DataDir, brokerLockFile), false)
	if errors.Is(err, errLocked) {
		st, _ := readState(cfg.DataDir)
		return fmt.Errorf("%w (%s, pid %d); stop it first with: invsync broker stop --data-dir %s",
			ErrBrokerRunning, st.Addr, st.PID, filepath.Dir(cfg.DataDir))
	}
	if err != nil {
		return err
	}
	defer lock.release()
	b, err := Start(cfg.Config)
	if err != nil {
		return err
	}
	abandoned := false
	defer func() {
		if !abandoned {
			b.Close()
		}
	}()
	statePath := filepath.Join(cfg.DataDir, stateFile)
	if err := writeState(statePath, processState{PID: os.Getpid(), Addr: b.Addr(), StartedAt: time.Now().UTC()}); err != nil {
		return err
	}
	defer os.Remove(statePath)
	if cfg.Ready != nil {
		cfg.Ready(b.Addr())
	}
	err = watch(ctx, cfg, dirInfo, b.Stopped(), b.Err, log)
	if errors.Is(err, ErrDataDirGone) {
		// Closing would flush the log into a data dir that is no
		// longer there (recreating it); release the port and leave.
		abandoned = true
		b.abandon()
	}
	return err
}

// watch returns nil once ctx ends or, when supervised, nobody has held the
// owner lock for the orphan timeout; ErrDataDirGone once the data dir is no
// longer the one the broker started on; ErrBrokerStopped once the broker
// has stopped by itself (stopped closes; why says why), so the process
// exits non-zero and its supervisor sees it go.
func watch(ctx context.Context, cfg ProcessConfig, dirInfo os.FileInfo, stopped <-chan struct{}, why func() error, log *slog.Logger) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	ownerPath := filepath.Join(cfg.DataDir, ownerLockFile)
	var orphanedAt time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stopped:
			return fmt.Errorf("%w: %w", ErrBrokerStopped, why())
		case <-tick.C:
		}
		if now, err := os.Stat(cfg.DataDir); err != nil || !os.SameFile(now, dirInfo) {
			log.Error("the embedded broker's data dir is gone; stopping", "data_dir", cfg.DataDir)
			return fmt.Errorf("%w (%s); stopping", ErrDataDirGone, cfg.DataDir)
		}
		if !cfg.Supervised {
			continue
		}
		owned, err := held(ownerPath)
		switch {
		case err != nil:
			log.Warn("cannot check the embedded broker's owner lock", "err", err)
		case owned:
			if !orphanedAt.IsZero() {
				log.Info("an invsync serve took over the embedded broker")
			}
			orphanedAt = time.Time{}
		case orphanedAt.IsZero():
			orphanedAt = time.Now()
			log.Warn("the invsync serve using this broker is gone; waiting for it to restart", "stopping_in", cfg.OrphanTimeout)
		case time.Since(orphanedAt) >= cfg.OrphanTimeout:
			log.Warn("no invsync serve took the broker over; stopping", "orphaned_for", time.Since(orphanedAt).Round(time.Second))
			return nil
		}
	}
}

func writeState(path string, st processState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing embedded broker state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing embedded broker state: %w", err)
	}
	return nil
}

func readState(dir string) (processState, error) {
	var st processState
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("reading %s: %w", filepath.Join(dir, stateFile), err)
	}
	return st, nil
}
