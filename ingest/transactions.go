package ingest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/processors"
)

// CodeWarehouseNotPermitted rejects a transaction of an upload for a
// warehouse outside the token's scope (the rest of the batch goes on).
const CodeWarehouseNotPermitted = "WAREHOUSE_NOT_PERMITTED"

// Per-transaction ingest statuses.
const (
	StatusAccepted  = "accepted"
	StatusDuplicate = "duplicate"
	StatusRejected  = "rejected"
)

// Result is one transaction's answer in an upload response.
type Result struct {
	TransactionID string       `json:"transactionId"`
	Status        string       `json:"status"`
	Code          *string      `json:"code"`
	Message       *string      `json:"message"`
	Outcome       *OutcomeJSON `json:"outcome,omitempty"`
}

// OutcomeJSON is what the processors did with a transaction.
type OutcomeJSON struct {
	TransactionID   string   `json:"transactionId,omitempty"`
	Status          string   `json:"status"` // pending, applied, rejected
	Code            *string  `json:"code"`
	Message         *string  `json:"message,omitempty"`
	ResultingOnHand *int64   `json:"resultingOnHand"`
	Version         *int64   `json:"version"`
	Warnings        []string `json:"warnings"`
}

func outcomeJSON(o processors.Outcome) *OutcomeJSON {
	j := &OutcomeJSON{Status: o.Status, Warnings: append([]string{}, o.Warnings...)}
	if o.Code != "" {
		j.Code, j.Message = ptr(o.Code), ptr(o.Message)
	}
	j.ResultingOnHand, j.Version = ptr(o.ResultingOnHand), ptr(o.Version)
	return j
}

func pendingOutcome() *OutcomeJSON { return &OutcomeJSON{Status: "pending", Warnings: []string{}} }

func ptr[T any](v T) *T { return &v }

func (s *Server) postTransactions(c *gin.Context) {
	receivedAt := s.cfg.Now()
	wait := c.Query("wait")
	if wait != "" && wait != "applied" {
		writeError(c, http.StatusBadRequest, "INVALID_REQUEST", "wait must be \"applied\" or absent, got "+wait)
		return
	}
	body, ok := readBody(c, MaxBodyBytes)
	if !ok {
		return
	}
	up, rerr := DecodeUpload(body)
	if rerr != nil {
		writeError(c, rerr.Status, rerr.Code, rerr.Message)
		return
	}
	p := principal(c)
	if p.Role == auth.RoleScanner && up.ScannerID != p.Name {
		writeError(c, http.StatusForbidden, "SCANNER_MISMATCH", "this token belongs to scanner "+p.Name+
			", not "+up.ScannerID+": upload with scannerId "+p.Name+", or enrol the device with its own token")
		return
	}
	if rerr := decodeUploadDevice(up.DeviceRaw, &up, receivedAt); rerr != nil {
		writeError(c, rerr.Status, rerr.Code, rerr.Message)
		return
	}

	if n := s.inFlight(); n > 0 && n+len(up.Transactions) > s.cfg.MaxInFlight {
		s.backlogFull.Add(c.Request.Context(), 1)
		c.Header("Retry-After", strconv.Itoa(backlogRetryAfter))
		writeError(c, http.StatusServiceUnavailable, "BACKLOG_FULL", fmt.Sprintf(
			"%d accepted transactions are not applied yet (limit %d): the processors are behind; nothing of this request was accepted, resend it after %d seconds",
			n, s.cfg.MaxInFlight, backlogRetryAfter))
		return
	}

	results := make([]Result, len(up.Transactions))
	var accepted []processors.Transaction
	var acceptedIdx []int
	seen := map[string][]byte{}  // transactionId -> body hash of its first valid appearance in this request
	var reserved []string        // ids this request added to pending, to undo on failure
	remote := map[string]int32{} // ids whose partition another instance owns
	ctx := c.Request.Context()
	for i, raw := range up.Transactions {
		tx, id, rej := DecodeTransaction(raw, &up, receivedAt, s.cfg.TimeBounds)
		results[i].TransactionID = id
		if rej == nil && !mayAccess(c, tx.WarehouseID) {
			rej = &TxRejection{Code: CodeWarehouseNotPermitted, Message: "this token may not act on warehouse " + tx.WarehouseID}
		}
		if rej == nil {
			rej = s.cfg.Catalog.Catalog().Check(&tx)
		}
		tx.Principal = p.Name
		if rej != nil {
			results[i].Status, results[i].Code, results[i].Message = StatusRejected, ptr(rej.Code), ptr(rej.Message)
			continue
		}
		if h, dup := seen[id]; dup {
			s.answerRepeat(&results[i], bodyHashEqual(tx.BodyHash, h))
			continue
		}
		seen[id] = tx.BodyHash
		status, remotePart, err := s.reserve(ctx, &tx)
		if remotePart >= 0 {
			remote[id] = remotePart
		}
		if err != nil {
			s.unreserve(reserved)
			s.stateError(c, err)
			return
		}
		switch status {
		case StatusAccepted, statusInFlight:
			if status == StatusAccepted {
				reserved = append(reserved, id)
			}
			accepted = append(accepted, tx)
			acceptedIdx = append(acceptedIdx, i)
			results[i].Status = StatusAccepted
		case StatusDuplicate:
			results[i].Status = StatusDuplicate
		default:
			results[i].Status, results[i].Code = StatusRejected, ptr(processors.CodeIdempotencyMismatch)
			results[i].Message = ptr("transactionId " + id + " was already accepted with a different body; a new scan needs a new transactionId")
		}
	}

	// Subscribe before producing so an outcome committed before we start
	// waiting is not missed.
	var subs []<-chan processors.Outcome
	if wait == "applied" {
		for _, tx := range accepted {
			ch, cancel := s.cfg.Outcomes.Subscribe(tx.TransactionID)
			defer cancel()
			subs = append(subs, ch)
		}
	}
	if len(accepted) > 0 {
		for _, err := range s.cfg.Publisher.Produce(ctx, accepted) {
			if err != nil {
				s.unreserve(reserved)
				s.unavailable(c, err)
				return
			}
		}
		s.pendingMu.Lock()
		for _, id := range reserved {
			if p, ok := s.pending[id]; ok {
				p.acked = true
				s.pending[id] = p
			}
		}
		s.pendingMu.Unlock()
	}
	s.noteUpload(c, &up, receivedAt)
	for i := range results {
		code := ""
		if results[i].Code != nil {
			code = *results[i].Code
		}
		s.results.Add(c, 1, metric.WithAttributes(attribute.String("result", results[i].Status), attribute.String("code", code)))
	}
	if wait == "applied" {
		s.awaitOutcomes(ctx, results, acceptedIdx, subs, remote)
	}
	c.JSON(http.StatusOK, gin.H{"results": results})
}

