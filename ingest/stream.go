package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/processors"
)

// The console's change stream (GET /v1/console/stream): text/event-stream
// framing, read with fetch so the bearer header is sent (an EventSource
// cannot send it, and the token never goes in a URL). Each event names
// what changed and its id; the console re-fetches what it shows.
const (
	StreamDiscrepancy = "discrepancy"
	StreamHeld        = "held"
	StreamScanner     = "scanner"
	StreamLock        = "lock"
	StreamToken       = "token"
	StreamCountTask   = "count-task"
	StreamOverview    = "overview"
)

const (
	// streamHeartbeat: a comment line this often keeps proxies from
	// closing an idle stream.
	streamHeartbeat = 15 * time.Second
	// streamOverviewEvery: the overview tick (its figures are sampled).
	streamOverviewEvery = 5 * time.Second
	// streamBuffer events wait for a subscriber; one that falls this far
	// behind is dropped (its console reconnects and re-fetches).
	streamBuffer = 64
	// streamPerToken bounds the open streams of one token.
	streamPerToken = 8
)

// StreamEvent is one change: its kind, the id of what changed and, when
// it belongs to warehouses, which (an event is sent to a token that may
// see one of them).
type StreamEvent struct {
	Kind       string   `json:"kind"`
	ID         string   `json:"id,omitempty"`
	Warehouses []string `json:"warehouses,omitempty"`
}

// Ticker makes a ticker of period d: its channel and its stop.
type Ticker func(d time.Duration) (<-chan time.Time, func())

func realTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// streamHub fans changes out to the open streams. Publishing never
// blocks: a subscriber whose buffer is full is dropped.
type streamHub struct {
	mu       sync.Mutex
	subs     map[*streamSub]struct{}
	perToken map[string]int
	closed   bool
}

type streamSub struct {
	p    auth.Principal
	wh   string // "": every warehouse the token may see
	ch   chan StreamEvent
	gone chan struct{} // closed when dropped or the hub closes
}

func newStreamHub() *streamHub {
	return &streamHub{subs: map[*streamSub]struct{}{}, perToken: map[string]int{}}
}

var (
	errStreamsClosed  = errors.New("the server is shutting down; reconnect in a moment")
	errTooManyStreams = fmt.Errorf("this token has %d console streams open already; close a tab", streamPerToken)
)

// subscribe adds a stream of p (optionally of warehouse wh).
func (h *streamHub) subscribe(p auth.Principal, wh string) (*streamSub, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errStreamsClosed
	}
	if h.perToken[p.TokenID] >= streamPerToken {
		return nil, errTooManyStreams
	}
	sub := &streamSub{p: p, wh: wh, ch: make(chan StreamEvent, streamBuffer), gone: make(chan struct{})}
	h.subs[sub] = struct{}{}
	h.perToken[p.TokenID]++
	return sub, nil
}

func (h *streamHub) unsubscribe(sub *streamSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(sub)
}

func (h *streamHub) removeLocked(sub *streamSub) {
	if _, ok := h.subs[sub]; !ok {
		return
	}
	delete(h.subs, sub)
	if h.perToken[sub.p.TokenID]--; h.perToken[sub.p.TokenID] <= 0 {
		delete(h.perToken, sub.p.TokenID)
	}
	close(sub.gone)
}

// active reports whether any stream is open (so a publisher can skip
// working out an event's warehouses).
func (h *streamHub) active() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs) > 0
}

func (h *streamHub) publish(ev StreamEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		if !sub.sees(&ev) {
			continue
		}
		select {
		case sub.ch <- ev:
		default:
			h.removeLocked(sub)
		}
	}
}

// close ends every stream and refuses new ones (the server shuts down).
func (h *streamHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for sub := range h.subs {
		h.removeLocked(sub)
	}
}

// sees reports whether the subscriber may be told of ev.
func (sub *streamSub) sees(ev *StreamEvent) bool {
	if len(ev.Warehouses) == 0 {
		return true
	}
	if sub.wh != "" && !slices.Contains(ev.Warehouses, sub.wh) && !slices.Contains(ev.Warehouses, auth.AllWarehouses) {
		return false
	}
	if sub.p.Role == auth.RoleAdmin || sub.p.AllWarehouses() || slices.Contains(ev.Warehouses, auth.AllWarehouses) {
		return true
	}
	return slices.ContainsFunc(ev.Warehouses, sub.p.MayAccess)
}

// CloseStreams ends every open stream and refuses new ones; call it when
// the HTTP server shuts down (open streams would hold the shutdown).
func (s *Server) CloseStreams() { s.stream.close() }

// Notify publishes a change to the open streams; it never blocks.
func (s *Server) Notify(ev StreamEvent) { s.stream.publish(ev) }

// changeSource is a table that reports the key of each change
// (pipeline's topic tables).
type changeSource interface{ OnChange(func(key string)) }

// commandHooks is a command notifier that reports every result.
type commandHooks interface {
	OnOutcome(func(processors.CommandResult))
}

