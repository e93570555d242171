package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// waitReady waits for GET /readyz to answer 200.
func (b *bencher) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.cfg.URL+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("checking %s/readyz: %w", b.cfg.URL, err)
		}
		resp, err := b.http.Do(req)
		if err == nil {
			discard(resp.Body)
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("invsync at %s not ready after %s: %w", b.cfg.URL, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// endOffsets returns the events topic's end offsets, its partition count
// and the cluster id.
func endOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return nil, 0, "", fmt.Errorf("reading metadata of %s: %w", topic, err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return nil, 0, "", fmt.Errorf("events topic %s not found (is --topic-prefix right?): %v", topic, td.Err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, 0, "", fmt.Errorf("listing end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, len(td.Partitions), md.Cluster, nil
}

func (b *bencher) sampleRSS(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		v := b.cfg.RSS()
		b.rssNow.Store(v)
		if v > b.rssMax.Load() {
			b.rssMax.Store(v)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
