package pgoutput

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/schema"
)

// catalogShaper maps Relation messages through package schema's
// PostgreSQL type mapper, the one the snapshot uses, reading types and
// primary keys from the catalog over a connection of its own.
type catalogShaper struct {
	r   *Reader
	cat *schema.PostgresCatalog
}

// catalogShaper opens the catalog connection for one replication session.
func (r *Reader) catalogShaper(ctx context.Context) (shaper, func(), error) {
	cfg := r.cfg.Conn.Copy()
	for k, v := range schema.PostgresSessionSettings {
		cfg.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, nil, classify(err, "pgoutput: connect for catalog lookups", r.cfg.Slot, r.cfg.Publication)
	}
	return &catalogShaper{r: r, cat: schema.NewPostgresCatalog(conn)}, func() { conn.Close(context.Background()) }, nil
}

func (s *catalogShaper) table(ctx context.Context, rel *relationMsg) (*sluice.Table, error) {
	// The primary key comes from the catalog: under REPLICA IDENTITY FULL
	// the Relation message flags every column as part of the identity.
	key, err := s.cat.PrimaryKey(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	attrs := make([]schema.PostgresAttr, len(rel.Columns))
	for i, c := range rel.Columns {
		attrs[i] = schema.PostgresAttr{Name: c.Name, TypeOID: c.TypeOID, Typmod: c.Typmod}
	}
	t, err := schema.PostgresTable(ctx, s.cat, rel.Namespace, rel.Name, attrs, key)
	if err != nil {
		return nil, err
	}
	if cols := schema.PostgresFallbackColumns(t); len(cols) > 0 && !s.r.warned["fallback "+t.FullName()] {
		s.r.warned["fallback "+t.FullName()] = true
		s.r.log.Warn("columns of types sluice does not map are carried as their text output", "table", t.FullName(), "columns", cols)
	}
	return t, nil
}

func (s *catalogShaper) value(col *sluice.Column, text []byte) (any, error) {
	return schema.PostgresValue(col, text)
}

func (s *catalogShaper) changed() { s.cat.Forget() }
