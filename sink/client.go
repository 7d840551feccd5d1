package sink

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// NewClient returns a Kafka client set up to keep sluice's promises, after
// checking that a broker answers.
//
// The producer side is idempotent with acks=all, so a retried batch is
// written once and a record is acknowledged only when every in-sync replica
// has it. Records are partitioned by kgo.StickyKeyPartitioner(nil): a key is
// hashed with murmur2, masked to 31 bits and taken modulo the partition count,
// exactly as the Java client's default partitioner does, so any Kafka tool
// finds a row's partition from its key. (franz-go's default, the uniform
// bytes partitioner, hashes keys the same way; the sticky one is named here
// so the key-to-partition contract is visible and stays put, and keyless
// records simply stick to one partition per batch rather than chasing broker
// load.)
//
// Retries are unlimited, bounded in time by cfg.DeliveryTimeout; a broker
// gets 30s to replicate a produce request before the request is retried.
// At most cfg.MaxBufferedRecords records and cfg.MaxBufferedBytes bytes are
// buffered; producing beyond that blocks.
//
// NewClient blocks for up to 10s (less if ctx ends first) on a metadata
// request to the seed brokers. If none answers, the client is closed and
// the error names the brokers, the cause and the fix. The caller owns the
// returned client and closes it after [Producer.Close].
//
// Detected data loss (a broker reporting that acknowledged records are gone,
// as after an unclean leader election) is logged through slog.Default.
// extra options (a consumer group, for [JoinLease]) come last and win.
func NewClient(ctx context.Context, cfg Config, extra ...kgo.Opt) (*kgo.Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	codecs, _ := cfg.codecs()
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords),
		kgo.MaxBufferedBytes(cfg.MaxBufferedBytes),
		kgo.ProducerBatchMaxBytes(cfg.MaxMessageBytes),
		kgo.ProducerLinger(cfg.ProducerLinger),
		kgo.ProducerBatchCompression(codecs...),
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		kgo.ProduceRequestTimeout(produceRequestTimeout),
		kgo.ProducerOnDataLossDetected(func(topic string, partition int32) {
			slog.Default().Error("kafka lost acknowledged records: a restart from the last checkpoint may not replay them; check the topic's unclean.leader.election.enable and min.insync.replicas",
				"topic", topic, "partition", partition)
		}),
	}
	if cfg.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(cfg.TLS.Clone()))
	}
	if cfg.SASL != nil {
		opts = append(opts, kgo.SASL(cfg.SASL))
	}
	if cfg.TransactionalID != "" {
		opts = append(opts, kgo.TransactionalID(cfg.TransactionalID), kgo.TransactionTimeout(TransactionTimeout))
	}
	if len(cfg.Hooks) > 0 {
		opts = append(opts, kgo.WithHooks(cfg.Hooks...))
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("create kafka client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to kafka: %w", ctx.Err())
		}
		return nil, connectError(ctx, cfg, err)
	}
	return cl, nil
}
