package ingest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	neturl "net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/processors"
)

// CommandWriter writes commands to the partitions that decide them
// (pipeline.Reconciliation).
type CommandWriter interface {
	// WriteReport splits a report into per-partition pieces and writes
	// them, returning each piece's command id and partition.
	WriteReport(ctx context.Context, r *processors.CloudReport, by string, at time.Time) (map[string]int32, error)
	// WriteCommand writes a command to its stock key's partition.
	WriteCommand(ctx context.Context, c *processors.Command, by string, at time.Time) (int32, error)
}

// ReconReader reads what the processors decided (pipeline.Reconciliation):
// every partition readable here, failing with a PartitionUnavailable for
// the others.
type ReconReader interface {
	CommandResult(ctx context.Context, id string, partition int32) (processors.CommandResult, bool, error)
	Discrepancies(ctx context.Context, wh string, statuses []string) ([]processors.Discrepancy, error)
	FindDiscrepancy(ctx context.Context, id string) (processors.Discrepancy, bool, error)
	HeldCounts(ctx context.Context, wh, status string) ([]processors.HeldCount, error)
	FindHeld(ctx context.Context, txid string) (processors.HeldCount, bool, error)
}

// CommandSubscriber delivers command results as they are committed here.
type CommandSubscriber interface {
	Subscribe(id string) (<-chan processors.CommandResult, func())
}

// CountTaskStore creates and lists count tasks (pipeline.CountTaskTable).
type CountTaskStore interface {
	Create(ctx context.Context, t processors.CountTask) error
	List(wh, status string) []processors.CountTask
	CountTask(id string) (processors.CountTask, bool)
}

func (s *Server) reconciliationRoutes(v1 *gin.RouterGroup) {
	if s.cfg.Commands == nil || s.cfg.Recon == nil || s.cfg.CommandResults == nil {
		return
	}
	v1.POST("/reconciliation/reports", allow(auth.PostReports), s.requireOpen, s.postReport)
	v1.GET("/reconciliation/reports/:id", allow(auth.PostReports), s.getReport)
	v1.GET("/reconciliation/commands/:id", s.getCommandResult)
	v1.GET("/discrepancies", allow(auth.ReadDiscrepancies), s.listDiscrepancies)
	v1.GET("/discrepancies/:id", allow(auth.ReadDiscrepancies), s.getDiscrepancy)
	v1.PATCH("/discrepancies/:id", allow(auth.WriteDiscrepancies), s.requireOpen, s.patchDiscrepancy)
	v1.GET("/counts", allow(auth.ReviewCounts), s.listHeld)
	v1.GET("/counts/:txid", allow(auth.ReviewCounts), s.getHeld)
	v1.POST("/counts/:txid/approve", allow(auth.ReviewCounts), s.requireOpen, s.decideHeld(true))
	v1.POST("/counts/:txid/reject", allow(auth.ReviewCounts), s.requireOpen, s.decideHeld(false))
	if s.cfg.CountTasks != nil {
		v1.POST("/count-tasks", allow(auth.WriteCountTasks), s.requireOpen, s.postCountTask)
		v1.GET("/count-tasks", allow(auth.ReadCountTasks), s.requireOpen, s.listCountTasks)
	}
}

// getCommandResult answers a processed command's result from this
// instance's state only (peers ask each other here).
func (s *Server) getCommandResult(c *gin.Context) {
	p := principal(c)
	if !p.Allows(auth.PostReports) && !p.Allows(auth.WriteDiscrepancies) && !p.Allows(auth.ReviewCounts) {
		writeError(c, http.StatusForbidden, api.CodeForbidden, "a "+string(p.Role)+" token may not read command results")
		return
	}
	part, err := strconv.Atoi(c.Query("partition"))
	if err != nil || part < 0 || part >= int(s.cfg.Partitions) {
		writeError(c, http.StatusBadRequest, api.CodeInvalidRequest, "partition must be a partition number")
		return
	}
	res, found, err := s.cfg.Recon.CommandResult(c.Request.Context(), c.Param("id"), int32(part))
	switch {
	case err != nil:
		s.stateError(c, err)
	case !found:
		writeError(c, http.StatusNotFound, api.CodeCommandNotFound, "command "+c.Param("id")+" has not been processed")
	default:
		c.JSON(http.StatusOK, res)
	}
}

// awaitCommands waits (up to MaxWait) for the results of commands written
// to the given partitions: committed here, or found in the owner's state.
func (s *Server) awaitCommands(ctx context.Context, cmds map[string]int32) map[string]processors.CommandResult {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.MaxWait)
	defer cancel()
	got := make(chan processors.CommandResult, len(cmds))
	for id := range cmds {
		ch, unsub := s.cfg.CommandResults.Subscribe(id)
		defer unsub()
		go func() {
			select {
			case r := <-ch:
				got <- r
			case <-ctx.Done():
			}
		}()
	}
	results := map[string]processors.CommandResult{}
	poll := time.NewTicker(150 * time.Millisecond)
	defer poll.Stop()
	for len(results) < len(cmds) {
		select {
		case r := <-got:
			results[r.CommandID] = r
		case <-poll.C:
			pending := map[string]int32{}
			for id, p := range cmds {
				if _, ok := results[id]; !ok {
					pending[id] = p
				}
			}
			for id, r := range s.collectCommands(ctx, pending, true) {
				results[id] = r
			}
		case <-ctx.Done():
			return results
		}
	}
	return results
}

