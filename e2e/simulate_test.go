package e2e

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/invsync/invsync/sim"
)

// simulateSmall runs a small day (2 warehouses, 2 scanners each, 1 hour)
// against inst with the given rates, under its own id prefix, with a
// mirror of its own reporting to inst.
func simulateSmall(t *testing.T, inst *testInstance, prefix string, rates sim.Rates) sim.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cfg := sim.Config{Seed: 7, Warehouses: 2, ScannersPerWarehouse: 2, Locations: 40, Items: 20, Hours: 1, Speed: 900,
		IDPrefix: prefix, Rates: rates, URL: inst.url, AdminToken: testAdminToken,
		Brokers: inst.brokers(), TopicPrefix: inst.cfg.TopicPrefix, WorkDir: filepath.Join(dir, "sim"),
		Progress: testWriter{t}}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	stop, err := sim.StartMirror(ctx, &cfg, dir, log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	res, err := sim.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("simulating: %v", err)
	}
	var table bytes.Buffer
	_ = sim.WriteTable(&table, res)
	t.Log("\n" + table.String())
	// What every run must hold, whatever the disturbances.
	if !res.Completed || res.Lost != 0 || res.Duplicated != 0 || res.CloudAgreement != 1 {
		t.Errorf("completed %v, lost %d, duplicated %d, cloud agreement %v; want true, 0, 0, 1",
			res.Completed, res.Lost, res.Duplicated, res.CloudAgreement)
	}
	if res.Transactions <= res.Records {
		t.Errorf("%d transactions for %d records: the day did nothing beyond the opening stock", res.Transactions, res.Records)
	}
	return res
}

