package main

import (
	"context"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/schema"
)

// jsonEncoder adapts schema's JSON encoder to tombstone.Encoder; JSON needs
// no registry, so ctx is unused.
type jsonEncoder struct{ *schema.JSONEncoder }

func (e jsonEncoder) Key(_ context.Context, t *sluice.Table, row sluice.Row) ([]byte, error) {
	return e.JSONEncoder.Key(t, row)
}

func (e jsonEncoder) Value(_ context.Context, ev *sluice.Event) ([]byte, error) {
	return e.JSONEncoder.Value(ev)
}
