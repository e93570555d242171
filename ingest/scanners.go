package ingest

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/processors"
)

// Fleet keeps every scanner's last device report, shared by every
// instance (pipeline.FleetTable).
type Fleet interface {
	// Report records r; with wait it returns once r is durable and
	// visible here, without it at once (failures are only logged). The
	// record keeps the uploads known, r's added (processors.MergeUploads).
	Report(ctx context.Context, r processors.DeviceReport, wait bool) error
	Get(scannerID string) (processors.DeviceReport, bool)
	Reports() map[string]processors.DeviceReport
}

func (s *Server) fleetRoutes(v1 *gin.RouterGroup) {
	if s.cfg.Fleet == nil {
		return
	}
	v1.POST("/scanners/:id/heartbeat", s.requireOpen, s.postHeartbeat)
	v1.GET("/scanners", allow(auth.ReadScanners), s.listScanners)
	v1.GET("/scanners/:id", allow(auth.ReadScanners), s.getScanner)
}

// deviceJSON is a heartbeat's body and an upload's "device" object.
type deviceJSON struct {
	SentAt         *string `json:"sentAt"`
	Queued         *int64  `json:"queued"`
	OldestQueuedAt *string `json:"oldestQueuedAt"`
	Rejected       *int64  `json:"rejected"`
	AppVersion     *string `json:"appVersion"`
}

// DecodeDevice parses and checks a device report (a heartbeat's body, or
// an upload's "device" object) of scanner id received at now.
func DecodeDevice(raw []byte, id string, now time.Time) (processors.DeviceReport, *RequestError) {
	var j deviceJSON
	if err := strictUnmarshal(raw, &j); err != nil {
		return processors.DeviceReport{}, badRequest("malformed device report: %s (fields: sentAt, queued, oldestQueuedAt, rejected, appVersion)", describeJSONError(err))
	}
	r := processors.DeviceReport{ScannerID: id, ReceivedAt: now}
	if j.SentAt == nil {
		return r, badRequest("sentAt is required (the device clock when the report was sent, RFC 3339)")
	}
	var err error
	if r.SentAt, err = parseTime(*j.SentAt); err != nil {
		return r, badRequest("sentAt: %v", err)
	}
	if j.Queued == nil || *j.Queued < 0 {
		return r, badRequest("queued is required: the number of scans on the device not yet accepted (0 or more)")
	}
	if j.Rejected == nil || *j.Rejected < 0 {
		return r, badRequest("rejected is required: the number of rejections waiting on the device (0 or more)")
	}
	r.Queued, r.Rejected = *j.Queued, *j.Rejected
	if j.OldestQueuedAt != nil {
		t, err := parseTime(*j.OldestQueuedAt)
		if err != nil {
			return r, badRequest("oldestQueuedAt: %v (or null when nothing is queued)", err)
		}
		// The device's clock: corrected by its offset like a scan's time.
		t = t.Add(now.Sub(r.SentAt))
		r.OldestQueuedAt = &t
	}
	if r.Queued > 0 && r.OldestQueuedAt == nil {
		return r, badRequest("oldestQueuedAt is required when queued is more than 0")
	}
	if j.AppVersion != nil {
		if len(*j.AppVersion) > 64 || strings.ContainsFunc(*j.AppVersion, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return r, badRequest("appVersion must be printable and at most 64 bytes")
		}
		r.AppVersion = *j.AppVersion
	}
	return r, nil
}