// watchChanges hooks the stream to what the console shows.
func (s *Server) watchChanges() {
	s.cfg.Outcomes.OnOutcome(func(o processors.Outcome) {
		if o.Status == processors.StatusHeld {
			s.Notify(StreamEvent{Kind: StreamHeld, ID: o.TransactionID, Warehouses: whs(o.WarehouseID)})
		}
	})
	if cr, ok := s.cfg.CommandResults.(commandHooks); ok {
		cr.OnOutcome(s.notifyCommand)
	}
	if src, ok := s.cfg.Fleet.(changeSource); ok {
		src.OnChange(func(id string) {
			if !s.stream.active() {
				return
			}
			ev := StreamEvent{Kind: StreamScanner, ID: id, Warehouses: []string{auth.AllWarehouses}}
			if st := s.scannerTokens(s.cfg.Now())[id]; st != nil && len(st.warehouses) > 0 {
				ev.Warehouses = st.warehouses
			}
			s.Notify(ev)
		})
	}
	if src, ok := s.cfg.Locks.(changeSource); ok {
		src.OnChange(func(id string) {
			l, found := s.cfg.Locks.Get(id)
			if found {
				s.Notify(StreamEvent{Kind: StreamLock, ID: id, Warehouses: whs(l.WarehouseID)})
			}
		})
	}
	if src, ok := s.cfg.CountTasks.(changeSource); ok {
		src.OnChange(func(id string) {
			if t, found := s.cfg.CountTasks.CountTask(id); found {
				s.Notify(StreamEvent{Kind: StreamCountTask, ID: id, Warehouses: whs(t.WarehouseID)})
			}
		})
	}
	if src, ok := s.cfg.Tokens.(changeSource); ok {
		src.OnChange(func(id string) { s.Notify(StreamEvent{Kind: StreamToken, ID: id}) })
	}
}

func (s *Server) notifyCommand(r processors.CommandResult) {
	if r.Duplicate || r.Code != "" {
		return
	}
	if d := r.Discrepancy; d != nil {
		s.Notify(StreamEvent{Kind: StreamDiscrepancy, ID: d.DiscrepancyID, Warehouses: whs(d.WarehouseID)})
	}
	for i := range r.Discrepancies {
		d := &r.Discrepancies[i]
		s.Notify(StreamEvent{Kind: StreamDiscrepancy, ID: d.DiscrepancyID, Warehouses: whs(d.WarehouseID)})
	}
	if h := r.Held; h != nil {
		s.Notify(StreamEvent{Kind: StreamHeld, ID: h.Transaction.TransactionID, Warehouses: whs(h.Transaction.WarehouseID)})
	}
}

// whs is wh as an event's warehouses ("" is unknown: every warehouse).
func whs(wh string) []string {
	if wh == "" {
		return []string{auth.AllWarehouses}
	}
	return []string{wh}
}

func (s *Server) streamRoutes(v1 *gin.RouterGroup) {
	v1.GET("/console/stream", allow(auth.ReadScanners), s.getStream)
}

// getStream sends the caller's changes until it goes away, its token is
// revoked or expires, it falls too far behind, or the server shuts down.
func (s *Server) getStream(c *gin.Context) {
	p := principal(c)
	wh := c.Query("warehouseId")
	if wh != "" && !inScope(c, wh) {
		return
	}
	token, _ := auth.ParseBearer(c.GetHeader("Authorization")) // checked by authenticate
	sub, err := s.stream.subscribe(*p, wh)
	if err != nil {
		c.Header("Retry-After", "5")
		if errors.Is(err, errStreamsClosed) {
			writeError(c, http.StatusServiceUnavailable, api.CodeNotReady, err.Error())
		} else {
			writeError(c, http.StatusTooManyRequests, api.CodeRateLimited, err.Error())
		}
		return
	}
	defer s.stream.unsubscribe(sub)
	// The server's read and write timeouts bound requests, not a stream.
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	heartbeat, stopHeartbeat := s.cfg.StreamTicker(streamHeartbeat)
	defer stopHeartbeat()
	tick, stopTick := s.cfg.StreamTicker(streamOverviewEvery)
	defer stopTick()
	stillValid := func() bool {
		_, err := s.cfg.Auth.Authenticate(token, s.cfg.Now())
		return err == nil
	}
	w := c.Writer
	if !writeFlush(w, "retry: 3000\n: connected\n\n") {
		return
	}
	for {
		var frame string
		select {
		case <-c.Request.Context().Done():
			return
		case <-sub.gone:
			return
		case <-heartbeat:
			frame = ": heartbeat\n\n"
		case <-tick:
			if !stillValid() {
				return
			}
			frame = eventFrame(StreamEvent{Kind: StreamOverview})
		case ev := <-sub.ch:
			if ev.Kind == StreamToken {
				if !stillValid() {
					return // revoked: the console's reconnect is answered 401
				}
				if sub.p.Role != auth.RoleAdmin {
					continue // only an admin sees the tokens
				}
			}
			frame = eventFrame(ev)
		}
		if !writeFlush(w, frame) {
			return
		}
	}
}

func eventFrame(ev StreamEvent) string {
	data, _ := json.Marshal(ev)
	return "event: " + ev.Kind + "\ndata: " + string(data) + "\n\n"
}

func writeFlush(w gin.ResponseWriter, frame string) bool {
	if _, err := w.WriteString(frame); err != nil {
		return false
	}
	w.Flush()
	return true
}
