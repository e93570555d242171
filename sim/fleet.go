package sim

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/invsync/invsync/scanner"
)

// fleet is the scanner devices: one scanner.Device each (its own durable
// queue, its own token), uploading through the simulated network.
type fleet struct {
	world   *World
	clock   *clock
	rec     *recorder
	devices []*scanner.Device
	wg      sync.WaitGroup
}

// openFleet creates each scanner's token and opens its device.
func openFleet(ctx context.Context, cfg Config, w *World, clk *clock, rec *recorder, net *network, a *api) (*fleet, error) {
	f := &fleet{world: w, clock: clk, rec: rec}
	syncEvery := max(cfg.real(scanner.DefaultSyncEvery), 20*time.Millisecond)
	for i := range w.Scanners {
		sc := &w.Scanners[i]
		token, err := a.createToken(ctx, cfg.AdminToken, sc.ID, "scanner", []string{w.Warehouses[sc.WH]})
		if err != nil {
			f.close()
			return nil, fmt.Errorf("creating the token of scanner %s: %w", sc.ID, err)
		}
		skew := sc.Skew
		dev, err := scanner.Open(scanner.Config{
			URL: cfg.URL, Token: token, ScannerID: sc.ID,
			DataDir:    filepath.Join(cfg.WorkDir, "scanners", sc.ID),
			HTTPClient: net.client(sc),
			// The device's clock: real time plus its error. Scans are
			// stamped by the simulator (Scan.At); this clock gives sentAt,
			// from which the server learns the error and corrects it.
			Now:       func() time.Time { return time.Now().Add(skew) },
			SyncEvery: syncEvery,
			PollEvery: -1,
		})
		if err != nil {
			f.close()
			return nil, fmt.Errorf("opening scanner %s: %w", sc.ID, err)
		}
		f.devices = append(f.devices, dev)
	}
	return f, nil
}

// run starts every device's upload loop until ctx ends.
func (f *fleet) run(ctx context.Context) {
	for _, d := range f.devices {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			_ = d.Run(ctx)
		}()
	}
}

// scan queues scans taken at simulated moment t on scanner i, stamped with
// the device's clock (the moment plus its error), and records them.
func (f *fleet) scan(ctx context.Context, i int, t time.Duration, scans ...scanner.Scan) ([]string, error) {
	sc := &f.world.Scanners[i]
	for j := range scans {
		scans[j].At = f.clock.stamp(t).Add(sc.Skew)
	}
	q, err := f.devices[i].ScanAll(ctx, scans)
	if err != nil {
		return nil, fmt.Errorf("scanner %s queueing %d scans: %w", sc.ID, len(scans), err)
	}
	ids := make([]string, len(q))
	for j := range q {
		ids[j] = q[j].TransactionID
	}
	f.rec.queued(ids, i, time.Now(), !sc.offline(t))
	return ids, nil
}

// drain waits until every device that can reach the server (all of them
// once the day is over) has nothing queued, or until timeout, or until
// failed reports the run's failure; it returns how many scans were still
// queued then.
func (f *fleet) drain(ctx context.Context, t time.Duration, timeout time.Duration, failed func() error) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		if err := failed(); err != nil {
			return 0, err
		}
		left := 0
		for i, d := range f.devices {
			if !f.rec.dayOver() && f.world.Scanners[i].offline(t) {
				continue
			}
			st, err := d.Status()
			if err != nil {
				return 0, fmt.Errorf("reading the status of scanner %s: %w", f.world.Scanners[i].ID, err)
			}
			left += st.Queued
		}
		if left == 0 || time.Now().After(deadline) {
			return left, nil
		}
		select {
		case <-ctx.Done():
			return left, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// pending counts what every device still holds: queued scans and
// rejections waiting for the operator.
func (f *fleet) pending() (queued, rejected int, err error) {
	for i, d := range f.devices {
		st, e := d.Status()
		if e != nil {
			return 0, 0, fmt.Errorf("reading the status of scanner %s: %w", f.world.Scanners[i].ID, e)
		}
		queued += st.Queued
		rejected += st.Rejected
	}
	return queued, rejected, nil
}

// close stops the devices and waits for their loops.
func (f *fleet) close() error {
	var errs []error
	for _, d := range f.devices {
		errs = append(errs, d.Close())
	}
	f.wg.Wait()
	return errors.Join(errs...)
}
