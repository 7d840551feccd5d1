package engine

import (
	"context"
	"errors"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/sink"
)

// Report is what [Engine.Check] found.
type Report struct {
	// Problems lists every problem, errors and warnings, each naming its
	// cause and fix.
	Problems sluice.Problems
	// Notes are facts worth showing that are neither, such as tables with
	// complete before-images.
	Notes []string
}

// Failed counts the problems that stop sluice from running.
func (r Report) Failed() int {
	n := 0
	for _, p := range r.Problems {
		if !p.Warning {
			n++
		}
	}
	return n
}

// Check connects to the source, to Kafka and, for format avro, to the
// schema registry, and reports every prerequisite that is not met. It
// changes nothing on any server. It blocks for at most the connect
// timeouts of each.
func (e *Engine) Check(ctx context.Context) Report {
	var r Report
	if c, ok := e.src.(Checker); ok {
		r.Problems, r.Notes = c.Check(ctx)
	}
	// A plain client: a transactional one with the running instance's id
	// could fence it.
	if client, err := sink.NewClient(ctx, e.kcfg.Plain()); err != nil {
		r.Problems = append(r.Problems, sluice.Problem{Message: err.Error()})
	} else {
		client.Close()
	}
	if e.cfg.Format == "avro" {
		r.Problems = append(r.Problems, checkRegistry(ctx, &e.cfg.SchemaRegistry)...)
	}
	return r
}

// ErrNoSlot is returned by [Engine.DropSlot] for sources without a
// replication slot.
var ErrNoSlot = errors.New("the source keeps no replication slot")

// DropSlot removes the source's replication slot (PostgreSQL), so that the
// next start takes a new snapshot once the checkpoint is deleted too. It
// returns the slot's name.
func (e *Engine) DropSlot(ctx context.Context) (string, error) {
	d, ok := e.src.(SlotDropper)
	if !ok {
		return "", ErrNoSlot
	}
	return d.DropSlot(ctx)
}