func (s *Server) answerRepeat(r *Result, same bool) {
	if same {
		r.Status = StatusDuplicate
		return
	}
	r.Status, r.Code = StatusRejected, ptr(processors.CodeIdempotencyMismatch)
	r.Message = ptr("transactionId " + r.TransactionID + " appears twice in this request with different bodies")
}

// reserve decides whether tx is new (and marks it pending), a duplicate of
// an accepted transaction, or a reuse of its id with another body.
func (s *Server) reserve(ctx context.Context, tx *processors.Transaction) (string, int32, error) {
	s.pendingMu.Lock()
	if p, ok := s.pending[tx.TransactionID]; ok {
		s.pendingMu.Unlock()
		switch {
		case !p.hash.equal(tx.BodyHash):
			return CodeMismatch, -1, nil
		case p.acked:
			return StatusDuplicate, -1, nil
		default:
			return statusInFlight, -1, nil
		}
	}
	now := time.Now()
	s.pending[tx.TransactionID] = pendingTx{hash: hashOf(tx.BodyHash), at: now.Unix()}
	// Entries whose outcome is published on another instance (the
	// partition moved) are never cleared by an outcome here: forget any
	// older than pendingTTL; the processors' idempotency still holds.
	if now.Sub(s.pendingSwep) > time.Minute {
		s.pendingSwep = now
		for id, p := range s.pending {
			if now.Unix()-p.at > int64(pendingTTL/time.Second) {
				delete(s.pending, id)
			}
		}
	}
	s.pendingMu.Unlock()

	o, found, err := s.cfg.State.Outcome(ctx, tx.StockKey(), tx.TransactionID)
	if err != nil {
		// The partition is not readable here (owned elsewhere or
		// restoring): accept; the processor's own idempotency index
		// still guarantees a resend is never applied twice. An
		// outcome from another instance's partition is never
		// published here, so it is not kept pending either.
		if pu, ok := partitionUnavailable(err); ok {
			if pu.OwnedElsewhere() {
				s.unreserve([]string{tx.TransactionID})
				return StatusAccepted, pu.PartitionID(), nil
			}
			return StatusAccepted, -1, nil
		}
		s.unreserve([]string{tx.TransactionID})
		return "", -1, err
	}
	if !found {
		return StatusAccepted, -1, nil
	}
	s.unreserve([]string{tx.TransactionID})
	if bodyHashEqual(o.BodyHash, tx.BodyHash) {
		return StatusDuplicate, -1, nil
	}
	return CodeMismatch, -1, nil
}

