package pipeline

import (
	"errors"
	"flag"
	"strings"

	"github.com/invsync/invsync/schemas"
)

// TailFlags declares the flags of `invsync tail` on fs, with their
// environment variables; after fs.Parse, the function returned converts
// and checks them with the topic, given before the flags or as fs's one
// argument (each problem a line of the error).
func TailFlags(fs *flag.FlagSet, getenv func(string) string) func(topic string) (TailConfig, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	brokers := fs.String("brokers", env("INVSYNC_BROKERS", "127.0.0.1:9092"), "Kafka seed brokers (default: the embedded broker of a local invsync serve) (INVSYNC_BROKERS)")
	prefix := fs.String("topic-prefix", env("INVSYNC_TOPIC_PREFIX", schemas.DefaultTopicPrefix), "prefix of invsync's topics (INVSYNC_TOPIC_PREFIX)")
	registry := fs.String("schema-registry-url", env("INVSYNC_SCHEMA_REGISTRY_URL", ""), "the registry invsync registered its schemas in, if any (INVSYNC_SCHEMA_REGISTRY_URL)")
	follow := fs.Bool("follow", false, "keep printing new records as they are committed (stop with Ctrl-C)")
	fromEnd := fs.Bool("from-end", false, "start at the end of the topic rather than its beginning (with --follow: only new records)")
	warehouse := fs.String("warehouse", "", "only records whose warehouseId is this")
	item := fs.String("item", "", "only records whose itemId is this")
	limit := fs.Int("limit", 0, "stop after printing this many records (0: no limit)")
	return func(topic string) (TailConfig, error) {
		if topic == "" && fs.NArg() > 0 {
			topic = fs.Arg(0)
		}
		var problems []error
		if topic == "" || fs.NArg() > 1 {
			problems = append(problems, errors.New("give exactly one TOPIC, e.g. invsync tail inventory-events"))
		}
		cfg := TailConfig{Topic: topic, Prefix: *prefix, Registry: *registry, Follow: *follow, FromEnd: *fromEnd,
			Warehouse: *warehouse, Item: *item, Limit: *limit}
		for _, b := range strings.Split(*brokers, ",") {
			if b = strings.TrimSpace(b); b != "" {
				cfg.Brokers = append(cfg.Brokers, b)
			}
		}
		if len(cfg.Brokers) == 0 {
			problems = append(problems, errors.New("--brokers is empty"))
		}
		if *limit < 0 {
			problems = append(problems, errors.New("--limit must not be negative"))
		}
		if *fromEnd && !*follow {
			problems = append(problems, errors.New("--from-end without --follow would print nothing; add --follow"))
		}
		if len(problems) > 0 {
			return TailConfig{}, errors.Join(problems...)
		}
		if !strings.HasPrefix(cfg.Topic, cfg.Prefix) {
			cfg.Topic = cfg.Prefix + cfg.Topic
		}
		return cfg, nil
	}
}
