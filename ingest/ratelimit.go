package ingest

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
	"golang.org/x/time/rate"
)

// limiters holds one token bucket per token: RatePerSecond requests a
// second, bursts of twice that. Buckets idle for ten minutes are dropped.
type limiters struct {
	perSecond rate.Limit
	burst     int
	mu        sync.Mutex
	m         map[string]*limiter
	swept     time.Time
}

type limiter struct {
	l    *rate.Limiter
	used time.Time
}

func newLimiters(perSecond float64) *limiters {
	return &limiters{perSecond: rate.Limit(perSecond), burst: max(1, int(math.Ceil(2*perSecond))), m: map[string]*limiter{}}
}

// reserve takes a request from key's bucket at now; it returns 0 when the
// request may go, or how long to wait before retrying.
func (ls *limiters) reserve(key string, now time.Time) time.Duration {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if now.Sub(ls.swept) > time.Minute {
		for k, l := range ls.m {
			if now.Sub(l.used) > 10*time.Minute {
				delete(ls.m, k)
			}
		}
		ls.swept = now
	}
	l, ok := ls.m[key]
	if !ok {
		l = &limiter{l: rate.NewLimiter(ls.perSecond, ls.burst)}
		ls.m[key] = l
	}
	l.used = now
	r := l.l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// rateLimit answers 429 RATE_LIMITED, with Retry-After in whole seconds,
// to a token over its rate. Nothing of a refused request is processed.
func (s *Server) rateLimit(c *gin.Context) {
	if s.limits == nil {
		return
	}
	p := principal(c)
	if p == nil {
		return
	}
	if wait := s.limits.reserve(p.TokenID, s.cfg.Now()); wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		c.Header("Retry-After", strconv.Itoa(secs))
		writeError(c, http.StatusTooManyRequests, api.CodeRateLimited,
			"this token sent more than "+strconv.FormatFloat(float64(s.limits.perSecond), 'f', -1, 64)+
				" requests a second; nothing of this request was processed: retry after "+strconv.Itoa(secs)+" s")
	}
}
