// Package sink is where change records leave sluice: it creates the
// compacted topics, produces records to Kafka with franz-go, tracks Kafka's
// acknowledgements and commits each source's position to a checkpoint topic.
//
// # Where it sits
//
// A source (snapshot, binlog, pgoutput) emits sluice.Event values; package
// tombstone turns each into one to three Kafka records; sink produces them.
// At every transaction boundary the source's position is marked
// ([Producer.Mark]); sink writes it to the checkpoint topic only after Kafka
// has acknowledged every record before it, and at start-up
// [LoadCheckpoint] gives the source the position to resume from. The sink
// knows nothing of databases: a position is an opaque sluice.Position.
//
// # What it promises
//
//   - Durable progress (promise 5). A checkpoint is written only when every
//     record produced before its mark, on every partition, has been
//     acknowledged by all in-sync replicas (acks=all, idempotent producer).
//     Acknowledgements arrive in any order across partitions; the
//     checkpoint never passes a record that is still in flight or that
//     failed. A kill -9 at any instant therefore loses nothing: a restart
//     replays from the last checkpoint, and the compacted topics absorb the
//     repeats.
//   - Order (promise 2). Records of one key go to one partition, chosen by
//     murmur2 like the Java client, and reach it in the order produced;
//     idempotence keeps retries from reordering or doubling them.
//   - Deletes compact (promise 4). Topics sluice creates have
//     cleanup.policy=compact; an existing topic without it gets a warning.
//   - Bounded memory (promise 8). At most Config.MaxBufferedRecords records
//     and Config.MaxBufferedBytes bytes are buffered; Produce blocks beyond
//     that. Acknowledgement tracking uses a fixed number of windows however
//     many transactions are in flight.
//   - Loud failure (promise 9). Unreachable brokers, a record Kafka refuses
//     for good (too large, not authorized, unknown topic, ...) or a record
//     not acknowledged within Config.DeliveryTimeout stop the producer with
//     an error naming the cause and the fix. Retriable errors are retried
//     by franz-go until then. See errors.go for the classification.
//
// The checkpoint record format is described in docs/checkpoints.md.
//
// Exactly-once (Config.TransactionalID, txn.go): records go out in Kafka
// transactions, each committed at a mark together with that mark's
// checkpoint record, so the checkpoint topic and the data topics agree and
// a read_committed consumer sees each record of a committed transaction
// once. Producer.Rewind discards the open transaction for a source that
// reads on from the last commit; a newer producer with the same id fences
// this one (ErrFenced). LoadCheckpoint counts a transactional checkpoint
// only once its transaction's COMMIT marker was read.
//
// The lease (lease.go): [JoinLease] makes an instance a member of a
// consumer group over the one-partition checkpoint topic; the member the
// group assigns partition 0 holds the lease on the name, and so is the
// only one that writes. Nothing is consumed or committed through it. The
// lease is given up (Lease.Lost, ErrLeaseLost) when the coordinator takes
// the partition away or has not answered for three quarters of the
// session timeout, a quarter before the coordinator can hand it to
// another member.
//
// TLS and SASL (Config.TLS, Config.SASL) apply to every connection of the
// client. Config.Hooks installs franz-go hooks on it (metrics, the
// engine's watch of the brokers); [Producer.Stats] counts checkpoint
// writes and failed records, for metrics and status.
package sink
