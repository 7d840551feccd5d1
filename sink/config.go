package sink

import (
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
)

// Config is the Kafka side of sluice: where the brokers are, how topics are
// created, how much the producer may buffer and how often progress is
// committed. The zero value of every field except Brokers and ProducerLinger
// means "use the default" documented on the field.
//
// TLS and SASL apply to every connection of the client NewClient makes,
// and so to the producer, the admin requests and the checkpoint reader.
type Config struct {
	// Brokers lists seed brokers as host:port. Required.
	Brokers []string
	// ClientID is the client id Kafka logs and quotas see. Default "sluice".
	ClientID string

	// TopicPartitions is the partition count of topics sluice creates.
	// Default 1. Existing topics keep their count.
	TopicPartitions int32
	// ReplicationFactor of topics sluice creates; -1 (and 0, the zero
	// value) takes the broker's default.replication.factor.
	ReplicationFactor int16
	// TopicConfigs are extra configs for topics sluice creates, for example
	// min.insync.replicas or max.message.bytes. cleanup.policy=compact is
	// always set; a cleanup.policy here must include "compact".
	TopicConfigs map[string]string

	// CheckpointTopic holds one compacted record per source: the position
	// up to which Kafka acknowledged everything. Default
	// "sluice.checkpoints".
	CheckpointTopic string
	// CheckpointInterval is how often the acknowledged position is written,
	// when it moved. Default 1s. A restart replays at most about this much.
	CheckpointInterval time.Duration

	// MaxBufferedRecords bounds the records produced but not yet
	// acknowledged; Produce blocks while it is reached. Default 10000.
	MaxBufferedRecords int
	// MaxBufferedBytes bounds the bytes (keys, values, headers) of those
	// records. Default 64 MiB; it must be at least MaxMessageBytes.
	MaxBufferedBytes int
	// MaxMessageBytes is the largest record batch, and so the largest
	// record, sluice sends. Default 1000012, Kafka's own max.message.bytes
	// default. When it is set, topics sluice creates get the same
	// max.message.bytes unless TopicConfigs says otherwise.
	MaxMessageBytes int32
	// ProducerLinger is how long a partition's batch waits for more records
	// before it is sent; 0 sends at once. DefaultProducerLinger (5ms) is
	// the usual trade-off: larger batches and fewer requests for a few
	// milliseconds of latency.
	ProducerLinger time.Duration
	// Compression is the batch codec: none, gzip, snappy, lz4 or zstd.
	// Default lz4: the cheapest codec in CPU per byte saved for row data,
	// understood by every broker since Kafka 0.10 and every client library;
	// zstd packs tighter but costs more CPU on a machine the database
	// shares, and needs Kafka 2.1 and zstd-capable consumers.
	Compression string
	// DeliveryTimeout is how long Kafka may take to acknowledge a record,
	// retries included, before sluice gives up and stops with an error
	// (Kafka's delivery.timeout.ms). Default 2m. Retries inside that time
	// are unlimited. A record already sent whose answer never came is
	// waited for past the timeout, because failing it could duplicate or
	// reorder it.
	DeliveryTimeout time.Duration

	// TLS, when set, encrypts every broker connection with it (listeners
	// of security protocol SSL or SASL_SSL); nil connects in plain text.
	TLS *tls.Config
	// SASL, when set, authenticates every broker connection with it
	// (franz-go's pkg/sasl: plain, scram, oauth, aws); nil means none.
	SASL sasl.Mechanism

	// TransactionalID, when set, makes the client and its Producer
	// exactly-once: records are written in Kafka transactions committed
	// with the checkpoint that covers them (see Producer.Mark), and a newer
	// producer with the same id fences this one. Empty: at-least-once.
	TransactionalID string

	// Hooks are franz-go hooks (kgo.Hook) installed on the client NewClient
	// makes: metrics (plugin/kprom) and the engine's watch of the brokers.
	Hooks []kgo.Hook

	// deletePolicy creates data topics with cleanup.policy=delete; see
	// WithoutCompaction.
	deletePolicy bool
}

// Plain returns a copy of c for a client that is not the producer's: no
// transactional id (a second client with the producer's id would fence
// it) and no hooks.
func (c Config) Plain() Config {
	c.TransactionalID, c.Hooks = "", nil
	return c
}

// WithoutCompaction returns a copy of c whose data topics are created with
// cleanup.policy=delete instead of compact, for tables without key columns:
// Kafka refuses records without a key on a compacted topic. Retention
// (retention.ms in TopicConfigs) then decides how long records stay, and
// deleted rows are never removed. The checkpoint topic stays compacted.
func (c Config) WithoutCompaction() Config {
	c.deletePolicy = true
	return c
}