// collectCommands reads the results of commands from local state, asking
// the owner of each other partition (when owners is set) or every peer.
func (s *Server) collectCommands(ctx context.Context, cmds map[string]int32, owners bool) map[string]processors.CommandResult {
	out := map[string]processors.CommandResult{}
	for id, part := range cmds {
		res, found, err := s.cfg.Recon.CommandResult(ctx, id, part)
		if found {
			out[id] = res
			continue
		}
		if err == nil || s.cfg.Router == nil || !ownedElsewhere(err) {
			continue
		}
		var urls []string
		if owners {
			if url, err := s.cfg.Router.OwnerURL(ctx, part); err == nil && url != "" {
				urls = []string{url}
			}
		} else if peers, err := s.cfg.Router.PeerURLs(ctx); err == nil {
			urls = peers
		}
		if r, ok := getFirst[processors.CommandResult](ctx, s, urls, fmt.Sprintf("/v1/reconciliation/commands/%s?partition=%d", neturl.PathEscape(id), part)); ok {
			out[id] = r
		}
	}
	return out
}

// fromPeers returns the rows the peers hold for a list: when err says other
// instances own part of what the list spans, and the request is not itself
// a peer's, the array field of every peer's answer to the same request
// (none otherwise). When a peer cannot be asked it answers err and reports
// false.
func fromPeers[T any](s *Server, c *gin.Context, err error, field string) ([]T, bool) {
	if err == nil || forwarded(c) || s.cfg.Router == nil {
		return nil, true
	}
	var rows []T
	if !s.gatherPeers(c, field, &rows) {
		s.stateError(c, err)
		return nil, false
	}
	return rows, true
}

// gatherPeers asks every peer the same request and appends the array field
// of their answers; it reports whether every peer answered.
func (s *Server) gatherPeers(c *gin.Context, field string, out any) bool {
	peers, err := s.cfg.Router.PeerURLs(c.Request.Context())
	if err != nil {
		return false
	}
	var all []json.RawMessage
	for _, url := range peers {
		status, _, data, err := s.send(c.Request.Context(), http.MethodGet, url+c.Request.URL.RequestURI(), nil)
		var part map[string][]json.RawMessage
		if err != nil || status != http.StatusOK || json.Unmarshal(data, &part) != nil {
			return false
		}
		all = append(all, part[field]...)
	}
	b, _ := json.Marshal(all)
	return json.Unmarshal(b, out) == nil
}

// runCommand writes cmd, waits for its result and answers: 409 with the
// refusal's code, the answer of ok, or 202 while it is not decided yet.
func (s *Server) runCommand(c *gin.Context, cmd *processors.Command, ok func(processors.CommandResult)) {
	part, err := s.cfg.Commands.WriteCommand(c.Request.Context(), cmd, principal(c).Name, s.cfg.Now())
	if err != nil {
		s.unavailable(c, err)
		return
	}
	res, done := s.awaitCommands(c.Request.Context(), map[string]int32{cmd.CommandID: part})[cmd.CommandID]
	switch {
	case !done:
		c.JSON(http.StatusAccepted, api.CommandAnswer{CommandID: cmd.CommandID, Status: api.ReportPending})
	case res.Code == processors.CodeDiscrepancyNotFound || res.Code == processors.CodeCountNotHeld && res.Held == nil:
		writeError(c, http.StatusNotFound, api.ErrorCode(res.Code), res.Message)
	case res.Code != "":
		writeError(c, http.StatusConflict, api.ErrorCode(res.Code), res.Message)
	default:
		ok(res)
	}
}

func newCommandID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "cmd-" + hex.EncodeToString(b[:])
}

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 128

// commandID names the command of a request. With an Idempotency-Key
// header the name is derived from the key and the token, so a client that
// resends a request it got no answer to (a timeout, a dropped connection)
// gets the first request's result instead of a second step: the
// processor keeps every command's result under its name. Without the
// header every request is a new command. A malformed key is answered 400.
func commandID(c *gin.Context) (string, bool) {
	key := c.GetHeader("Idempotency-Key")
	if key == "" {
		return newCommandID(), true
	}
	if len(key) > maxIdempotencyKey || !printableASCII(key) {
		writeError(c, http.StatusBadRequest, api.CodeInvalidRequest, fmt.Sprintf("Idempotency-Key must be 1 to %d printable ASCII characters", maxIdempotencyKey))
		return "", false
	}
	sum := sha256.Sum256([]byte(principal(c).TokenID + "\x00" + key))
	return "cmd-k-" + hex.EncodeToString(sum[:16]), true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// scopedWarehouse returns the required warehouseId query parameter of a
// list, answering 400 when it is missing and 403 when it is outside the
// token's warehouses.
func scopedWarehouse(c *gin.Context) (string, bool) {
	wh := c.Query("warehouseId")
	if wh == "" {
		writeError(c, http.StatusBadRequest, api.CodeInvalidRequest, "warehouseId query parameter is required")
		return "", false
	}
	return wh, inScope(c, wh)
}

// queryStatus returns the optional status query parameter of a list,
// answering 400 when it is none of allowed.
func queryStatus(c *gin.Context, allowed ...string) (string, bool) {
	st := c.Query("status")
	if st != "" && !slices.Contains(allowed, st) {
		writeError(c, http.StatusBadRequest, api.CodeInvalidRequest, "status must be "+orList(allowed)+", got "+st)
		return "", false
	}
	return st, true
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
