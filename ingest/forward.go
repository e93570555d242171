package ingest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/processors"
)

// Router finds the instances that own partitions, so any instance can
// answer for any stock key.
type Router interface {
	// OwnerURL is the owning instance's base URL, "" if none is known
	// (rebalancing) or it is this instance.
	OwnerURL(ctx context.Context, partition int32) (string, error)
	// PeerURLs are the other instances' base URLs.
	PeerURLs(ctx context.Context) ([]string, error)
}

// forwardedHeader marks a request forwarded by a peer: it is answered from
// local state only, never forwarded again.
const forwardedHeader = "X-Invsync-Forwarded"

// newPeerClient is the client for reads forwarded to other instances;
// tlsCfg (nil for plain HTTP) says whom to trust and which client
// certificate to present.
func newPeerClient(tlsCfg *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	return &http.Client{Timeout: 12 * time.Second, Transport: tr}
}

func forwarded(c *gin.Context) bool { return c.GetHeader(forwardedHeader) != "" }

// forwardToOwner answers a read that failed here because another instance
// owns the partition by asking that instance. It reports whether it
// answered.
func (s *Server) forwardToOwner(c *gin.Context, err error, body []byte) bool {
	pu, ok := partitionUnavailable(err)
	if s.cfg.Router == nil || forwarded(c) || !ok || !pu.OwnedElsewhere() {
		return false
	}
	url, rerr := s.cfg.Router.OwnerURL(c.Request.Context(), pu.PartitionID())
	if rerr != nil || url == "" {
		return false
	}
	status, hdr, data, ferr := s.send(c.Request.Context(), c.Request.Method, url+c.Request.URL.RequestURI(), body)
	if ferr != nil {
		s.log.Warn("forwarding to partition owner", "owner", url, "err", ferr)
		return false
	}
	relay(c, status, hdr, data)
	return true
}

// fanOut asks every peer (for lookups by an id whose partition is unknown)
// and relays the most definite answer: the first that is neither a 404 nor
// tentative, else the first tentative one (a transaction "pending" or an
// allocation "TENTATIVE": a peer that accepted the id but does not own its
// partition says so, and must not hide the owner's answer). It reports
// whether anything was relayed.
func (s *Server) fanOut(c *gin.Context, body []byte) bool {
	relayed, _ := s.fanOutAll(c, body)
	return relayed
}

// fanOutAll is fanOut that also says whether every peer answered (200 or
// 404): only then is "no peer has it" an answer.
func (s *Server) fanOutAll(c *gin.Context, body []byte) (relayed, allAnswered bool) {
	if s.cfg.Router == nil || forwarded(c) {
		return false, false
	}
	peers, err := s.cfg.Router.PeerURLs(c.Request.Context())
	if err != nil {
		return false, false
	}
	var held *peerAnswer
	allAnswered = true
	for _, url := range peers {
		status, hdr, data, err := s.send(c.Request.Context(), c.Request.Method, url+c.Request.URL.RequestURI(), body)
		if err != nil || status >= 500 {
			allAnswered = false
			continue
		}
		if status == http.StatusNotFound {
			continue
		}
		if status == http.StatusOK && tentative(data) {
			if held == nil {
				held = &peerAnswer{status, hdr, data}
			}
			continue
		}
		relay(c, status, hdr, data)
		return true, allAnswered
	}
	if held != nil {
		relay(c, held.status, held.hdr, held.data)
		return true, allAnswered
	}
	return false, allAnswered
}

// askPeersIfMissing is fanOutAll for a lookup by id that did not find the
// id here: only when it could not read the id's partition (err) does a
// peer have something to say; a lookup that found the id, or read its
// partition and found nothing, asks no one.
func (s *Server) askPeersIfMissing(c *gin.Context, found bool, err error) (relayed, allAnswered bool) {
	if found || err == nil {
		return false, false
	}
	return s.fanOutAll(c, nil)
}

// getFirst asks each of the instances at urls in turn for path (a GET of
// one thing by id) and returns the first answer that is a 200 decoding as
// a T. It reports whether there was one.
func getFirst[T any](ctx context.Context, s *Server, urls []string, path string) (T, bool) {
	for _, url := range urls {
		status, _, data, err := s.send(ctx, http.MethodGet, url+path, nil)
		var v T
		if err == nil && status == http.StatusOK && json.Unmarshal(data, &v) == nil {
			return v, true
		}
	}
	var none T
	return none, false
}

// ownerKnown reports whether the partition err names (a partition not
// readable here) has an owner among the other instances: while it has
// none (a rebalance after an instance died or restarted), nobody can say
// that something on it does not exist.
func (s *Server) ownerKnown(c *gin.Context, err error) bool {
	pu, ok := partitionUnavailable(err)
	if !ok || s.cfg.Router == nil {
		return false
	}
	url, oerr := s.cfg.Router.OwnerURL(c.Request.Context(), pu.PartitionID())
	return oerr == nil && url != ""
}

// unknownYet answers 503 (stateError) when a lookup by id that this
// instance could not read (err: why) cannot yet say "not found": without
// peers to ask, with the partition restoring or catching up with its input
// here, or, unless a peer forwarded the request, when a peer did not
// answer or the partition has no owner (an instance died or restarted and
// the group has not given its partitions out again). It reports whether it
// answered; if not, "not found" is the answer.
func (s *Server) unknownYet(c *gin.Context, err error, allAnswered bool) bool {
	switch {
	case err == nil:
		return false
	case s.cfg.Router == nil || !ownedElsewhere(err):
	case forwarded(c) || (allAnswered && s.ownerKnown(c, err)):
		return false
	}
	s.stateError(c, err)
	return true
}

type peerAnswer struct {
	status int
	hdr    http.Header
	data   []byte
}

// tentative reports whether a peer's answer is a "not decided yet" one.
func tentative(data []byte) bool {
	var v struct {
		Status string `json:"status"`
	}
	return json.Unmarshal(data, &v) == nil && (v.Status == "pending" || v.Status == processors.AllocTentative)
}

func (s *Server) send(ctx context.Context, method, url string, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set(forwardedHeader, "1")
	req.Header.Set("Content-Type", "application/json")
	// The peer checks the caller's rights itself: the read is made with
	// the caller's credential, never with more.
	if cred := credential(ctx); cred != "" {
		req.Header.Set("Authorization", cred)
	}
	resp, err := s.peers.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data, err
}

func relay(c *gin.Context, status int, hdr http.Header, data []byte) {
	if ra := hdr.Get("Retry-After"); ra != "" {
		c.Header("Retry-After", ra)
	}
	c.Data(status, "application/json; charset=utf-8", data)
	c.Abort()
}

// remoteOutcome polls the owner of partition for a transaction's outcome
// until it is no longer pending or ctx ends.
func (s *Server) remoteOutcome(ctx context.Context, partition int32, txid string) (*api.Outcome, bool) {
	if s.cfg.Router == nil {
		return nil, false
	}
	for ctx.Err() == nil {
		url, err := s.cfg.Router.OwnerURL(ctx, partition)
		if err == nil && url != "" {
			status, _, data, err := s.send(ctx, http.MethodGet, url+"/v1/transactions/"+txid, nil)
			if err == nil && status == http.StatusOK {
				var o api.Outcome
				if json.Unmarshal(data, &o) == nil && o.Status != "pending" {
					return &o, true
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil, false
}