// DefaultMaxInFlight is the default bound on transactions accepted and
// not yet applied: about 15 MB of idempotency entries, and at 10,000 tx/s
// ten seconds of processing behind.
const DefaultMaxInFlight = 100_000

// backlogRetryAfter is the Retry-After of BACKLOG_FULL, in seconds.
const backlogRetryAfter = 2

// inFlight is the number of transactions accepted here and not yet
// applied (their outcome not yet published here).
func (s *Server) inFlight() int {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	return len(s.pending)
}

// pendingTTL bounds how long an accepted transaction is remembered as
// pending without an outcome published here.
const pendingTTL = 10 * time.Minute

// statusInFlight is reserve's answer for a transaction another request is
// writing right now: it is written again and answered accepted.
const statusInFlight = "in-flight"

// CodeMismatch is reserve's answer for a reused transactionId.
const CodeMismatch = processors.CodeIdempotencyMismatch

func (s *Server) unreserve(ids []string) {
	s.pendingMu.Lock()
	for _, id := range ids {
		delete(s.pending, id)
	}
	s.pendingMu.Unlock()
}

// awaitOutcomes fills each accepted result's outcome, waiting at most
// MaxWait in all; duplicates get their stored outcome when it is known.
func (s *Server) awaitOutcomes(ctx context.Context, results []Result, idx []int, subs []<-chan processors.Outcome, remote map[string]int32) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.MaxWait)
	defer cancel()
	for k, ch := range subs {
		r := &results[idx[k]]
		if part, ok := remote[r.TransactionID]; ok {
			// Applied by another instance: ask it.
			if o, ok := s.remoteOutcome(ctx, part, r.TransactionID); ok {
				o.TransactionID = ""
				r.Outcome = o
			} else {
				r.Outcome = pendingOutcome()
			}
			continue
		}
		// An outcome already delivered wins over an expired deadline.
		select {
		case o := <-ch:
			r.Outcome = outcomeJSON(o)
			continue
		default:
		}
		select {
		case o := <-ch:
			r.Outcome = outcomeJSON(o)
		case <-ctx.Done():
			// Committed in the meantime but published before we
			// subscribed cannot happen (we subscribed first); this is a
			// real timeout.
			r.Outcome = pendingOutcome()
		}
	}
	for i := range results {
		if results[i].Status != StatusDuplicate {
			continue
		}
		if o, ok, err := s.cfg.State.FindOutcome(ctx, results[i].TransactionID); err == nil && ok {
			results[i].Outcome = outcomeJSON(o)
		} else if part, isRemote := remote[results[i].TransactionID]; isRemote {
			if o, ok := s.remoteOutcome(ctx, part, results[i].TransactionID); ok {
				o.TransactionID = ""
				results[i].Outcome = o
			} else {
				results[i].Outcome = pendingOutcome()
			}
		} else {
			results[i].Outcome = pendingOutcome()
		}
	}
}

func (s *Server) getTransaction(c *gin.Context) {
	id := c.Param("id")
	s.pendingMu.Lock()
	_, pending := s.pending[id]
	s.pendingMu.Unlock()
	o, found, err := s.cfg.State.FindOutcome(c.Request.Context(), id)
	if found && o.WarehouseID != "" && !inScope(c, o.WarehouseID) {
		return
	}
	switch {
	case found:
		j := outcomeJSON(o)
		j.TransactionID = id
		c.JSON(http.StatusOK, j)
	case err != nil && s.fanOut(c, nil):
		// Applied on a partition another instance owns (it may have
		// moved since this instance accepted the transaction).
	case pending:
		j := pendingOutcome()
		j.TransactionID = id
		c.JSON(http.StatusOK, j)
	case err != nil && (s.cfg.Router == nil || !ownedElsewhere(err)):
		// Without peers to ask, or a partition still restoring, the
		// answer is not known yet.
		s.stateError(c, err)
	case err != nil && forwarded(c):
		writeError(c, http.StatusNotFound, "TRANSACTION_NOT_FOUND", "transaction "+id+" is not in this instance's partitions")
	default:
		writeError(c, http.StatusNotFound, "TRANSACTION_NOT_FOUND", "transaction "+id+" was never accepted")
	}
}
