package sim

import (
	"sync"
	"sync/atomic"
	"time"
)

// recorder keeps the ledger of every scan the simulator queued and what
// became of it, as the devices' upload answers tell. Safe for concurrent
// use (the devices' uploads answer in their own goroutines).
type recorder struct {
	over atomic.Bool // the day is over: dead zones end, faults stop

	mu   sync.Mutex
	txs  map[string]*txRecord
	net  netCounts
	outc map[string]int // outcome status at acceptance → count
}

// txRecord is one scan queued by the simulator.
type txRecord struct {
	scanner  int
	queuedAt time.Time // real time
	online   bool      // the scanner was online when it scanned
	accepted bool
	outcome  string // applied, held, pending, rejected (at acceptance)
	answers  int    // answers seen (accepted or duplicate)
}

// netCounts are the network faults that happened.
type netCounts struct {
	lostAnswers, staleCopies int
	duplicateAnswers         int
}

func newRecorder() *recorder {
	return &recorder{txs: map[string]*txRecord{}, outc: map[string]int{}}
}

func (r *recorder) dayOver() bool { return r.over.Load() }

func (r *recorder) count(f func(*netCounts)) {
	r.mu.Lock()
	f(&r.net)
	r.mu.Unlock()
}

// queued records scans the simulator queued on a device.
func (r *recorder) queued(ids []string, scanner int, at time.Time, online bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		r.txs[id] = &txRecord{scanner: scanner, queuedAt: at, online: online}
	}
}

// answered takes an upload and its 200 answer.
func (r *recorder) answered(body, answer []byte) {
	txs, status, outcome, ok := decodeUpload(body, answer)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, tx := range txs {
		rec := r.txs[tx.TransactionID]
		switch status[i] {
		case "accepted":
			if rec != nil {
				rec.accepted, rec.outcome = true, outcome[i]
				rec.answers++
			}
			r.outc[outcome[i]]++
		case "duplicate":
			r.net.duplicateAnswers++
			if rec != nil {
				rec.answers++
			}
		}
	}
}

// snapshot copies what the accounting reads at the end.
func (r *recorder) snapshot() (map[string]txRecord, netCounts, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]txRecord, len(r.txs))
	for id, t := range r.txs {
		out[id] = *t
	}
	outc := map[string]int{}
	for k, v := range r.outc {
		outc[k] = v
	}
	return out, r.net, outc
}

// queuedAt returns when a scan was queued and whether its scanner was
// online then.
func (r *recorder) queuedAt(id string) (time.Time, bool, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.txs[id]
	if t == nil {
		return time.Time{}, false, false
	}
	return t.queuedAt, t.online, true
}
