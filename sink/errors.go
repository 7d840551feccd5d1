package sink

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// This file is the one place that decides what a produce error means.
//
// franz-go retries on its own every error Kafka marks retriable (leader
// changes, NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT, network failures, ...), for
// as long as Config.DeliveryTimeout allows. An error that reaches a record's
// promise is therefore final: the record is not in Kafka, the records after it
// on that partition were failed with it, and nothing marked after it may be
// committed. The producer stops at the first one. What is left to decide is
// how to explain it and whether it is a failure at all (the caller's own
// cancellation is not).

// ErrClosed is returned by [Producer.Produce] after [Producer.Close].
var ErrClosed = errors.New("sink producer is closed")

// ProduceError is a record Kafka or the client refused for good. Fix says
// what to change; Error includes it.
type ProduceError struct {
	Topic string
	// Partition is the partition the record was assigned; it is 0 when
	// the record failed before it was partitioned (too large, client
	// closed).
	Partition int32
	Err       error
	Fix       string
}

func (e *ProduceError) Error() string {
	return fmt.Sprintf("produce to topic %q: %v: %s", e.Topic, e.Err, e.Fix)
}

func (e *ProduceError) Unwrap() error { return e.Err }

// Retriable reports whether franz-go retries err by itself until
// Config.DeliveryTimeout runs out. Such an error never fails a record by
// itself; only kgo.ErrRecordTimeout does, once the time is up.
func Retriable(err error) bool {
	if errors.Is(err, kerr.CorruptMessage) {
		// Marked retriable by Kafka, but franz-go fails it: it is
		// what old brokers send for a keyless record on a compacted
		// topic.
		return false
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// isCancel reports whether err is the caller's own cancellation rather than
// a failure.
func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// produceError explains why r failed with err.
func produceError(r *kgo.Record, err error) *ProduceError {
	return &ProduceError{Topic: r.Topic, Partition: r.Partition, Err: err, Fix: produceFix(r.Topic, err)}
}

// fencedFix is the fix of a record an exactly-once producer lost to a
// newer producer with its transactional id.
const fencedFix = "another sluice instance with the same transactional id (kafka.exactly_once) started and took over: " +
	"only one instance of a source writes, so this one stops; run one instance per name"

// produceFix names the cause and the fix for a record that failed with err.
func produceFix(topic string, err error) string {
	switch {
	case errors.Is(err, kerr.MessageTooLarge):
		return "the record is larger than kafka.max_message_bytes or the topic's max.message.bytes: " +
			"raise kafka.max_message_bytes and the topic's max.message.bytes (and the broker's message.max.bytes) to fit the largest row"
	case errors.Is(err, kerr.RecordListTooLarge):
		return "the batch is larger than the topic's segment.bytes: raise segment.bytes or lower kafka.max_message_bytes"
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return fmt.Sprintf("grant this client's principal WRITE and DESCRIBE on topic %q", topic)
	case errors.Is(err, kerr.ClusterAuthorizationFailed):
		return "grant this client's principal IDEMPOTENT_WRITE on the cluster (idempotent producing needs it before Kafka 3.0)"
	case errors.Is(err, kerr.InvalidTopicException):
		return fmt.Sprintf("topic name %q is invalid: rename it to at most 249 characters from a-z A-Z 0-9 . _ -", topic)
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return fmt.Sprintf("topic %q does not exist: let sluice create it at start-up or create it as a compacted topic", topic)
	case errors.Is(err, kerr.InvalidRecord), errors.Is(err, kerr.CorruptMessage):
		return "kafka refused the record as invalid; a compacted topic refuses records without a key: give the table a primary key or configure key columns for it"
	case errors.Is(err, kerr.UnsupportedCompressionType), errors.Is(err, kerr.UnsupportedForMessageFormat):
		return "the broker or topic does not accept this compression codec: set kafka.compression to lz4, snappy, gzip or none"
	case errors.Is(err, kerr.InvalidTimestamp):
		return "the record timestamp is outside what the topic accepts: raise the topic's message.timestamp.before.max.ms and message.timestamp.after.max.ms"
	case errors.Is(err, kerr.PolicyViolation):
		return "a broker-side policy refused the record: check the broker's policies for this topic"
	case errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, kgo.ErrRecordRetries):
		return "kafka did not acknowledge within kafka.delivery_timeout: check that the brokers are up and the partition has min.insync.replicas in-sync replicas, or raise kafka.delivery_timeout"
	case errors.Is(err, kerr.ProducerFenced):
		return fencedFix
	case errors.Is(err, kerr.OutOfOrderSequenceNumber), errors.Is(err, kerr.UnknownProducerID),
		errors.Is(err, kerr.InvalidProducerEpoch), errors.Is(err, kerr.InvalidProducerIDMapping):
		return "kafka lost or reordered records of this partition: restart to replay from the last checkpoint, and check the topic's unclean.leader.election.enable"
	case errors.Is(err, kgo.ErrClientClosed):
		return "the kafka client was closed while records were in flight: close it only after Producer.Close returned"
	case isCancel(err):
		return "the record was abandoned because its context ended"
	}
	return "kafka refused the record: see the broker log for the reason"
}