// The defaults, and limits that are not configurable.
const (
	DefaultClientID           = "sluice"
	DefaultCheckpointTopic    = "sluice.checkpoints"
	DefaultCheckpointInterval = time.Second
	DefaultMaxBufferedRecords = 10000
	DefaultMaxBufferedBytes   = 64 << 20
	DefaultMaxMessageBytes    = 1000012
	DefaultProducerLinger     = 5 * time.Millisecond
	DefaultCompression        = "lz4"
	DefaultDeliveryTimeout    = 2 * time.Minute

	// produceRequestTimeout is how long a broker may wait for its in-sync
	// replicas before it answers a produce request (Kafka's
	// request.timeout.ms default). A request that times out is retried.
	produceRequestTimeout = 30 * time.Second
	// reachTimeout bounds the up-front reachability check of NewClient.
	reachTimeout = 10 * time.Second
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.TopicPartitions == 0 {
		c.TopicPartitions = 1
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if c.CheckpointTopic == "" {
		c.CheckpointTopic = DefaultCheckpointTopic
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.MaxBufferedRecords == 0 {
		c.MaxBufferedRecords = DefaultMaxBufferedRecords
	}
	if c.MaxBufferedBytes == 0 {
		c.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.Compression == "" {
		c.Compression = DefaultCompression
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = DefaultDeliveryTimeout
	}
	return c
}

// Validate applies the defaults and reports the first setting that cannot
// work, naming the setting and what to put there instead.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case len(c.Brokers) == 0:
		return fmt.Errorf("kafka.brokers is empty: list at least one broker as host:port")
	case c.TopicPartitions < 1:
		return fmt.Errorf("kafka.partitions is %d: use 1 or more", c.TopicPartitions)
	case c.ReplicationFactor < -1:
		return fmt.Errorf("kafka.replication_factor is %d: use -1 for the broker default or 1 or more", c.ReplicationFactor)
	case c.CheckpointInterval < 0:
		return fmt.Errorf("kafka.checkpoint_interval is %s: use a positive duration such as 1s", c.CheckpointInterval)
	case c.MaxBufferedRecords < 1:
		return fmt.Errorf("kafka.max_buffered_records is %d: use 1 or more", c.MaxBufferedRecords)
	case c.MaxMessageBytes < 512 || c.MaxMessageBytes > 1<<30:
		return fmt.Errorf("kafka.max_message_bytes is %d: use a value between 512 and %d", c.MaxMessageBytes, 1<<30)
	case c.MaxBufferedBytes < int(c.MaxMessageBytes):
		return fmt.Errorf("kafka.max_buffered_bytes (%d) is below kafka.max_message_bytes (%d): raise max_buffered_bytes so one record always fits", c.MaxBufferedBytes, c.MaxMessageBytes)
	case c.ProducerLinger < 0:
		return fmt.Errorf("kafka.linger is %s: use 0 or a positive duration", c.ProducerLinger)
	case c.DeliveryTimeout < 0:
		return fmt.Errorf("kafka.delivery_timeout is %s: use a positive duration such as 2m", c.DeliveryTimeout)
	}
	if _, err := c.codecs(); err != nil {
		return err
	}
	if p, ok := c.TopicConfigs["cleanup.policy"]; ok && !strings.Contains(p, "compact") {
		return fmt.Errorf("kafka.topic_config sets cleanup.policy=%s: sluice topics must be compacted so deleted rows disappear; remove it or use compact,delete", p)
	}
	return nil
}

// codecs maps Compression to franz-go's preference list.
func (c Config) codecs() ([]kgo.CompressionCodec, error) {
	switch strings.ToLower(c.Compression) {
	case "none":
		return []kgo.CompressionCodec{kgo.NoCompression()}, nil
	case "gzip":
		return []kgo.CompressionCodec{kgo.GzipCompression(), kgo.NoCompression()}, nil
	case "snappy":
		return []kgo.CompressionCodec{kgo.SnappyCompression(), kgo.NoCompression()}, nil
	case "lz4":
		return []kgo.CompressionCodec{kgo.Lz4Compression(), kgo.NoCompression()}, nil
	case "zstd":
		return []kgo.CompressionCodec{kgo.ZstdCompression(), kgo.NoCompression()}, nil
	}
	return nil, fmt.Errorf("kafka.compression %q is unknown: use none, gzip, snappy, lz4 or zstd", c.Compression)
}