// postHeartbeat records a device's report about its queue. Only the
// scanner itself may report: any other token is SCANNER_MISMATCH.
func (s *Server) postHeartbeat(c *gin.Context) {
	id := c.Param("id")
	if p := principal(c); p.Role != auth.RoleScanner || p.Name != id {
		writeError(c, http.StatusForbidden, "SCANNER_MISMATCH", "only scanner "+id+" itself (with its own scanner token) reports its heartbeat; this token is "+
			string(p.Role)+" "+p.Name)
		return
	}
	r, ok := readDecoded(c, 16<<10, func(body []byte) (processors.DeviceReport, *RequestError) {
		return DecodeDevice(body, id, s.cfg.Now())
	})
	if !ok {
		return
	}
	if err := s.cfg.Fleet.Report(c.Request.Context(), r, true); err != nil {
		s.unavailable(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// noteUpload records a scanner's upload and how it was answered: its
// device report when the upload carried one, else the contact, keeping the
// queue it last reported. Only a scanner's own uploads count.
func (s *Server) noteUpload(c *gin.Context, up *Upload, at time.Time, results []api.Result) {
	if s.cfg.Fleet == nil || principal(c).Role != auth.RoleScanner {
		return
	}
	r := up.Device
	if r == nil {
		last, _ := s.cfg.Fleet.Get(up.ScannerID)
		last.ScannerID, last.ReceivedAt = up.ScannerID, at
		r = &last
	}
	r.LastUploadAt = &at
	r.Uploads = []processors.ScannerUpload{uploadSummary(at, results)}
	_ = s.cfg.Fleet.Report(c.Request.Context(), *r, false)
}

// uploadSummary is an upload's answer as the scanner's record keeps it.
func uploadSummary(at time.Time, results []api.Result) processors.ScannerUpload {
	u := processors.ScannerUpload{At: at.UTC().Truncate(time.Millisecond), Transactions: int64(len(results))}
	for _, res := range results {
		switch res.Status {
		case api.StatusAccepted:
			u.Accepted++
		case api.StatusDuplicate:
			u.Duplicate++
		case api.StatusRejected:
			u.Rejected++
			if len(u.Rejections) < processors.MaxUploadRejections {
				code := ""
				if res.Code != nil {
					code = string(*res.Code)
				}
				// A copy: the id is cut from the upload's body, which the
				// scanner's record must not keep alive.
				u.Rejections = append(u.Rejections, processors.UploadRejection{TransactionID: strings.Clone(res.TransactionID), Code: code})
			}
		}
	}
	return u
}

// scannerTokens groups the scanner tokens by name (a scanner's id): a
// re-enrolled scanner has its old, revoked token and a new one. A scanner
// holds a valid token if any of its tokens is active; its warehouses are
// those of its active tokens (of all of them when none is).
type scannerTokens struct {
	warehouses []string
	valid      bool
}

func (s *Server) scannerTokens(now time.Time) map[string]*scannerTokens {
	out := map[string]*scannerTokens{}
	for _, t := range s.cfg.Tokens.List() {
		if t.Role != auth.RoleScanner {
			continue
		}
		st := out[t.Name]
		if st == nil {
			st = &scannerTokens{}
			out[t.Name] = st
		}
		active := t.Active(now)
		switch {
		case active && !st.valid:
			st.valid, st.warehouses = true, slices.Clone(t.Warehouses)
		case active == st.valid:
			st.warehouses = append(st.warehouses, t.Warehouses...)
		}
	}
	for _, st := range out {
		slices.Sort(st.warehouses)
		st.warehouses = slices.Compact(st.warehouses)
	}
	return out
}

// covers reports whether a scanner with warehouses whs may work in wh.
func covers(whs []string, wh string) bool {
	return slices.Contains(whs, auth.AllWarehouses) || slices.Contains(whs, wh)
}

// visible reports whether the caller may see a scanner of warehouses whs:
// one of them is in its scope.
func visible(c *gin.Context, whs []string) bool {
	p := principal(c)
	if p.Role == auth.RoleAdmin || p.AllWarehouses() || slices.Contains(whs, auth.AllWarehouses) {
		return true
	}
	return slices.ContainsFunc(whs, p.MayAccess)
}

func scannerView(id string, st *scannerTokens, r *processors.DeviceReport, now time.Time) api.Scanner {
	v := api.Scanner{ScannerID: id, Warehouses: st.warehouses, Status: processors.FleetStatus(r, st.valid, now)}
	if r != nil {
		seen := r.ReceivedAt.UTC()
		v.LastSeenAt, v.LastUploadAt, v.Queued, v.Rejected = &seen, r.LastUploadAt, r.Queued, r.Rejected
		v.OldestQueuedAt = r.OldestQueuedAt
		if r.AppVersion != "" {
			v.AppVersion = &r.AppVersion
		}
	}
	return v
}

// fleet is every scanner token's view at now, red first, then by id;
// keep filters them.
func (s *Server) fleet(now time.Time, keep func(whs []string) bool) []api.Scanner {
	reports := s.cfg.Fleet.Reports()
	out := []api.Scanner{}
	for id, st := range s.scannerTokens(now) {
		if !keep(st.warehouses) {
			continue
		}
		var r *processors.DeviceReport
		if rep, ok := reports[id]; ok {
			r = &rep
		}
		out = append(out, scannerView(id, st, r, now))
	}
	rank := func(status string) int { return slices.Index(processors.FleetStatuses, status) }
	sort.Slice(out, func(i, j int) bool {
		if a, b := rank(out[i].Status), rank(out[j].Status); a != b {
			return a < b
		}
		return out[i].ScannerID < out[j].ScannerID
	})
	return out
}

// listScanners answers GET /v1/scanners[?warehouseId=]: every scanner
// token the caller may see (of that warehouse), seen or not.
func (s *Server) listScanners(c *gin.Context) {
	wh, one := c.GetQuery("warehouseId")
	if one && !inScope(c, wh) {
		return
	}
	offset, limit, paged, ok := pageQuery(c)
	if !ok {
		return
	}
	list := s.fleet(s.cfg.Now(), func(whs []string) bool {
		if one {
			return covers(whs, wh)
		}
		return visible(c, whs)
	})
	out := api.ScannerList{Scanners: list}
	if paged {
		total := len(list)
		out.Scanners, out.Total, out.Offset = page(list, offset, limit), &total, &offset
	}
	c.JSON(http.StatusOK, out)
}

// getScanner answers GET /v1/scanners/{scannerId}, with the scanner's
// recent uploads.
func (s *Server) getScanner(c *gin.Context) {
	id := c.Param("id")
	now := s.cfg.Now()
	st, ok := s.scannerTokens(now)[id]
	if !ok {
		writeError(c, http.StatusNotFound, "NOT_FOUND", "no scanner token is named "+id)
		return
	}
	if !visible(c, st.warehouses) {
		writeError(c, http.StatusForbidden, "FORBIDDEN", "scanner "+id+" works outside this token's warehouses")
		return
	}
	var r *processors.DeviceReport
	out := api.ScannerDetail{RecentUploads: []api.ScannerUpload{}}
	if rep, ok := s.cfg.Fleet.Get(id); ok {
		r = &rep
		for _, u := range rep.Uploads {
			j := api.ScannerUpload{At: u.At.UTC(), Transactions: u.Transactions, Accepted: u.Accepted, Duplicate: u.Duplicate,
				Rejected: u.Rejected, Rejections: []api.UploadRejection{}}
			for _, x := range u.Rejections {
				j.Rejections = append(j.Rejections, api.UploadRejection{TransactionID: x.TransactionID, Code: x.Code})
			}
			out.RecentUploads = append(out.RecentUploads, j)
		}
	}
	out.Scanner = scannerView(id, st, r, now)
	c.JSON(http.StatusOK, out)
}

// observeFleet reports the fleet gauges per warehouse (a scanner of
// several warehouses counts in each; one of every warehouse under "*").
func (s *Server) observeFleet(byStatus, queued, oldestAge metric.Int64Observable, o metric.Observer) {
	now := s.cfg.Now()
	type whStats struct {
		status map[string]int64
		queued int64
		oldest *time.Time
	}
	per := map[string]*whStats{}
	for _, v := range s.fleet(now, func([]string) bool { return true }) {
		for _, wh := range v.Warehouses {
			w := per[wh]
			if w == nil {
				w = &whStats{status: map[string]int64{}}
				per[wh] = w
			}
			w.status[v.Status]++
			w.queued += v.Queued
			if v.OldestQueuedAt != nil && (w.oldest == nil || v.OldestQueuedAt.Before(*w.oldest)) {
				w.oldest = v.OldestQueuedAt
			}
		}
	}
	for wh, w := range per {
		whAttr := attribute.String("warehouse", wh)
		for _, st := range processors.FleetStatuses {
			o.ObserveInt64(byStatus, w.status[st], metric.WithAttributes(whAttr, attribute.String("status", st)))
		}
		o.ObserveInt64(queued, w.queued, metric.WithAttributes(whAttr))
		var age int64
		if w.oldest != nil {
			age = max(0, int64(now.Sub(*w.oldest)/time.Second))
		}
		o.ObserveInt64(oldestAge, age, metric.WithAttributes(whAttr))
	}
}

// registerFleetMetrics registers the fleet gauges.
func (s *Server) registerFleetMetrics() {
	m := s.cfg.Meter
	byStatus, _ := m.Int64ObservableGauge("invsync.scanners",
		metric.WithDescription("Scanner tokens by warehouse and fleet status (red, offline, yellow, green), as GET /v1/scanners decides it."))
	queued, _ := m.Int64ObservableGauge("invsync.device.queued_scans",
		metric.WithDescription("Scans held on the warehouse's devices, not yet accepted, as the devices last reported."))
	oldest, _ := m.Int64ObservableGauge("invsync.device.oldest_queued_scan_age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest scan held on any of the warehouse's devices (0 when none)."))
	_, _ = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s.observeFleet(byStatus, queued, oldest, o)
		return nil
	}, byStatus, queued, oldest)
}

// decodeUploadDevice decodes an upload's optional "device" object.
func decodeUploadDevice(raw json.RawMessage, up *Upload, now time.Time) *RequestError {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	r, rerr := DecodeDevice(raw, up.ScannerID, now)
	if rerr != nil {
		rerr.Message = "device: " + rerr.Message
		return rerr
	}
	up.Device = &r
	return nil
}
