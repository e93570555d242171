package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/pipeline"
	"github.com/invsync/invsync/schemas"
)

// errTopicsDisagree: existing topics have another partition count than
// --partitions; waiting does not help.
var errTopicsDisagree = pipeline.ErrPartitionsDisagree

// ensureTopics creates the topics (one attempt, bounded to 10 s).
func ensureTopics(ctx context.Context, brokers []string, opts []kgo.Opt, cfg Options) error {
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

// waitForKafka creates the topics, waiting as long as it takes for a
// broker that is not there yet (with the reason on /readyz and in the log),
// until ctx ends. A partition-count disagreement and refused credentials
// are fatal: waiting does not help.
func waitForKafka(ctx context.Context, brokers []string, opts []kgo.Opt, cfg Options, boot *bootStatus, log *slog.Logger) error {
	var lastLog time.Time
	closedOnUs := 0
	for {
		refused, err := saslRefused(ctx, brokers, opts, cfg, &closedOnUs)
		if refused != nil {
			return refused
		}
		if err == nil {
			err = ensureTopics(ctx, brokers, opts, cfg)
		}
		if err == nil || ctx.Err() != nil {
			return err
		}
		if errors.Is(err, errTopicsDisagree) {
			return err
		}
		reason := fmt.Sprintf("waiting for Kafka at %s: %v", strings.Join(brokers, ","), err)
		boot.set(reason)
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			log.Warn(reason)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// saslRefused, with SASL configured, asks the brokers once whether they
// take our credentials: it returns a fatal error when they do not, or the
// error of the attempt (nil when they answered). A broker refuses with
// SASL_AUTHENTICATION_FAILED (Apache Kafka) or by closing the connection
// during authentication (the embedded broker); the latter counts after
// three times in a row, as a broker restarting refuses connections rather
// than closing them.
func saslRefused(ctx context.Context, brokers []string, opts []kgo.Opt, cfg Options, closedOnUs *int) (refused, err error) {
	if cfg.Kafka.Mechanism == "" {
		return nil, nil
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = cl.Ping(pctx)
	switch {
	case err == nil:
		*closedOnUs = 0
		return nil, nil
	case errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.IllegalSaslState) || errors.Is(err, kerr.UnsupportedSaslMechanism):
	case errors.Is(err, io.EOF):
		if *closedOnUs++; *closedOnUs < 3 {
			return nil, fmt.Errorf("the broker closed the connection during %s", cfg.Kafka.describe())
		}
	default:
		*closedOnUs = 0
		return nil, err
	}
	return fmt.Errorf("Kafka at %s refused %s (%v): check --kafka-sasl-mechanism, --kafka-sasl-user and INVSYNC_KAFKA_SASL_PASSWORD",
		strings.Join(brokers, ","), cfg.Kafka.describe(), err), nil
}

// clientOpts are the options every Kafka client of this process uses.
func (s *Server) clientOpts() []kgo.Opt {
	return append([]kgo.Opt{kgo.WithLogger(kgoLogger{s.log})}, s.cfg.Kafka.Opts...)
}

// kgoLogger passes the Kafka client's warnings and errors to the log, and
// with --log-level debug its informational lines too (group joins,
// assignments, the offsets each transaction commits), logged at debug.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	if k.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelWarn
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, kv ...any) {
	switch level {
	case kgo.LogLevelError:
		k.l.Error(msg, append(kv, "component", "kafka-client")...)
	case kgo.LogLevelWarn:
		k.l.Warn(msg, append(kv, "component", "kafka-client")...)
	case kgo.LogLevelInfo:
		k.l.Debug(msg, append(kv, "component", "kafka-client")...)
	}
}

// adviseBrokers warns about broker settings that cost invsync latency.
// Brokers that will not describe their configuration (no
// DESCRIBE_CONFIGS permission) are not an error.
func adviseBrokers(ctx context.Context, brokers []string, opts []kgo.Opt, log *slog.Logger) {
	t, err := pipeline.ReadBrokerTxnTuning(ctx, brokers, opts...)
	if err != nil {
		log.Debug("could not read the brokers' transaction settings", "err", err)
		return
	}
	log.Debug("brokers' transaction settings", "settings", t.Describe())
	for _, a := range t.Advice() {
		log.Warn(a)
	}
}
