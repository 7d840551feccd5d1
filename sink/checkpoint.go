package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
)

// Phase says which part of its work a source was in when it checkpointed.
type Phase string

// The phases.
const (
	// PhaseSnapshot: the source was copying existing rows.
	PhaseSnapshot Phase = "snapshot"
	// PhaseStream: the source was following the replication stream.
	PhaseStream Phase = "stream"
)

// Checkpoint is what a source needs to resume: the record value in the
// checkpoint topic, keyed by Source. The caller fills it in and passes it to
// [Producer.Mark]; the producer stores the newest one whose records Kafka
// acknowledged and writes it. See docs/checkpoints.md.
type Checkpoint struct {
	// Source is the configured source name; it is also the record key.
	Source string `json:"source"`
	// Phase is "snapshot" or "stream".
	Phase Phase `json:"phase"`
	// Position is where a restart resumes: every change before it is in
	// Kafka.
	Position sluice.Position `json:"position"`
	// SnapshotStart is the position the snapshot was read at, where the
	// stream starts once the snapshot is complete; while a retaken
	// snapshot catches up, the point up to which the deletions since the
	// unfinished one's point are in Kafka (the next retake catches up
	// from there). Omitted when zero.
	SnapshotStart sluice.Position `json:"snapshot_start,omitzero"`
	// CommitTime is the source's commit time of the last transaction
	// before Position, when known; lag is measured from it. Omitted when
	// zero.
	CommitTime time.Time `json:"commit_time,omitzero"`
	// UpdatedAt is when the checkpoint was written. The producer sets it;
	// a value the caller puts here is replaced.
	UpdatedAt time.Time `json:"updated_at"`
}

// checkpointRecord encodes cp as its checkpoint-topic record.
func checkpointRecord(topic string, cp Checkpoint) (*kgo.Record, error) {
	if cp.Source == "" {
		return nil, errors.New("encode checkpoint: the checkpoint has no source name: set Checkpoint.Source to the configured source name")
	}
	v, err := json.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("encode checkpoint for source %q: %w", cp.Source, err)
	}
	return &kgo.Record{Topic: topic, Key: []byte(cp.Source), Value: v}, nil
}

// isCommitMarker reports whether the key of a control record is a
// transaction's COMMIT marker (version int16, type int16: 0 abort, 1
// commit).
func isCommitMarker(key []byte) bool {
	return len(key) >= 4 && key[2] == 0 && key[3] == 1
}

// LoadCheckpoint returns the newest checkpoint of source name in topic, and
// false when there is none: the topic does not exist, is empty, holds no
// record for name, or the newest record for name is a tombstone (producing a
// null value for the key is how an operator makes a source start over).
//
// It blocks while it reads the topic from its start up to the end offsets
// it lists first, on a short-lived consumer client of its own built from
// client's options; records written meanwhile are not waited for. An empty
// topic is not read at all. ctx bounds the whole read.
func LoadCheckpoint(ctx context.Context, client *kgo.Client, topic, name string) (Checkpoint, bool, error) {
	adm := kadm.NewClient(client)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("load checkpoint: list end offsets of topic %q: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("load checkpoint: list start offsets of topic %q: %w", topic, err)
	}
	from := map[int32]kgo.Offset{}
	until := map[int32]int64{}
	for p, end := range ends[topic] {
		if errors.Is(end.Err, kerr.UnknownTopicOrPartition) {
			return Checkpoint{}, false, nil
		}
		if end.Err != nil {
			return Checkpoint{}, false, fmt.Errorf("load checkpoint: end offset of topic %q partition %d: %w", topic, p, end.Err)
		}
		start, ok := starts[topic][p]
		if !ok {
			return Checkpoint{}, false, fmt.Errorf("load checkpoint: kafka listed no start offset for topic %q partition %d", topic, p)
		}
		if start.Err != nil {
			return Checkpoint{}, false, fmt.Errorf("load checkpoint: start offset of topic %q partition %d: %w", topic, p, start.Err)
		}
		if end.Offset > start.Offset {
			from[p] = kgo.NewOffset().At(start.Offset)
			until[p] = end.Offset
		}
	}
	if len(from) == 0 {
		return Checkpoint{}, false, nil
	}

	cc, err := kgo.NewClient(append(client.Opts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("load checkpoint: create consumer: %w", err)
	}
	defer cc.Close()

	// The checkpoints of an exactly-once producer are written inside its
	// transactions: each waits in pending until the transaction's marker
	// says it committed; one of an aborted or still open transaction never
	// counts. The topic is read uncommitted, up to the end offsets, so the
	// read ends even while another source's transaction is open.
	var (
		last    *kgo.Record
		found   bool
		pending = map[int64]*kgo.Record{}
	)
	accept := func(r *kgo.Record) {
		if last == nil || !r.Timestamp.Before(last.Timestamp) || r.Partition == last.Partition {
			last, found = r, r.Value != nil
		}
	}
	for len(until) > 0 {
		fs := cc.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return Checkpoint{}, false, fmt.Errorf("load checkpoint from topic %q: %w", topic, err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil && !Retriable(err) {
				ferr = fmt.Errorf("load checkpoint: read topic %q partition %d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return Checkpoint{}, false, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := until[r.Partition]; ok && r.Offset+1 >= end {
				delete(until, r.Partition)
			}
			switch {
			case r.Attrs.IsControl():
				// The end of a transaction: its checkpoint counts if
				// it committed.
				if cand, ok := pending[r.ProducerID]; ok {
					delete(pending, r.ProducerID)
					if isCommitMarker(r.Key) {
						accept(cand)
					}
				}
			case string(r.Key) != name:
			case r.Attrs.IsTransactional():
				pending[r.ProducerID] = r
			default:
				accept(r)
			}
		})
	}
	if !found {
		return Checkpoint{}, false, nil
	}
	var cp Checkpoint
	if err := json.Unmarshal(last.Value, &cp); err != nil {
		return Checkpoint{}, false, fmt.Errorf("load checkpoint of source %q from topic %q partition %d offset %d: %w: "+
			"repair the record or produce a tombstone (null value) for key %q to start the source over",
			name, topic, last.Partition, last.Offset, err, name)
	}
	return cp, true, nil
}
