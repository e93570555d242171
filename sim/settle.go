package sim

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The books at the end of the day: lost and duplicated transactions, and
// the cloud's agreement with the warehouse.

// settle checks every scan the simulator queued against the events topic
// and the API, and the mirror against the warehouse.
func (r *runner) settle(ctx context.Context) error {
	txs, _, _ := r.rec.snapshot()
	for id, t := range txs {
		if _, ok := r.tap.ref(id); ok {
			continue
		}
		status, err := r.api.txStatus(ctx, r.cfg.AdminToken, id)
		if err != nil {
			return fmt.Errorf("asking for transaction %s: %w", id, err)
		}
		switch {
		case status == "" && t.answers > 0:
			// The device was told accepted (or duplicate) and the server
			// does not know it.
			r.lost = append(r.lost, id)
		case status == "applied":
			// Applied without an event on the topic.
			r.lost = append(r.lost, id)
		case status == "":
			r.unsent++ // still on the device (a rejection it keeps)
		}
	}
	rows, err := r.mirror.positions(ctx)
	if err != nil {
		return err
	}
	agree := 0
	for s := range r.world.Slots {
		k := r.slotKey(s)
		if rows[k].onHand == r.lastSys[k] {
			agree++
		}
	}
	r.agreement = float64(agree) / float64(len(r.world.Slots))
	return nil
}

// baseResult is what is known before the run.
func (r *runner) baseResult() Result {
	zones := 0
	for _, s := range r.world.Scanners {
		zones += len(s.Zones)
	}
	return Result{Seed: r.cfg.Seed, Warehouses: len(r.world.Warehouses), Scanners: len(r.world.Scanners),
		Records: len(r.world.Slots), SimulatedHours: r.cfg.Hours, Speed: r.cfg.Speed,
		PlanDigest: Digest(r.world, r.plan), DeadZoneSpells: zones}
}

// result fills res with what was measured, the last audit's figures
// standing for a run that stopped early.
func (r *runner) result(res Result, began time.Time) Result {
	res.RealSeconds = time.Since(began).Seconds()
	r.statsMu.Lock()
	st := r.stats
	r.statsMu.Unlock()
	txs, nc, _ := r.rec.snapshot()
	res.Transactions = len(txs)
	if n := len(r.hours); n > 0 {
		h := r.hours[n-1]
		res.RecordAccuracy, res.RecordAccuracyTolerance = h.Accuracy, h.AccuracyTolerance
		res.LWWRecordAccuracy, res.LWWRecordAccuracyTolerance = h.LWW, h.LWWTolerance
	}
	res.CloudAgreement = r.agreement
	res.Oversells, res.AllocationErrors = st.oversells, st.allocErrors
	if r.cfg.Hours > 0 {
		res.AllocationErrorsPerDay = float64(st.allocErrors) * 24 / r.cfg.Hours
	}
	res.Allocations, res.Confirmed, res.CloudBackorders = st.allocations, st.confirmed, st.cloudBackorders
	res.ConfirmedAfterDay = st.confirmedAfterDay
	if r.watch != nil {
		p50, p99, n, all := r.watch.quantiles()
		res.ScanToCloudP50, res.ScanToCloudP99 = ms(p50), ms(p99)
		res.LatencySamples, res.Latency = n, all
	}
	res.Lost = len(r.lost)
	if r.tap != nil {
		res.Duplicated = r.tap.duplicated()
	}
	res.Counts, res.MisKeys, res.DoubleCounts, res.Recounts = st.counts, st.misKeys, st.doubleCounts, st.recounts
	res.HeldCounts, res.ApprovedCounts = st.held, st.approved
	res.ShrinkageUnits, res.DamageUnits = st.shrinkUnits, st.damageUnits
	res.UnseenSlots = len(r.truth.everUnseen)
	res.OfflineScans = st.offlineScans
	res.LostAnswers, res.StaleCopies, res.DuplicateAnswers = nc.lostAnswers, nc.staleCopies, nc.duplicateAnswers
	r.faultsMu.Lock()
	res.Faults = append([]string(nil), r.faults...)
	r.faultsMu.Unlock()
	res.Unsent = r.unsent
	res.NotFoundAnswers = st.notFound
	res.Hours = append([]Hour(nil), r.hours...)
	res.DiscrepancyKinds = map[string]int{}
	for k, v := range r.discKinds {
		res.DiscrepancyKinds[k] = v
	}
	res.CloudOutages = len(r.plan.Outages)
	res.Systems = map[string]SystemResult{SystemInvsync: r.invsyncResult(res, st)}
	for _, s := range r.stories {
		res.Systems[s.name()] = s.result()
	}
	if n := len(r.hours); n > 0 {
		// The last audit's figures (the end of the day, or where a
		// failed run stopped).
		res.LWWRecordAccuracy, res.LWWRecordAccuracyTolerance = r.hours[n-1].LWW, r.hours[n-1].LWWTolerance
	}
	return res
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// oneLine flattens an error message to one line.
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
