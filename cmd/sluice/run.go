package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/snapshot"
	"github.com/sluice-cdc/sluice/tombstone"
)

// shutdownTimeout bounds how long a stopping sluice waits for Kafka to
// acknowledge what it already produced.
const shutdownTimeout = 30 * time.Second

// run snapshots (when no checkpoint exists) and streams until ctx ends or
// a fatal error. Cancellation is a clean stop, not an error.
func run(ctx context.Context, cfg *Config, log *slog.Logger) error {
	log.Info("sluice starting", "version", Version(), "name", cfg.Name, "source", cfg.Source.Host, "brokers", cfg.Kafka.Brokers)
	if cfg.Debug.PprofListen != "" {
		stop, err := servePprof(cfg.Debug.PprofListen, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	var scfg snapshot.Config
	var bcfg binlog.Config
	if cfg.Source.Type == "mysql" {
		var err error
		if scfg, bcfg, err = sourceConfigs(ctx, cfg, log); err != nil {
			return err
		}
	}
	kcfg := sinkConfig(cfg)
	client, err := sink.NewClient(ctx, kcfg)
	if err != nil {
		return err
	}
	defer client.Close()
	adm := kadm.NewClient(client)
	if err := sink.EnsureTopics(ctx, adm, []string{kcfg.CheckpointTopic}, kcfg, log); err != nil {
		return fmt.Errorf("create checkpoint topic: %w", err)
	}
	cp, found, err := sink.LoadCheckpoint(ctx, client, kcfg.CheckpointTopic, cfg.Name)
	if err != nil {
		return err
	}

	prod := sink.New(client, kcfg, log)
	enc, err := newEncoder(cfg, log)
	if err != nil {
		return err
	}
	builder := tombstone.NewBuilder(cfg.Kafka.TopicPrefix, enc)
	pipe := newPipeline(cfg.Name, builder, prod, adm, kcfg, log)

	// The producer's checkpoint loop runs beside the source; the first of
	// the two to fail stops the other.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	prodDone := make(chan error, 1)
	go func() {
		err := prod.Run(ctx)
		if err != nil {
			cancel(err)
		}
		prodDone <- err
	}()

	var srcErr error
	if cfg.Source.Type == "postgresql" {
		srcErr = postgresSource(ctx, cfg, cp, found, prod, pipe, log)
	} else {
		srcErr = source(ctx, cfg, scfg, bcfg, cp, found, prod, pipe, log)
	}

	// Stop: let Kafka acknowledge what was produced and write the final
	// checkpoint, then stop the checkpoint loop.
	closeCtx, closeCancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	closeErr := prod.Close(closeCtx)
	closeCancel()
	cancel(nil)
	runErr := <-prodDone

	if cause := context.Cause(ctx); srcErr != nil && !errors.Is(srcErr, context.Canceled) {
		return srcErr
	} else if cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if runErr != nil {
		return runErr
	}
	if closeErr != nil {
		return fmt.Errorf("stop: %w", closeErr)
	}
	log.Info("sluice stopped")
	return nil
}

// source decides where to start and runs the snapshot and the stream.
func source(ctx context.Context, cfg *Config, scfg snapshot.Config, bcfg binlog.Config, cp sink.Checkpoint, found bool,
	prod *sink.Producer, pipe *pipeline, log *slog.Logger) error {
	var from sluice.Position
	switch {
	case found && cp.Phase == sink.PhaseStream:
		from = cp.Position
		log.Info("resuming from checkpoint", "file", from.File, "pos", from.Offset, "gtid_set", from.GTIDSet)
		if err := checkRetained(ctx, scfg, from); err != nil {
			return err
		}
	case found && cp.Phase == sink.PhaseSnapshot:
		// An earlier snapshot stopped part-way. Its records may already be
		// in Kafka, including rows deleted since; take a new snapshot and
		// stream from the first one's point so those deletes arrive too.
		log.Warn("the previous snapshot did not finish; taking it again, then streaming from its original point",
			"file", cp.SnapshotStart.File, "pos", cp.SnapshotStart.Offset)
		if err := checkRetained(ctx, scfg, cp.SnapshotStart); err != nil {
			return err
		}
		if _, err := snapshot.Run(ctx, scfg, pipe, nil); err != nil {
			return err
		}
		from = cp.SnapshotStart
	case cfg.Snapshot.Mode == "never":
		pos, err := currentPosition(ctx, scfg)
		if err != nil {
			return err
		}
		from = pos
		log.Info("snapshot.mode is never: streaming from the current binlog position", "file", from.File, "pos", from.Offset)
	default:
		pos, err := snapshot.Run(ctx, scfg, pipe, func(ctx context.Context, pos sluice.Position) error {
			// Durable before the first snapshot record: a restart must know
			// a snapshot began here.
			return prod.Commit(ctx, sink.Checkpoint{Source: cfg.Name, Phase: sink.PhaseSnapshot, Position: pos, SnapshotStart: pos})
		})
		if err != nil {
			return err
		}
		from = pos
		log.Info("snapshot complete; streaming", "file", from.File, "pos", from.Offset)
	}
	if err := pipe.Resumable(ctx, from); err != nil {
		return err
	}
	return binlog.New(bcfg).Run(ctx, from, pipe)
}

// sourceConfigs connects once to check the server and fill in the flavor.
func sourceConfigs(ctx context.Context, cfg *Config, log *slog.Logger) (snapshot.Config, binlog.Config, error) {
	sel := selection(cfg)
	scfg := snapshot.Config{
		Name: cfg.Name, Host: cfg.Source.Host, Port: cfg.Source.Port, User: cfg.Source.User,
		Password: cfg.Source.Password.Reveal(), Flavor: cfg.Source.Flavor, Selection: sel,
		ConnectTimeout: cfg.Source.ConnectTimeout, Logger: log,
	}
	conn, err := snapshot.Connect(ctx, scfg)
	if err != nil {
		return scfg, binlog.Config{}, err
	}
	defer conn.Close()
	if scfg.Flavor == "" {
		if scfg.Flavor, err = snapshot.Flavor(conn); err != nil {
			return scfg, binlog.Config{}, err
		}
	}
	problems, err := binlog.Check(conn)
	if err != nil {
		return scfg, binlog.Config{}, err
	}
	for _, p := range problems {
		if p.Warning {
			log.Warn(p.Message)
		}
	}
	if err := problems.Err(); err != nil {
		return scfg, binlog.Config{}, fmt.Errorf("source %s:%d is not ready: %w", cfg.Source.Host, cfg.Source.Port, err)
	}
	tables, err := snapshot.ListTables(conn, sel)
	if err != nil {
		return scfg, binlog.Config{}, err
	}
	if err := snapshot.CheckReadable(conn, tables).Err(); err != nil {
		return scfg, binlog.Config{}, err
	}
	bcfg := binlog.Config{
		Name: cfg.Name, Host: cfg.Source.Host, Port: cfg.Source.Port, User: cfg.Source.User,
		Password: cfg.Source.Password.Reveal(), ServerID: cfg.Source.ServerID, Flavor: scfg.Flavor,
		Selection: sel, Logger: log,
	}
	return scfg, bcfg, nil
}

func sinkConfig(cfg *Config) sink.Config {
	k := cfg.Kafka
	return sink.Config{
		Brokers: k.Brokers, ClientID: k.ClientID, TopicPartitions: k.Partitions, ReplicationFactor: k.ReplicationFactor,
		TopicConfigs: k.TopicConfig, CheckpointTopic: k.CheckpointTopic, CheckpointInterval: k.CheckpointInterval,
		MaxBufferedRecords: k.MaxBufferedRecords, MaxBufferedBytes: k.MaxBufferedBytes, MaxMessageBytes: k.MaxMessageBytes,
		DeliveryTimeout: k.DeliveryTimeout, ProducerLinger: k.Linger, Compression: k.Compression,
	}
}

func currentPosition(ctx context.Context, scfg snapshot.Config) (sluice.Position, error) {
	conn, err := snapshot.Connect(ctx, scfg)
	if err != nil {
		return sluice.Position{}, err
	}
	defer conn.Close()
	return snapshot.CurrentPosition(conn, scfg.Flavor)
}

func checkRetained(ctx context.Context, scfg snapshot.Config, pos sluice.Position) error {
	conn, err := snapshot.Connect(ctx, scfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	return binlog.CheckRetained(conn, pos)
}
