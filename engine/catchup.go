package engine

import (
	"context"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/keys"
)

// catchUp is the handler of a retaken snapshot's catch-up: the changes
// between the unfinished snapshot's consistent point and the new one.
// Kafka may hold rows of the unfinished snapshot that were deleted since;
// the new snapshot does not see them, and the stream starts after the
// deletion, so only the catch-up can delete them downstream. It passes on
// deletions (a delete, the old key of an update that changed the key, a
// truncate) and drops the rest: the new snapshot writes every surviving
// row at a newer version, so an older one must not follow or precede it.
// Deletions of rows that come back before the new point are harmless:
// the new snapshot's row follows them.
//
// Its boundaries mark the snapshot checkpoint, unchanged: a crash during
// the catch-up or the new snapshot starts both over from the first point,
// and a PostgreSQL slot confirms nothing past it.
type catchUp struct {
	p       *pipeline
	deleted int64
}

func (c *catchUp) Change(ctx context.Context, ev *sluice.Event) error {
	switch ev.Op {
	case sluice.OpDelete, sluice.OpTruncate:
	case sluice.OpUpdate:
		t := ev.Table
		if keys.None(t) || ev.Before == nil || keys.Equal(t, ev.Before, ev.After) {
			return nil
		}
		del := *ev
		del.Op, del.After, del.AfterUnavailable = sluice.OpDelete, nil, nil
		ev = &del
	default:
		return nil
	}
	c.deleted++
	return c.p.change(ctx, ev, false)
}

func (c *catchUp) Resumable(ctx context.Context, _ sluice.Position) error {
	if err := c.p.hold(ctx); err != nil {
		return err
	}
	c.p.prod.Mark(c.p.snapCP)
	return c.p.prod.Err()
}

func (c *catchUp) Acked() (sluice.Position, bool) { return c.p.Acked() }