// TestSimulateAccounting checks the simulator's books on small days: with
// every disturbance off all three systems are exact and oversell nothing;
// with shrinkage alone and no counts, exactly the records shrinkage
// touched are wrong, in every system; a cloud outage loses updates in the
// story's before only; late offline counts make only the last-write-wins
// systems wrong; with mis-keys, the story's systems apply the typos and
// invsync holds them.
func TestSimulateAccounting(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve and runs three simulated hours")
	}
	inst := startInstance(t, testConfig(t))

	t.Run("quiet", func(t *testing.T) {
		r := sim.DefaultRates().Quiet()
		r.CountsPerDay = [3]float64{6, 6, 6} // counts race picks and moves: the count rules must keep it exact
		res := simulateSmall(t, inst, "q-", r)
		if res.RecordAccuracy != 1 || res.RecordAccuracyTolerance != 1 || res.Oversells != 0 || res.AllocationErrors != 0 {
			t.Errorf("quiet day: accuracy %v (tolerance %v), oversells %d, allocation errors %d; want 1, 1, 0, 0",
				res.RecordAccuracy, res.RecordAccuracyTolerance, res.Oversells, res.AllocationErrors)
		}
		if res.Allocations == 0 || res.Counts == 0 || res.LatencySamples == 0 {
			t.Errorf("quiet day allocated %d, counted %d, timed %d scans: want some of each", res.Allocations, res.Counts, res.LatencySamples)
		}
		if res.MisKeys != 0 || res.UnseenSlots != 0 || res.OfflineScans != 0 {
			t.Errorf("quiet day had %d mis-keys, %d records changed unscanned, %d offline scans", res.MisKeys, res.UnseenSlots, res.OfflineScans)
		}
		for _, name := range sim.Systems {
			s := res.Systems[name]
			if s.RecordAccuracy != 1 || s.CountAccuracy != 1 || s.Oversells != 0 || s.AllocationErrors != 0 ||
				s.Lost != 0 || s.CloudAgreement != 1 || len(s.Causes) != 0 || s.Counts == 0 || s.Confirmed == 0 {
				t.Errorf("quiet day, %s: %+v; want exact, no errors, some counts and allocations", name, s)
			}
		}
	})

	t.Run("cloud outages", func(t *testing.T) {
		r := sim.DefaultRates().Quiet()
		r.CloudOutages, r.FloorPicks, r.Receipts = 24*6, 24*20, 24*20 // about 6 brief outages in the hour, and scans during them
		res := simulateSmall(t, inst, "o-", r)
		before, after, inv := res.Systems[sim.SystemStoryBefore], res.Systems[sim.SystemStoryAfter], res.Systems[sim.SystemInvsync]
		if res.CloudOutages == 0 || before.Lost == 0 || before.CloudAgreement == 1 {
			t.Errorf("%d outages: the before lost %d updates, cloud agreement %v; want some lost, and disagreement",
				res.CloudOutages, before.Lost, before.CloudAgreement)
		}
		if after.Lost != 0 || after.CloudAgreement != 1 || inv.Lost != 0 || inv.CloudAgreement != 1 {
			t.Errorf("after: lost %d, agreement %v; invsync: lost %d, agreement %v; want 0 and 1", after.Lost, after.CloudAgreement, inv.Lost, inv.CloudAgreement)
		}
		for _, name := range sim.Systems {
			if s := res.Systems[name]; s.RecordAccuracy != 1 {
				t.Errorf("%s: the warehouse's records %v; an outage of the cloud must not touch them", name, s.RecordAccuracy)
			}
		}
	})

	t.Run("late offline counts", func(t *testing.T) {
		r := sim.DefaultRates().Quiet()
		r.DeadZones, r.CountsPerDay, r.FloorPicks = 48, [3]float64{24, 24, 24}, 24*20
		res := simulateSmall(t, inst, "d-", r)
		before, after, inv := res.Systems[sim.SystemStoryBefore], res.Systems[sim.SystemStoryAfter], res.Systems[sim.SystemInvsync]
		if res.OfflineScans == 0 || inv.RecordAccuracy != 1 {
			t.Errorf("%d offline scans; invsync %v (causes %v); want some, and exact", res.OfflineScans, inv.RecordAccuracy, inv.Causes)
		}
		if before.RecordAccuracy == 1 || before.Causes[sim.CauseLateCount] == 0 {
			t.Errorf("the before (counts keyed in from paper later): %v, causes %v; want wrong records owed to late counts", before.RecordAccuracy, before.Causes)
		}
		t.Logf("the after: %v, causes %v", after.RecordAccuracy, after.Causes)
	})

	t.Run("shrinkage without counts", func(t *testing.T) {
		r := sim.DefaultRates().Quiet()
		r.Shrinkage, r.Damage, r.OrderLines, r.CountsPerDay = 400, 200, 0, [3]float64{}
		res := simulateSmall(t, inst, "s-", r)
		want := 1 - float64(res.UnseenSlots)/float64(res.Records)
		if res.UnseenSlots == 0 || res.RecordAccuracy != want || res.LWWRecordAccuracy != want {
			t.Errorf("%d of %d records shrank unseen: accuracy %v, last-write-wins %v; want both %v (and some shrinkage)",
				res.UnseenSlots, res.Records, res.RecordAccuracy, res.LWWRecordAccuracy, want)
		}
	})

	t.Run("mis-keys", func(t *testing.T) {
		r := sim.DefaultRates().Quiet()
		r.MisKey, r.CountsPerDay = 0.3, [3]float64{24, 24, 24}
		res := simulateSmall(t, inst, "m-", r)
		if res.MisKeys == 0 || res.HeldCounts == 0 {
			t.Fatalf("%d mis-keys, %d held counts: want some of each", res.MisKeys, res.HeldCounts)
		}
		if !(res.LWWRecordAccuracy < 1 && res.RecordAccuracy > res.LWWRecordAccuracy && res.RecordAccuracy >= 0.95) {
			t.Errorf("with mis-keys: invsync %v, last-write-wins %v; want last-write-wins below 1 and invsync above it (at least 0.95)",
				res.RecordAccuracy, res.LWWRecordAccuracy)
		}
		inv := res.Systems[sim.SystemInvsync]
		// invsync holds them; one gets through only when the supervisor
		// approves it (two recounts typed wrong alike, or three that never
		// agree: at this mis-key rate, it happens).
		if inv.Causes[sim.CauseMisKeyed] > res.ApprovedCounts {
			t.Errorf("invsync applied %d mis-keyed counts, %d approved", inv.Causes[sim.CauseMisKeyed], res.ApprovedCounts)
		}
		for _, name := range []string{sim.SystemStoryAfter, sim.SystemStoryBefore} {
			if s := res.Systems[name]; s.Causes[sim.CauseMisKeyed] <= inv.Causes[sim.CauseMisKeyed] || s.RecordAccuracy >= inv.RecordAccuracy {
				t.Errorf("%s: %v, causes %v; want mis-keyed counts applied, below invsync's %v", name, s.RecordAccuracy, s.Causes, inv.RecordAccuracy)
			}
		}
	})
}
