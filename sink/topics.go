package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// checkpointSegmentMs rolls checkpoint-topic segments hourly so compaction
// keeps the topic, and the read at start-up, small.
const checkpointSegmentMs = "3600000"

// EnsureTopics makes sure the named topics and cfg.CheckpointTopic exist.
//
// A missing data topic is created with cfg.TopicPartitions partitions,
// cfg.ReplicationFactor replicas, cfg.TopicConfigs and cleanup.policy=compact
// (delete for a config from [Config.WithoutCompaction]), plus
// max.message.bytes when cfg.MaxMessageBytes is set and TopicConfigs does not
// name it. A missing checkpoint topic is created compacted with one partition
// and hourly segments. A topic that already exists is left as it is; when its
// cleanup.policy lacks "compact" a warning is logged, because compaction then
// never removes deleted rows (for a WithoutCompaction config the warning is
// about the opposite: a compacted topic refuses keyless records). A topic
// another process creates at the same moment counts as existing. A nil
// logger means slog.Default.
//
// EnsureTopics blocks on admin requests (bounded by ctx and the client's
// request timeouts); it does not retry beyond what the client does. Errors
// name the topic, the cause and the fix.
func EnsureTopics(ctx context.Context, adm *kadm.Client, names []string, cfg Config, logger *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.Default()
	}
	all := slices.Clone(names)
	all = append(all, cfg.CheckpointTopic)
	slices.Sort(all)
	all = slices.Compact(all)

	details, err := adm.ListTopics(ctx, all...)
	if err != nil {
		return fmt.Errorf("ensure topics: list topics: %w", err)
	}
	var missing, existing []string
	for _, t := range all {
		d, ok := details[t]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			missing = append(missing, t)
		case d.Err != nil:
			return fmt.Errorf("ensure topics: describe topic %q: %w: %s", t, d.Err, topicFix(t, d.Err, cfg))
		default:
			existing = append(existing, t)
		}
	}

	for _, t := range missing {
		partitions, configs := cfg.TopicPartitions, dataTopicConfigs(cfg)
		if t == cfg.CheckpointTopic {
			partitions, configs = 1, checkpointTopicConfigs(cfg)
		}
		resp, err := adm.CreateTopic(ctx, partitions, cfg.ReplicationFactor, configs, t)
		switch {
		case err == nil:
			logger.Info("created kafka topic", "topic", t, "partitions", partitions, "replication_factor", cfg.ReplicationFactor)
		case errors.Is(err, kerr.TopicAlreadyExists):
			existing = append(existing, t)
		default:
			msg := ""
			if resp.ErrMessage != "" {
				msg = " (" + resp.ErrMessage + ")"
			}
			return fmt.Errorf("ensure topics: create topic %q: %w%s: %s", t, err, msg, topicFix(t, err, cfg))
		}
	}

	if len(existing) == 0 {
		return nil
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, existing...)
	if err != nil {
		logger.Warn("could not check cleanup.policy of existing topics", "topics", existing, "error", err)
		return nil
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			logger.Warn("could not check cleanup.policy of existing topic", "topic", rc.Name, "error", rc.Err)
			continue
		}
		policy := "delete"
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" {
				policy = c.MaybeValue()
			}
		}
		compacted := strings.Contains(policy, "compact")
		switch {
		case rc.Name != cfg.CheckpointTopic && cfg.deletePolicy:
			if compacted {
				logger.Warn("topic is compacted but its table has no key columns: kafka refuses records without a key on a compacted topic; set cleanup.policy=delete on it or configure key columns for the table",
					"topic", rc.Name, "cleanup.policy", policy)
			}
			continue
		case compacted:
			continue
		case rc.Name == cfg.CheckpointTopic:
			logger.Warn("checkpoint topic is not compacted: it grows without bound, old checkpoints may be deleted by retention, and start-up reads all of it; set cleanup.policy=compact on it",
				"topic", rc.Name, "cleanup.policy", policy)
			continue
		}
		logger.Warn("topic is not compacted: compaction will not remove deleted rows, so a consumer reading from the start sees rows that no longer exist; set cleanup.policy=compact on it",
			"topic", rc.Name, "cleanup.policy", policy)
	}
	return nil
}

// dataTopicConfigs are the configs of a data topic sluice creates.
func dataTopicConfigs(cfg Config) map[string]*string {
	m := map[string]*string{}
	if cfg.MaxMessageBytes != DefaultMaxMessageBytes {
		m["max.message.bytes"] = kadm.StringPtr(fmt.Sprint(cfg.MaxMessageBytes))
	}
	for k, v := range cfg.TopicConfigs {
		m[k] = kadm.StringPtr(v)
	}
	switch _, ok := cfg.TopicConfigs["cleanup.policy"]; {
	case cfg.deletePolicy:
		m["cleanup.policy"] = kadm.StringPtr("delete")
	case !ok:
		m["cleanup.policy"] = kadm.StringPtr("compact")
	}
	return m
}

// checkpointTopicConfigs are the configs of the checkpoint topic: compacted
// only (never compact,delete: retention must not drop a source's last
// checkpoint) with hourly segments, plus the user's other topic configs.
func checkpointTopicConfigs(cfg Config) map[string]*string {
	m := map[string]*string{"segment.ms": kadm.StringPtr(checkpointSegmentMs)}
	for k, v := range cfg.TopicConfigs {
		if k == "max.message.bytes" {
			continue
		}
		m[k] = kadm.StringPtr(v)
	}
	m["cleanup.policy"] = kadm.StringPtr("compact")
	return m
}

// topicFix names the fix for a topic that could not be described or created.
func topicFix(topic string, err error, cfg Config) string {
	switch {
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
		return fmt.Sprintf("grant this client's principal DESCRIBE and CREATE on topic %q, or create it yourself with cleanup.policy=compact", topic)
	case errors.Is(err, kerr.InvalidReplicationFactor):
		return fmt.Sprintf("kafka.replication_factor is %d: use at most the number of brokers, or -1 for the broker default", cfg.ReplicationFactor)
	case errors.Is(err, kerr.InvalidPartitions):
		return fmt.Sprintf("kafka.partitions is %d: use a count the broker accepts", cfg.TopicPartitions)
	case errors.Is(err, kerr.InvalidConfig):
		return "a topic config was refused: check kafka.topic_config and kafka.max_message_bytes"
	case errors.Is(err, kerr.InvalidTopicException):
		return fmt.Sprintf("topic name %q is invalid: rename it to at most 249 characters from a-z A-Z 0-9 . _ -", topic)
	case errors.Is(err, kerr.PolicyViolation):
		return fmt.Sprintf("a broker policy refused the topic: create %q yourself with cleanup.policy=compact", topic)
	}
	return fmt.Sprintf("create topic %q yourself with cleanup.policy=compact, or check the broker log", topic)
}
