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
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

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

// reportJSON is the body of POST /v1/reconciliation/reports.
type reportJSON struct {
	ReportID    *string `json:"reportId"`
	WarehouseID *string `json:"warehouseId"`
	Complete    *bool   `json:"complete"`
	ItemRange   *struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"itemRange"`
	Positions []struct {
		ItemID     *string         `json:"itemId"`
		LocationID *string         `json:"locationId"`
		LotNumber  *string         `json:"lotNumber"`
		OnHand     json.RawMessage `json:"onHand"`
		Version    json.RawMessage `json:"version"`
	} `json:"positions"`
}

// decodeReport validates a report body into a CloudReport.
func decodeReport(body []byte) (processors.CloudReport, *RequestError) {
	bad := func(format string, args ...any) (processors.CloudReport, *RequestError) {
		return processors.CloudReport{}, &RequestError{Status: http.StatusBadRequest, Code: "INVALID_REPORT", Message: fmt.Sprintf(format, args...)}
	}
	var j reportJSON
	if err := strictUnmarshal(body, &j); err != nil {
		return bad("malformed report: %s", describeJSONError(err))
	}
	if j.ReportID == nil || j.WarehouseID == nil || j.Complete == nil || j.Positions == nil {
		return bad("reportId, warehouseId, complete and positions are required")
	}
	r := processors.CloudReport{ReportID: *j.ReportID, WarehouseID: *j.WarehouseID, Complete: *j.Complete}
	if j.ItemRange != nil {
		r.ItemFrom, r.ItemTo = j.ItemRange.From, j.ItemRange.To
	}
	for i, p := range j.Positions {
		if p.ItemID == nil || p.LocationID == nil || p.OnHand == nil || p.Version == nil {
			return bad("positions[%d]: itemId, locationId, onHand and version are required", i)
		}
		onHand, rej := parseInteger(fmt.Sprintf("positions[%d].onHand", i), p.OnHand)
		if rej != nil {
			return bad("%s", rej.Message)
		}
		version, rej := parseInteger(fmt.Sprintf("positions[%d].version", i), p.Version)
		if rej != nil {
			return bad("%s", rej.Message)
		}
		r.Positions = append(r.Positions, processors.CloudPosition{ItemID: *p.ItemID, LocationID: *p.LocationID,
			LotNumber: deref(p.LotNumber), OnHand: onHand, Version: version})
	}
	return r, nil
}

// reportAnswer sums the results of a report's pieces.
type reportAnswer struct {
	ReportID      string   `json:"reportId"`
	Status        string   `json:"status"` // COMPARED, or PENDING while pieces are not compared yet
	Compared      int      `json:"compared"`
	Agreed        int      `json:"agreed"`
	Behind        int      `json:"behind"`
	Discrepancies []string `json:"discrepancies"`
	Resolved      []string `json:"resolved"`
	Pieces        int      `json:"pieces"`
	PendingPieces int      `json:"pendingPieces"`
}

func sumReport(id string, pieces int, results map[string]processors.CommandResult) reportAnswer {
	a := reportAnswer{ReportID: id, Status: "COMPARED", Discrepancies: []string{}, Resolved: []string{}, Pieces: pieces}
	for _, r := range results {
		if r.Report == nil {
			continue
		}
		a.Compared += r.Report.Compared
		a.Agreed += r.Report.Agreed
		a.Behind += r.Report.Behind
		a.Discrepancies = append(a.Discrepancies, r.Report.Opened...)
		a.Resolved = append(a.Resolved, r.Report.Resolved...)
	}
	sort.Strings(a.Discrepancies)
	sort.Strings(a.Resolved)
	a.Discrepancies, a.Resolved = slices.Compact(a.Discrepancies), slices.Compact(a.Resolved)
	if a.PendingPieces = pieces - len(results); a.PendingPieces > 0 {
		a.Status = "PENDING"
	}
	return a
}

func (s *Server) postReport(c *gin.Context) {
	wait := c.Query("wait")
	if wait != "" && wait != "compared" {
		writeError(c, http.StatusBadRequest, "INVALID_REQUEST", "wait must be \"compared\" or absent, got "+wait)
		return
	}
	body, ok := readBody(c, 8<<20)
	if !ok {
		return
	}
	rep, rerr := decodeReport(body)
	if rerr != nil {
		writeError(c, rerr.Status, rerr.Code, rerr.Message)
		return
	}
	if !inScope(c, rep.WarehouseID) {
		return
	}
	if rej := s.cfg.Catalog.Catalog().CheckReport(&rep); rej != nil {
		status := http.StatusBadRequest
		if rej.Code == "REPORT_TOO_LARGE" {
			status = http.StatusRequestEntityTooLarge
		}
		writeError(c, status, rej.Code, rej.Message)
		return
	}
	pieces, err := s.cfg.Commands.WriteReport(c.Request.Context(), &rep, principal(c).Name, s.cfg.Now())
	if err != nil {
		s.unavailable(c, err)
		return
	}
	results := map[string]processors.CommandResult{}
	if wait == "compared" {
		results = s.awaitCommands(c.Request.Context(), pieces)
	}
	a := sumReport(rep.ReportID, len(pieces), results)
	if wait == "compared" && a.PendingPieces == 0 {
		c.JSON(http.StatusOK, a)
		return
	}
	a.Status = "PENDING"
	c.JSON(http.StatusAccepted, a)
}

// getReport answers a report's comparison so far: every partition's piece
// found here or at the other instances.
func (s *Server) getReport(c *gin.Context) {
	id := c.Param("id")
	n := s.cfg.Partitions
	pieces := make(map[string]int32, n)
	for p := range n {
		pieces[id+"#"+strconv.Itoa(int(p))] = p
	}
	results := s.collectCommands(c.Request.Context(), pieces, false)
	if len(results) == 0 {
		writeError(c, http.StatusNotFound, "REPORT_NOT_FOUND", "no piece of report "+id+" has been compared (it may still be pending)")
		return
	}
	a := sumReport(id, len(results), results)
	c.JSON(http.StatusOK, a)
}

// getCommandResult answers a processed command's result from this
// instance's state only (peers ask each other here).
func (s *Server) getCommandResult(c *gin.Context) {
	p := principal(c)
	if !p.Allows(auth.PostReports) && !p.Allows(auth.WriteDiscrepancies) && !p.Allows(auth.ReviewCounts) {
		writeError(c, http.StatusForbidden, "FORBIDDEN", "a "+string(p.Role)+" token may not read command results")
		return
	}
	part, err := strconv.Atoi(c.Query("partition"))
	if err != nil || part < 0 || part >= int(s.cfg.Partitions) {
		writeError(c, http.StatusBadRequest, "INVALID_REQUEST", "partition must be a partition number")
		return
	}
	res, found, err := s.cfg.Recon.CommandResult(c.Request.Context(), c.Param("id"), int32(part))
	switch {
	case err != nil:
		s.stateError(c, err)
	case !found:
		writeError(c, http.StatusNotFound, "COMMAND_NOT_FOUND", "command "+c.Param("id")+" has not been processed")
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
		for _, url := range urls {
			status, _, data, err := s.send(ctx, http.MethodGet, fmt.Sprintf("%s/v1/reconciliation/commands/%s?partition=%d", url, neturl.PathEscape(id), part), nil)
			var r processors.CommandResult
			if err == nil && status == http.StatusOK && json.Unmarshal(data, &r) == nil {
				out[id] = r
				break
			}
		}
	}
	return out
}

// discrepancyView is a discrepancy as the API shows it.
type discrepancyView struct {
	DiscrepancyID    string          `json:"discrepancyId"`
	WarehouseID      string          `json:"warehouseId"`
	ItemID           string          `json:"itemId"`
	LocationID       string          `json:"locationId"`
	LotNumber        string          `json:"lotNumber"`
	Kind             string          `json:"kind"`
	WarehouseOnHand  int64           `json:"warehouseOnHand"`
	WarehouseVersion int64           `json:"warehouseVersion"`
	CloudOnHand      *int64          `json:"cloudOnHand"`
	CloudVersion     *int64          `json:"cloudVersion"`
	Status           string          `json:"status"`
	Assignee         *string         `json:"assignee"`
	Resolution       *string         `json:"resolution"`
	ReportID         string          `json:"reportId"`
	CountTaskID      *string         `json:"countTaskId"`
	OpenedAt         time.Time       `json:"openedAt"`
	UpdatedAt        time.Time       `json:"updatedAt"`
	History          []discrepStepJS `json:"history"`
}

type discrepStepJS struct {
	At         time.Time `json:"at"`
	By         string    `json:"by"`
	Status     string    `json:"status"`
	Kind       string    `json:"kind,omitempty"`
	Assignee   *string   `json:"assignee,omitempty"`
	Resolution *string   `json:"resolution,omitempty"`
	Note       string    `json:"note,omitempty"`
}

func optStr(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

func viewOfDiscrepancy(d *processors.Discrepancy) discrepancyView {
	v := discrepancyView{DiscrepancyID: d.DiscrepancyID, WarehouseID: d.WarehouseID, ItemID: d.ItemID, LocationID: d.LocationID,
		LotNumber: d.LotNumber, Kind: d.Kind, WarehouseOnHand: d.WarehouseOnHand, WarehouseVersion: d.WarehouseVersion,
		CloudOnHand: d.CloudOnHand, CloudVersion: d.CloudVersion, Status: d.Status, Assignee: optStr(d.Assignee),
		Resolution: optStr(d.Resolution), ReportID: d.ReportID, CountTaskID: optStr(d.CountTaskID), OpenedAt: d.OpenedAt,
		UpdatedAt: d.UpdatedAt, History: []discrepStepJS{}}
	for _, h := range d.History {
		v.History = append(v.History, discrepStepJS{At: h.At, By: h.By, Status: h.Status, Kind: h.Kind,
			Assignee: optStr(h.Assignee), Resolution: optStr(h.Resolution), Note: h.Note})
	}
	return v
}

var discrepancyStatuses = []string{processors.DiscrepancyOpen, processors.DiscrepancyInvestigating, processors.DiscrepancyResolved}

func (s *Server) listDiscrepancies(c *gin.Context) {
	wh, ok := scopedWarehouse(c)
	if !ok {
		return
	}
	offset, limit, paged, ok := pageQuery(c)
	if !ok {
		return
	}
	st, ok := queryStatus(c, discrepancyStatuses...)
	if !ok {
		return
	}
	var statuses []string
	if st != "" {
		statuses = []string{st}
	}
	ds, err := s.cfg.Recon.Discrepancies(c.Request.Context(), wh, statuses)
	if err != nil && !ownedElsewhere(err) {
		s.stateError(c, err)
		return
	}
	out := []discrepancyView{}
	seen := map[string]bool{}
	for i := range ds {
		seen[ds[i].DiscrepancyID] = true
		out = append(out, viewOfDiscrepancy(&ds[i]))
	}
	if err != nil && !forwarded(c) && s.cfg.Router != nil {
		var peersOut []discrepancyView
		if !s.gatherPeers(c, "discrepancies", &peersOut) {
			s.stateError(c, err)
			return
		}
		for _, d := range peersOut {
			if !seen[d.DiscrepancyID] {
				seen[d.DiscrepancyID] = true
				out = append(out, d)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OpenedAt.Before(out[j].OpenedAt) })
	// A peer gathering the list asks with the caller's query: it pages
	// the whole list itself.
	if paged && !forwarded(c) {
		c.JSON(http.StatusOK, gin.H{"discrepancies": page(out, offset, limit), "total": len(out), "offset": offset})
		return
	}
	c.JSON(http.StatusOK, gin.H{"discrepancies": out})
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

// findDiscrepancy finds a discrepancy here or at a peer.
func (s *Server) findDiscrepancy(c *gin.Context, id string) (processors.Discrepancy, bool) {
	d, found, err := s.cfg.Recon.FindDiscrepancy(c.Request.Context(), id)
	if found {
		return d, true
	}
	if err != nil && ownedElsewhere(err) && s.cfg.Router != nil && !forwarded(c) {
		peers, _ := s.cfg.Router.PeerURLs(c.Request.Context())
		for _, url := range peers {
			status, _, data, ferr := s.send(c.Request.Context(), http.MethodGet, url+"/v1/discrepancies/"+neturl.PathEscape(id), nil)
			var v discrepancyView
			if ferr == nil && status == http.StatusOK && json.Unmarshal(data, &v) == nil {
				return processors.Discrepancy{DiscrepancyID: v.DiscrepancyID, WarehouseID: v.WarehouseID, ItemID: v.ItemID}, true
			}
		}
		s.stateError(c, err)
		return processors.Discrepancy{}, false
	}
	if err != nil && !ownedElsewhere(err) {
		s.stateError(c, err)
		return processors.Discrepancy{}, false
	}
	writeError(c, http.StatusNotFound, processors.CodeDiscrepancyNotFound, "discrepancy "+id+" does not exist")
	return processors.Discrepancy{}, false
}

func (s *Server) getDiscrepancy(c *gin.Context) {
	d, found, err := s.cfg.Recon.FindDiscrepancy(c.Request.Context(), c.Param("id"))
	switch {
	case found:
		if inScope(c, d.WarehouseID) {
			c.JSON(http.StatusOK, viewOfDiscrepancy(&d))
		}
	case err != nil && s.fanOut(c, nil):
	case err != nil && (s.cfg.Router == nil || !ownedElsewhere(err)):
		s.stateError(c, err)
	default:
		writeError(c, http.StatusNotFound, processors.CodeDiscrepancyNotFound, "discrepancy "+c.Param("id")+" does not exist")
	}
}

// patchJSON is the body of PATCH /v1/discrepancies/{id}.
type patchJSON struct {
	Status     *string `json:"status"`
	Assignee   *string `json:"assignee"`
	Resolution *string `json:"resolution"`
	Note       *string `json:"note"`
}

func (s *Server) patchDiscrepancy(c *gin.Context) {
	body, ok := readBody(c, 64<<10)
	if !ok {
		return
	}
	var j patchJSON
	if err := strictUnmarshal(body, &j); err != nil {
		writeError(c, http.StatusBadRequest, "INVALID_REQUEST", "malformed discrepancy change: "+describeJSONError(err)+" (fields: status, assignee, resolution, note)")
		return
	}
	if j.Status == nil && j.Assignee == nil && j.Note == nil {
		writeError(c, http.StatusBadRequest, "INVALID_REQUEST", "nothing to change: give status, assignee or note")
		return
	}
	if j.Status != nil && *j.Status != processors.DiscrepancyInvestigating && *j.Status != processors.DiscrepancyResolved {
		writeError(c, http.StatusBadRequest, "INVALID_REQUEST", "status must be INVESTIGATING or RESOLVED, got "+*j.Status)
		return
	}
	if r := j.Resolution; r != nil && *r != processors.ResolutionRecountRequested && *r != processors.ResolutionWarehouseConfirm && *r != processors.ResolutionWrittenOff {
		writeError(c, http.StatusBadRequest, "INVALID_REQUEST", "resolution must be RECOUNT_REQUESTED, WAREHOUSE_CONFIRMED or WRITTEN_OFF, got "+*r)
		return
	}
	d, found := s.findDiscrepancy(c, c.Param("id"))
	if !found || !inScope(c, d.WarehouseID) {
		return
	}
	id, ok := commandID(c)
	if !ok {
		return
	}
	cmd := processors.Command{CommandID: id, Kind: processors.CommandDiscrepancyUpdate, WarehouseID: d.WarehouseID, ItemID: d.ItemID,
		Discrepancy: &processors.DiscrepancyUpdate{DiscrepancyID: d.DiscrepancyID, Status: j.Status, Assignee: j.Assignee,
			Resolution: j.Resolution, Note: deref(j.Note)}}
	s.runCommand(c, &cmd, func(r processors.CommandResult) {
		if r.Discrepancy != nil {
			c.JSON(http.StatusOK, viewOfDiscrepancy(r.Discrepancy))
		}
	})
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
		c.JSON(http.StatusAccepted, gin.H{"commandId": cmd.CommandID, "status": "PENDING"})
	case res.Code == processors.CodeDiscrepancyNotFound || res.Code == processors.CodeCountNotHeld && res.Held == nil:
		writeError(c, http.StatusNotFound, res.Code, res.Message)
	case res.Code != "":
		writeError(c, http.StatusConflict, res.Code, res.Message)
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
		writeError(c, http.StatusBadRequest, "INVALID_REQUEST", fmt.Sprintf("Idempotency-Key must be 1 to %d printable ASCII characters", maxIdempotencyKey))
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

// heldView is a held count as GET /v1/counts shows it.
type heldView struct {
	TransactionID string     `json:"transactionId"`
	WarehouseID   string     `json:"warehouseId"`
	ItemID        string     `json:"itemId"`
	LocationID    string     `json:"locationId"`
	LotNumber     string     `json:"lotNumber"`
	Counted       int64      `json:"counted"`
	Expected      int64      `json:"expected"`
	Tolerance     float64    `json:"tolerance"`
	Status        string     `json:"status"`
	ScannerID     string     `json:"scannerId"`
	UserID        string     `json:"userId"`
	CountedAt     time.Time  `json:"countedAt"`
	HeldAt        time.Time  `json:"heldAt"`
	DecidedAt     *time.Time `json:"decidedAt"`
	DecidedBy     *string    `json:"decidedBy"`
	Note          *string    `json:"note"`
}

func viewOfHeld(h *processors.HeldCount) heldView {
	t := &h.Transaction
	return heldView{TransactionID: t.TransactionID, WarehouseID: t.WarehouseID, ItemID: t.ItemID, LocationID: t.LocationID,
		LotNumber: t.LotNumber, Counted: h.Counted, Expected: h.Expected, Tolerance: h.Tolerance, Status: h.Status,
		ScannerID: t.ScannerID, UserID: t.UserID, CountedAt: t.CorrectedTimestamp.UTC(), HeldAt: h.HeldAt, DecidedAt: h.DecidedAt,
		DecidedBy: optStr(h.DecidedBy), Note: optStr(h.Note)}
}

func (s *Server) listHeld(c *gin.Context) {
	wh, ok := scopedWarehouse(c)
	if !ok {
		return
	}
	status, ok := queryStatus(c, processors.HeldPending, processors.HeldApproved, processors.HeldRejected, processors.HeldSuperseded)
	if !ok {
		return
	}
	hs, err := s.cfg.Recon.HeldCounts(c.Request.Context(), wh, status)
	if err != nil && !ownedElsewhere(err) {
		s.stateError(c, err)
		return
	}
	out := []heldView{}
	for i := range hs {
		out = append(out, viewOfHeld(&hs[i]))
	}
	if err != nil && !forwarded(c) && s.cfg.Router != nil {
		var more []heldView
		if !s.gatherPeers(c, "counts", &more) {
			s.stateError(c, err)
			return
		}
		out = append(out, more...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].HeldAt.Before(out[j].HeldAt) })
	c.JSON(http.StatusOK, gin.H{"counts": out})
}

func (s *Server) getHeld(c *gin.Context) {
	h, found, err := s.cfg.Recon.FindHeld(c.Request.Context(), c.Param("txid"))
	switch {
	case found:
		if inScope(c, h.Transaction.WarehouseID) {
			c.JSON(http.StatusOK, viewOfHeld(&h))
		}
	case err != nil && s.fanOut(c, nil):
	case err != nil && (s.cfg.Router == nil || !ownedElsewhere(err)):
		s.stateError(c, err)
	default:
		writeError(c, http.StatusNotFound, "COUNT_NOT_FOUND", "no count "+c.Param("txid")+" was held")
	}
}

// decideHeld approves or rejects a held count.
func (s *Server) decideHeld(approve bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		var note string
		if body, ok := readBody(c, 64<<10); !ok {
			return
		} else if len(body) > 0 {
			var j struct {
				Note *string `json:"note"`
			}
			if err := strictUnmarshal(body, &j); err != nil {
				writeError(c, http.StatusBadRequest, "INVALID_REQUEST", "malformed decision: "+describeJSONError(err)+" (field: note)")
				return
			}
			note = deref(j.Note)
		}
		txid := c.Param("txid")
		h, found, err := s.cfg.Recon.FindHeld(c.Request.Context(), txid)
		if !found && err != nil && ownedElsewhere(err) && !forwarded(c) && s.cfg.Router != nil {
			peers, _ := s.cfg.Router.PeerURLs(c.Request.Context())
			for _, url := range peers {
				status, _, data, ferr := s.send(c.Request.Context(), http.MethodGet, url+"/v1/counts/"+neturl.PathEscape(txid), nil)
				var v heldView
				if ferr == nil && status == http.StatusOK && json.Unmarshal(data, &v) == nil {
					h.Transaction = processors.Transaction{TransactionID: v.TransactionID, WarehouseID: v.WarehouseID, ItemID: v.ItemID}
					found = true
					break
				}
			}
		}
		switch {
		case !found && err != nil && !ownedElsewhere(err):
			s.stateError(c, err)
			return
		case !found:
			writeError(c, http.StatusNotFound, "COUNT_NOT_FOUND", "no count "+txid+" was held")
			return
		case !inScope(c, h.Transaction.WarehouseID):
			return
		}
		id, ok := commandID(c)
		if !ok {
			return
		}
		cmd := processors.Command{CommandID: id, Kind: processors.CommandCountDecision, WarehouseID: h.Transaction.WarehouseID,
			ItemID: h.Transaction.ItemID, Count: &processors.CountDecision{TransactionID: txid, Approve: approve, Note: note}}
		s.runCommand(c, &cmd, func(r processors.CommandResult) {
			out := gin.H{"count": viewOfHeld(r.Held)}
			if r.Outcome != nil {
				out["outcome"] = outcomeJSON(*r.Outcome)
			}
			c.JSON(http.StatusOK, out)
		})
	}
}

// countTaskView is a count task as the API shows it.
type countTaskView struct {
	CountTaskID   string     `json:"countTaskId"`
	WarehouseID   string     `json:"warehouseId"`
	LocationID    string     `json:"locationId"`
	ItemID        *string    `json:"itemId"`
	Reason        string     `json:"reason"`
	Status        string     `json:"status"`
	CreatedAt     time.Time  `json:"createdAt"`
	CreatedBy     string     `json:"createdBy"`
	DiscrepancyID *string    `json:"discrepancyId"`
	CompletedAt   *time.Time `json:"completedAt"`
	CompletedBy   *string    `json:"completedBy"`
}

func viewOfTask(t *processors.CountTask) countTaskView {
	return countTaskView{CountTaskID: t.CountTaskID, WarehouseID: t.WarehouseID, LocationID: t.LocationID, ItemID: optStr(t.ItemID),
		Reason: t.Reason, Status: t.Status, CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, DiscrepancyID: optStr(t.DiscrepancyID),
		CompletedAt: t.CompletedAt, CompletedBy: optStr(t.CompletedBy)}
}

func (s *Server) postCountTask(c *gin.Context) {
	body, ok := readBody(c, 64<<10)
	if !ok {
		return
	}
	var j struct {
		WarehouseID   *string `json:"warehouseId"`
		LocationID    *string `json:"locationId"`
		ItemID        *string `json:"itemId"`
		Reason        *string `json:"reason"`
		DiscrepancyID *string `json:"discrepancyId"`
	}
	if err := strictUnmarshal(body, &j); err != nil {
		writeError(c, http.StatusBadRequest, "INVALID_COUNT_TASK", "malformed count task: "+describeJSONError(err)+" (fields: warehouseId, locationId, itemId, reason, discrepancyId)")
		return
	}
	if j.WarehouseID == nil || j.LocationID == nil || j.Reason == nil || *j.Reason == "" || len(*j.Reason) > 500 {
		writeError(c, http.StatusBadRequest, "INVALID_COUNT_TASK", "warehouseId, locationId and reason (at most 500 bytes) are required")
		return
	}
	if !inScope(c, *j.WarehouseID) {
		return
	}
	if rej := s.cfg.Catalog.Catalog().CheckLocationItem(*j.WarehouseID, *j.LocationID, deref(j.ItemID)); rej != nil {
		writeError(c, http.StatusBadRequest, rej.Code, rej.Message)
		return
	}
	t := processors.CountTask{CountTaskID: "ct-" + newCommandID()[4:], WarehouseID: *j.WarehouseID, LocationID: *j.LocationID,
		ItemID: deref(j.ItemID), Reason: *j.Reason, Status: processors.CountTaskOpen, CreatedAt: s.cfg.Now().UTC(),
		CreatedBy: principal(c).Name, DiscrepancyID: deref(j.DiscrepancyID)}
	if err := s.cfg.CountTasks.Create(c.Request.Context(), t); err != nil {
		s.unavailable(c, err)
		return
	}
	c.JSON(http.StatusCreated, viewOfTask(&t))
}

func (s *Server) listCountTasks(c *gin.Context) {
	wh, ok := scopedWarehouse(c)
	if !ok {
		return
	}
	status, ok := queryStatus(c, processors.CountTaskOpen, processors.CountTaskDone)
	if !ok {
		return
	}
	out := []countTaskView{}
	for _, t := range s.cfg.CountTasks.List(wh, status) {
		out = append(out, viewOfTask(&t))
	}
	c.JSON(http.StatusOK, gin.H{"countTasks": out})
}

// scopedWarehouse returns the required warehouseId query parameter of a
// list, answering 400 when it is missing and 403 when it is outside the
// token's warehouses.
func scopedWarehouse(c *gin.Context) (string, bool) {
	wh := c.Query("warehouseId")
	if wh == "" {
		writeError(c, http.StatusBadRequest, "INVALID_REQUEST", "warehouseId query parameter is required")
		return "", false
	}
	return wh, inScope(c, wh)
}

// queryStatus returns the optional status query parameter of a list,
// answering 400 when it is none of allowed.
func queryStatus(c *gin.Context, allowed ...string) (string, bool) {
	st := c.Query("status")
	if st != "" && !slices.Contains(allowed, st) {
		writeError(c, http.StatusBadRequest, "INVALID_REQUEST", "status must be "+orList(allowed)+", got "+st)
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
