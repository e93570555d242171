package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/pipeline"
	"github.com/invsync/invsync/schemas"
)

// errTopicsDisagree: existing topics have another partition count than
// --partitions; waiting does not help.
var errTopicsDisagree = pipeline.ErrPartitionsDisagree

// ensureTopics creates the topics (one attempt, bounded to 10 s).
func ensureTopics(ctx context.Context, brokers []string, opts []kgo.Opt, cfg serveConfig) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		return fmt.Errorf("creating admin client: %w", err)
	}
	defer cl.Close()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = pipeline.EnsureTopics(tctx, kadm.NewClient(cl), schemas.NewTopics(cfg.TopicPrefix), int32(cfg.Partitions), -1)
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("no answer within 10 s")
	}
	return err
}
