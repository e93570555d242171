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
	"go.opentelemetry.io/otel/trace"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/processors"
)

// CodeWarehouseNotPermitted rejects a transaction of an upload for a
// warehouse outside the token's scope (the rest of the batch goes on).
const CodeWarehouseNotPermitted = string(api.CodeWarehouseNotPermitted)

// outcomeJSON is the wire form of a processor's outcome: the domain type
// converts to api.Outcome here, at the API's edge.
func outcomeJSON(o processors.Outcome) *api.Outcome {
	j := &api.Outcome{Status: api.OutcomeStatus(o.Status), Warnings: append([]string{}, o.Warnings...)}
	if o.Code != "" {
		j.Code, j.Message = ptr(api.ErrorCode(o.Code)), ptr(o.Message)
	}
	j.ResultingOnHand, j.Version = ptr(o.ResultingOnHand), ptr(o.Version)
	return j
}

func ptr[T any](v T) *T { return &v }

func (s *Server) postTransactions(c *gin.Context) {
	receivedAt := s.cfg.Now()
	wait, ok := waitQuery(c, "applied")
	if !ok {
		return
	}
	up, ok := readDecoded(c, MaxBodyBytes, DecodeUpload)
	if !ok {
		return
	}
	p := principal(c)
	if p.Role == auth.RoleScanner && up.ScannerID != p.Name {
		writeError(c, http.StatusForbidden, api.CodeScannerMismatch, "this token belongs to scanner "+p.Name+
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
		writeError(c, http.StatusServiceUnavailable, api.CodeBacklogFull, fmt.Sprintf(
			"%d accepted transactions are not applied yet (limit %d): the processors are behind; nothing of this request was accepted, resend it after %d seconds",
			n, s.cfg.MaxInFlight, backlogRetryAfter))
		return
	}

	n := len(up.Transactions)
	results := make([]api.Result, n)
	accepted := make([]processors.Transaction, 0, n)
	acceptedIdx := make([]int, 0, n)
	seen := make(map[string][]byte, n) // transactionId -> body hash of its first valid appearance in this request
	reserved := make([]string, 0, n)   // ids this request added to pending, to undo on failure
	remote := map[string]int32{}       // ids whose partition another instance owns
	ctx := c.Request.Context()
	vctx, validation := s.tracer.Start(ctx, "validate", trace.WithAttributes(attribute.Int("invsync.transactions", len(up.Transactions))))
	defer validation.End() // on the early returns; ended below otherwise
	for i := range up.Transactions {
		tx, id, rej := up.transaction(i, receivedAt, s.cfg.TimeBounds)
		results[i].TransactionID = id
		if rej == nil && !admits(p, tx.WarehouseID) {
			rej = &TxRejection{Code: CodeWarehouseNotPermitted, Message: "this token may not act on warehouse " + tx.WarehouseID}
		}
		if rej == nil {
			rej = s.cfg.Catalog.Catalog().Check(&tx)
		}
		tx.Principal = p.Name
		if rej != nil {
			results[i].Status, results[i].Code, results[i].Message = api.StatusRejected, ptr(api.ErrorCode(rej.Code)), ptr(rej.Message)
			continue
		}
		if h, dup := seen[id]; dup {
			s.answerRepeat(&results[i], bodyHashEqual(tx.BodyHash, h))
			continue
		}
		seen[id] = tx.BodyHash
		status, remotePart, err := s.reserve(vctx, &tx)
		if remotePart >= 0 {
			remote[id] = remotePart
		}
		if err != nil {
			s.unreserve(reserved)
			s.stateError(c, err)
			return
		}
		switch status {
		case reserveNew, reserveInFlight:
			if status == reserveNew {
				reserved = append(reserved, id)
			}
			accepted = append(accepted, tx)
			acceptedIdx = append(acceptedIdx, i)
			results[i].Status = api.StatusAccepted
		case reserveDuplicate:
			results[i].Status = api.StatusDuplicate
		default:
			results[i].Status, results[i].Code = api.StatusRejected, ptr(api.CodeIdempotencyMismatch)
			results[i].Message = ptr("transactionId " + id + " was already accepted with a different body; a new scan needs a new transactionId")
		}
	}
	validation.SetAttributes(attribute.Int("invsync.transactions.accepted", len(accepted)))
	validation.End()

	// Subscribe before producing so an outcome committed before we start
	// waiting is not missed.
	var subs []<-chan processors.Outcome
	if wait {
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
	s.noteUpload(c, &up, receivedAt, results)
	s.countResults(c, results)
	if wait {
		s.awaitOutcomes(ctx, results, acceptedIdx, subs, remote)
	}
	writeUploadResponse(c, &api.UploadResponse{Results: results})
}

func (s *Server) answerRepeat(r *api.Result, same bool) {
	if same {
		r.Status = api.StatusDuplicate
		return
	}
	r.Status, r.Code = api.StatusRejected, ptr(api.CodeIdempotencyMismatch)
	r.Message = ptr("transactionId " + r.TransactionID + " appears twice in this request with different bodies")
}

// reservation is reserve's answer.
type reservation int

const (
	reserveFailed reservation = iota
	// reserveNew: not seen before; now pending here.
	reserveNew
	// reserveInFlight: another request is writing it right now: it is
	// written again and answered accepted.
	reserveInFlight
	// reserveDuplicate: accepted before with the same body.
	reserveDuplicate
	// reserveMismatch: accepted before with another body.
	reserveMismatch
)

// reserve decides whether tx is new (and marks it pending), a duplicate of
// an accepted transaction, or a reuse of its id with another body.
func (s *Server) reserve(ctx context.Context, tx *processors.Transaction) (reservation, int32, error) {
	s.pendingMu.Lock()
	if p, ok := s.pending[tx.TransactionID]; ok {
		s.pendingMu.Unlock()
		switch {
		case !p.hash.equal(tx.BodyHash):
			return reserveMismatch, -1, nil
		case p.acked:
			return reserveDuplicate, -1, nil
		default:
			return reserveInFlight, -1, nil
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
				return reserveNew, pu.PartitionID(), nil
			}
			return reserveNew, -1, nil
		}
		s.unreserve([]string{tx.TransactionID})
		return reserveFailed, -1, err
	}
	if !found {
		return reserveNew, -1, nil
	}
	s.unreserve([]string{tx.TransactionID})
	if bodyHashEqual(o.BodyHash, tx.BodyHash) {
		return reserveDuplicate, -1, nil
	}
	return reserveMismatch, -1, nil
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

func (s *Server) unreserve(ids []string) {
	s.pendingMu.Lock()
	for _, id := range ids {
		delete(s.pending, id)
	}
	s.pendingMu.Unlock()
}

// awaitOutcomes fills each accepted result's outcome, waiting at most
// MaxWait in all; duplicates get their stored outcome when it is known.
func (s *Server) awaitOutcomes(ctx context.Context, results []api.Result, idx []int, subs []<-chan processors.Outcome, remote map[string]int32) {
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
				r.Outcome = api.PendingOutcome()
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
			r.Outcome = api.PendingOutcome()
		}
	}
	for i := range results {
		if results[i].Status != api.StatusDuplicate {
			continue
		}
		if o, ok, err := s.cfg.State.FindOutcome(ctx, results[i].TransactionID); err == nil && ok {
			results[i].Outcome = outcomeJSON(o)
		} else if part, isRemote := remote[results[i].TransactionID]; isRemote {
			if o, ok := s.remoteOutcome(ctx, part, results[i].TransactionID); ok {
				o.TransactionID = ""
				results[i].Outcome = o
			} else {
				results[i].Outcome = api.PendingOutcome()
			}
		} else {
			results[i].Outcome = api.PendingOutcome()
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
	relayed, allAnswered := s.askPeersIfMissing(c, found, err)
	switch {
	case found:
		j := outcomeJSON(o)
		j.TransactionID = id
		c.JSON(http.StatusOK, j)
	case relayed:
		// Applied on a partition another instance owns (it may have
		// moved since this instance accepted the transaction).
	case pending:
		j := api.PendingOutcome()
		j.TransactionID = id
		c.JSON(http.StatusOK, j)
	case s.unknownYet(c, err, allAnswered):
	case err != nil && forwarded(c):
		writeError(c, http.StatusNotFound, api.CodeTransactionNotFound, "transaction "+id+" is not in this instance's partitions")
	default:
		writeError(c, http.StatusNotFound, api.CodeTransactionNotFound, "transaction "+id+" was never accepted")
	}
}

// resultKey is one series of invsync.transactions.received.
type resultKey struct {
	status api.UploadStatus
	code   api.ErrorCode
}

// countResults adds an upload's results to invsync.transactions.received:
// one Add per series rather than one per transaction, each series'
// attribute set built once for the server's life (statuses and codes are
// a closed set).
func (s *Server) countResults(ctx context.Context, results []api.Result) {
	tally := map[resultKey]int64{}
	for i := range results {
		k := resultKey{status: results[i].Status}
		if results[i].Code != nil {
			k.code = *results[i].Code
		}
		tally[k]++
	}
	for k, n := range tally {
		s.results.Add(ctx, n, s.resultAttrs(k))
	}
}

// resultAttrs is the attribute option of one series, built on first use.
func (s *Server) resultAttrs(k resultKey) metric.AddOption {
	if o, ok := s.resultSets.Load(k); ok {
		return o.(metric.AddOption)
	}
	o, _ := s.resultSets.LoadOrStore(k, metric.WithAttributeSet(
		attribute.NewSet(attribute.String("result", string(k.status)), attribute.String("code", string(k.code)))))
	return o.(metric.AddOption)
}
