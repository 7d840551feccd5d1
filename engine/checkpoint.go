package engine

import (
	"context"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/sink"
)

// StoredCheckpoint reads the checkpoint of source cfg.Name from the
// checkpoint topic, connecting with cfg's Kafka settings (TLS and SASL
// included); false when there is none. It serves `sluice status` when no
// instance runs, and needs only the kafka settings and name to be valid.
func StoredCheckpoint(ctx context.Context, cfg config.Config) (sink.Checkpoint, bool, error) {
	kcfg, err := sinkConfig(&cfg)
	if err != nil {
		return sink.Checkpoint{}, false, err
	}
	client, err := sink.NewClient(ctx, kcfg.Plain()) // never fence the running instance
	if err != nil {
		return sink.Checkpoint{}, false, err
	}
	defer client.Close()
	return sink.LoadCheckpoint(ctx, client, kcfg.CheckpointTopic, cfg.Name)
}
