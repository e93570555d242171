package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/invsync/invsync/api"
)

// maxReportPositions bounds the positions of one report request.
const maxReportPositions = 5000

// reportRequest is the body of POST /v1/reconciliation/reports as the
// mirror writes it. The server reads it as api.ReportRequest, whose
// pointers tell a missing field from a zero one; the mirror always sends
// every field, and no item range on a whole-warehouse report.
type reportRequest struct {
	ReportID    string           `json:"reportId"`
	WarehouseID string           `json:"warehouseId"`
	Complete    bool             `json:"complete"`
	ItemRange   *api.ItemRange   `json:"itemRange,omitempty"`
	Positions   []reportPosition `json:"positions"`
}

type reportPosition struct {
	ItemID     string `json:"itemId"`
	LocationID string `json:"locationId"`
	LotNumber  string `json:"lotNumber"`
	OnHand     int64  `json:"onHand"`
	Version    int64  `json:"version"`
}

// reportLoop reports once the mirror has caught up, then every
// ReportInterval, until ctx ends.
func (m *Mirror) reportLoop(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-m.progress.caughtUp:
	}
	t := time.NewTicker(m.cfg.ReportInterval)
	defer t.Stop()
	for {
		if err := m.report(ctx, maxReportPositions); err != nil && ctx.Err() == nil {
			m.log.Warn("mirror report round failed; trying again at the next interval", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// report posts every warehouse's positions, pageSize at most per request.
// A warehouse that fits in one request is reported whole; a larger one in
// pages cut at item boundaries, each complete for its item range. An item
// with more positions than a page holds is sent in chunks marked
// incomplete (completeness cannot be claimed for part of an item). A
// request that fails is logged and the round goes on.
func (m *Mirror) report(ctx context.Context, pageSize int) error {
	at := m.cfg.Now().UTC().Format(time.RFC3339)
	warehouses, err := m.store.warehouses(ctx)
	if err != nil {
		return err
	}
	for _, wh := range warehouses {
		if err := m.reportWarehouse(ctx, wh, at, pageSize); err != nil {
			return err
		}
	}
	return nil
}

func (m *Mirror) reportWarehouse(ctx context.Context, wh, at string, pageSize int) error {
	base := "mirror-" + wh + "-" + at
	rows, err := m.store.reportPositions(ctx, wh, "", pageSize+1)
	if err != nil {
		return err
	}
	if len(rows) <= pageSize {
		m.send(ctx, reportRequest{ReportID: base, WarehouseID: wh, Complete: true, Positions: rows})
		return nil
	}
	page := 0
	for len(rows) > 0 {
		cut := len(rows)
		if len(rows) > pageSize {
			// Leave out the item the page limit falls in.
			spill := rows[pageSize].ItemID
			for cut = pageSize; cut > 0 && rows[cut-1].ItemID == spill; cut-- {
			}
		}
		if cut == 0 {
			item := rows[0].ItemID
			all, err := m.store.itemPositions(ctx, wh, item)
			if err != nil {
				return err
			}
			m.log.Warn("mirror report: an item has more positions than a report holds; sent in chunks without completeness",
				"warehouse", wh, "item", item, "positions", len(all))
			for start := 0; start < len(all); start += pageSize {
				page++
				m.send(ctx, reportRequest{ReportID: base + "-p" + strconv.Itoa(page), WarehouseID: wh,
					Complete: false, Positions: all[start:min(start+pageSize, len(all))]})
			}
			rows, err = m.store.reportPositions(ctx, wh, item, pageSize+1)
			if err != nil {
				return err
			}
			continue
		}
		p := rows[:cut]
		page++
		m.send(ctx, reportRequest{ReportID: base + "-p" + strconv.Itoa(page), WarehouseID: wh, Complete: true,
			ItemRange: &api.ItemRange{From: p[0].ItemID, To: p[len(p)-1].ItemID}, Positions: p})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if len(rows) <= pageSize {
			return nil
		}
		rows, err = m.store.reportPositions(ctx, wh, p[len(p)-1].ItemID, pageSize+1)
		if err != nil {
			return err
		}
	}
	return nil
}

// send posts one report, retrying a refusal to take it now (429, 502,
// 503, 504, or no answer) twice, and logs the outcome.
func (m *Mirror) send(ctx context.Context, r reportRequest) {
	body, err := json.Marshal(r)
	if err != nil {
		m.log.Error("mirror report: encoding", "report_id", r.ReportID, "err", err)
		return
	}
	var last error
	for attempt := range 3 {
		if attempt > 0 && !sleep(ctx, retryWait(last, attempt)) {
			return
		}
		var resp api.ReportAnswer
		resp, last = m.post(ctx, body)
		if last == nil {
			m.metrics.reports.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "ok")))
			msg := "mirror report compared"
			if resp.Status == api.ReportPending {
				msg = "mirror report taken, comparison still pending (figures so far)"
			}
			m.log.Info(msg, "report_id", r.ReportID, "warehouse", r.WarehouseID,
				"positions", len(r.Positions), "complete", r.Complete, "item_range", r.ItemRange,
				"compared", resp.Compared, "agreed", resp.Agreed, "behind", resp.Behind,
				"discrepancies", len(resp.Discrepancies), "discrepancy_ids", firstN(resp.Discrepancies, 20))
			return
		}
		var se *statusError
		if !errors.As(last, &se) || !se.retryable() || ctx.Err() != nil {
			break
		}
	}
	m.metrics.reports.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "error")))
	if ctx.Err() == nil {
		m.log.Warn("mirror report not taken", "report_id", r.ReportID, "warehouse", r.WarehouseID, "err", last)
	}
}

func (m *Mirror) post(ctx context.Context, body []byte) (api.ReportAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// wait=compared: without it the server answers 202 before comparing,
	// with every figure 0.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(m.cfg.URL, "/")+"/v1/reconciliation/reports?wait=compared", bytes.NewReader(body))
	if err != nil {
		return api.ReportAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+m.cfg.Token)
	res, err := m.cfg.HTTPClient.Do(req)
	if err != nil {
		return api.ReportAnswer{}, &statusError{err: err}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return api.ReportAnswer{}, &statusError{err: fmt.Errorf("reading the answer: %w", err)}
	}
	if res.StatusCode/100 != 2 {
		return api.ReportAnswer{}, &statusError{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After"),
			err: fmt.Errorf("HTTP %d: %s", res.StatusCode, strings.TrimSpace(string(firstBytes(data, 500))))}
	}
	var out api.ReportAnswer
	if err := json.Unmarshal(data, &out); err != nil {
		return api.ReportAnswer{}, fmt.Errorf("decoding the answer: %w", err)
	}
	return out, nil
}

// statusError is a report the server did not take: an HTTP status (0 when
// the request got no answer).
type statusError struct {
	status     int
	retryAfter string
	err        error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

func (e *statusError) retryable() bool {
	switch e.status {
	case 0, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryWait is how long to wait before attempt: the server's Retry-After
// (in seconds, at most 30), else 1 s, 2 s.
func retryWait(err error, attempt int) time.Duration {
	var se *statusError
	if errors.As(err, &se) {
		if s, convErr := strconv.Atoi(se.retryAfter); convErr == nil && s >= 0 {
			return min(time.Duration(s)*time.Second, 30*time.Second)
		}
	}
	return time.Duration(attempt) * time.Second
}

func firstN(s []string, n int) []string { return s[:min(n, len(s))] }

func firstBytes(b []byte, n int) []byte { return b[:min(n, len(b))] }
