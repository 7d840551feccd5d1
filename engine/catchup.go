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
// Each boundary moves the snapshot checkpoint's start to itself: the
// deletions before it are in Kafka once it is acknowledged (committed,
// exactly-once), so a crash during the catch-up or the new snapshot
// catches up from there, not from the first point again, and passes no
// deletion on twice. A PostgreSQL slot confirms no more than what Kafka
// acknowledged, so it never moves past a point whose deletions are not
// in Kafka.
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

func (c *catchUp) Resumable(ctx context.Context, pos sluice.Position) error {
	if err := c.p.hold(ctx); err != nil {
		return err
	}
	cp := c.p.snapCP
	cp.Position, cp.SnapshotStart = pos, pos
	c.p.snapCP = cp // the new snapshot's rows mark it too (exactly-once)
	c.p.prod.Mark(cp)
	return c.p.prod.Err()
}

func (c *catchUp) Acked() (sluice.Position, bool) { return c.p.Acked() }
