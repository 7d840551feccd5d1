package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgResults is what the PostgreSQL phases measured.
type pgResults struct {
	Version  string
	LoadTime time.Duration
	CopyRead *clientRead // COPY … TO STDOUT, the faster of two

	Snapshot, StreamMulti, StreamSingle, StreamTx *phase
}

// phases returns the PostgreSQL phases that ran, in order.
func (r *pgResults) phases() []*phase {
	var out []*phase
	for _, p := range []*phase{r.Snapshot, r.StreamMulti, r.StreamSingle, r.StreamTx} {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// pgSourceName is the sluice source name of the PostgreSQL phases in a
// format; the slot and publication derive from it.
func pgSourceName(format string) string { return "pg-" + format }

// settlePGSlot returns a phase's Settle for the PostgreSQL source in
// format. The slot's restart_lsn (where the next session starts decoding)
// moves only when the server decodes a running-transactions record whose
// predecessor it serialized a snapshot at, and the client then confirms a
// position past it. So while that sluice still runs, idle, after draining
// its phase, the bench issues a CHECKPOINT (which logs one) every few
// seconds until the restart_lsn has passed the phase's WAL; sluice confirms
// the keepalive positions meanwhile. Without it the next phase's walsender
// would decode again the tail of the WAL this phase already delivered,
// which the ceiling's fresh slot never does. It waits at most 90 s.
func (b *bench) settlePGSlot(format string) func(context.Context) error {
	slot := b.pgConfig(format).Slot
	return func(ctx context.Context) error {
		conn, err := b.pg.Conn(ctx, benchDB)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		var target string
		if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&target); err != nil {
			return err
		}
		began := time.Now()
		var checkpoint time.Time
		for {
			var caught bool
			err := conn.QueryRow(ctx, "SELECT restart_lsn >= $2::pg_lsn FROM pg_replication_slots WHERE slot_name = $1", slot, target).Scan(&caught)
			if err != nil {
				return fmt.Errorf("slot %s: %w", slot, err)
			}
			if caught {
				say("  slot %s: restart_lsn past the phase's WAL after %.1fs", slot, time.Since(began).Seconds())
				return nil
			}
			if time.Since(began) > 90*time.Second {
				say("  slot %s: restart_lsn did not reach %s within 90s; the next phase may decode some WAL again", slot, target)
				return nil
			}
			if time.Since(checkpoint) > 5*time.Second {
				if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
					return err
				}
				checkpoint = time.Now()
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// pgConfig returns a sluice configuration for a PostgreSQL source in
// format capturing include.
func (b *bench) pgConfig(format string, include ...string) sluiceConfig {
	name := pgSourceName(format)
	return sluiceConfig{
		Name:            name,
		Type:            "postgresql",
		DBPort:          b.pg.Port(),
		Database:        benchDB,
		Slot:            "bench_" + format,
		Publication:     "bench_" + format,
		Include:         include,
		Brokers:         b.kafka.Bootstrap(),
		TopicPrefix:     name,
		CheckpointTopic: name + ".checkpoints",
		TopicConfig:     b.topicCfg,
		Format:          format,
		RegistryURL:     b.registryURL(),
		password:        b.pg.Password(),
	}
}

// runPostgres loads the PostgreSQL tables and runs the PostgreSQL phases:
// the snapshot in every format, the multi-row stream in every format, then
// the single-row and the one-transaction streams in the first format.
func (b *bench) runPostgres(ctx context.Context, o options, res *results) error {
	pr := &pgResults{}
	res.PG = pr
	conn, err := b.pg.Conn(ctx, "")
	if err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&pr.Version); err != nil {
		conn.Close(context.Background())
		return fmt.Errorf("read postgresql version: %w", err)
	}
	conn.Close(context.Background())

	say("PostgreSQL: loading %s.orders (%d rows, generate_series) and the empty %s.orders_tx before any slot exists", benchDB, o.rows, benchDB)
	t0 := time.Now()
	if err := pgLoad(ctx, b.pg, o.rows); err != nil {
		return err
	}
	pr.LoadTime = time.Since(t0)
	if err := b.pg.Exec(ctx, benchDB, "CREATE PUBLICATION "+pgIdent(ceilingPublication)+" FOR TABLE "+pgTable("orders")+", "+pgTable("orders_tx")); err != nil {
		return fmt.Errorf("create the ceiling's publication: %w", err)
	}

	say("Reference: COPY %s.orders TO STDOUT (text) through pgx, rows counted (twice; the faster counts)", benchDB)
	_ = waitIdle(ctx, b.idleWait)
	for range 2 {
		r, err := copyOut(ctx, b.pg, "orders")
		if err != nil {
			return err
		}
		if r.Rows != o.rows {
			return fmt.Errorf("reference read: COPY wrote %d rows, want %d", r.Rows, o.rows)
		}
		if pr.CopyRead == nil || r.Elapsed < pr.CopyRead.Elapsed {
			pr.CopyRead = &r
		}
	}
	say("  %.0f rows/s, %.0f bytes per row as text", float64(o.rows)/pr.CopyRead.Elapsed.Seconds(), float64(pr.CopyRead.Bytes)/float64(o.rows))

	include := []string{benchDB + ".orders", benchDB + ".orders_tx"}
	for i, f := range o.formats {
		ph := &phase{Key: "pg-snapshot-" + f, Source: "postgresql", Format: f, Title: "PostgreSQL snapshot of " + thousands(o.rows) + " rows, " + f, Snapshot: true,
			Topic: topicOf(pgSourceName(f), "orders"), Records: o.rows, Settle: b.settlePGSlot(f)}
		if err := b.measure(ctx, ph, b.pgConfig(f, include...)); err != nil {
			return err
		}
		if i == 0 {
			pr.Snapshot = ph
		}
		res.addFormat("postgresql", "snapshot", ph)
	}

	if o.runs("multi") {
		stmts := (o.rows + o.chunk - 1) / o.chunk
		say("PostgreSQL multi-row backlog: %d UPDATEs of %d rows each, written while sluice is stopped", stmts, o.chunk)
		bl, err := b.preparePGBacklog(ctx, fmt.Sprintf("%s UPDATE statements of %s rows, one transaction each", thousands(stmts), thousands(o.chunk)),
			func(ctx context.Context, conn *pgx.Conn) error {
				return pgMultiRowUpdates(ctx, conn, "orders", o.rows, o.chunk)
			})
		if err != nil {
			return err
		}
		for i, f := range o.formats {
			ph := &phase{Key: "pg-stream-multi-" + f, Source: "postgresql", Format: f,
				Title: fmt.Sprintf("PostgreSQL stream of %s changes in %s-row transactions, %s", thousands(o.rows), thousands(o.chunk), f),
				Topic: topicOf(pgSourceName(f), "orders"), Records: o.rows, Backlog: bl, Settle: b.settlePGSlot(f)}
			if err := b.measure(ctx, ph, b.pgConfig(f, include...)); err != nil {
				return err
			}
			if i == 0 {
				pr.StreamMulti = ph
			}
			res.addFormat("postgresql", "stream", ph)
		}
	}
	f := o.formats[0]
	if o.runs("single") {
		n := min(o.singleRows, o.rows)
		say("PostgreSQL single-row backlog: %d single-row UPDATEs, a COMMIT after each, from %d connections, written while sluice is stopped", n, o.conns)
		bl, err := b.preparePGBacklog(ctx, fmt.Sprintf("%s single-row UPDATEs, one transaction each, from %d connections", thousands(n), o.conns),
			func(ctx context.Context, _ *pgx.Conn) error {
				return pgSingleRowUpdates(ctx, b.pg, "orders", n, o.conns)
			})
		if err != nil {
			return err
		}
		pr.StreamSingle = &phase{Key: "pg-stream-single-" + f, Source: "postgresql", Format: f,
			Title: fmt.Sprintf("PostgreSQL stream of %s single-row transactions, %s", thousands(n), f),
			Topic: topicOf(pgSourceName(f), "orders"), Records: n, Backlog: bl, Settle: b.settlePGSlot(f)}
		if err := b.measure(ctx, pr.StreamSingle, b.pgConfig(f, include...)); err != nil {
			return err
		}
	}
	if o.runs("tx") {
		say("PostgreSQL one-transaction backlog: INSERT INTO orders_tx SELECT * FROM orders (%d rows), written while sluice is stopped", o.rows)
		bl, err := b.preparePGBacklog(ctx, fmt.Sprintf("one INSERT … SELECT of %s rows: a single transaction", thousands(o.rows)),
			func(ctx context.Context, conn *pgx.Conn) error {
				return pgCopyInOneTransaction(ctx, conn, "orders", "orders_tx")
			})
		if err != nil {
			return err
		}
		pr.StreamTx = &phase{Key: "pg-stream-tx-" + f, Source: "postgresql", Format: f,
			Title: fmt.Sprintf("PostgreSQL stream of one %s-row transaction, %s", thousands(o.rows), f),
			Topic: topicOf(pgSourceName(f), "orders_tx"), Records: o.rows, Backlog: bl, Settle: b.settlePGSlot(f)}
		if err := b.measure(ctx, pr.StreamTx, b.pgConfig(f, include...)); err != nil {
			return err
		}
	}
	return nil
}

// preparePGBacklog creates the ceiling's slot, runs gen while sluice is
// stopped, records the WAL it wrote, then times pg_recvlogical draining the
// same range through the ceiling's slot, and drops the slot. It blocks.
func (b *bench) preparePGBacklog(ctx context.Context, what string, gen func(context.Context, *pgx.Conn) error) (*backlog, error) {
	conn, err := b.pg.Conn(ctx, benchDB)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	if err := createCeilingSlot(ctx, conn); err != nil {
		return nil, err
	}
	defer func() { _ = dropCeilingSlot(context.Background(), conn) }()
	from, err := readWALState(ctx, conn)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	if err := gen(ctx, conn); err != nil {
		return nil, err
	}
	bl := &backlog{What: what, Generated: time.Since(began)}
	to, err := readWALState(ctx, conn)
	if err != nil {
		return nil, err
	}
	bl.Bytes = to.Bytes - from.Bytes
	bl.Txns = txnsBetween(from, to)
	say("  backlog written in %.1fs: %d transactions, %.0f MB of WAL", bl.Generated.Seconds(), bl.Txns, float64(bl.Bytes)/1e6)
	_ = waitIdle(ctx, b.idleWait)
	before, err := sampleCPU()
	if err != nil {
		return nil, err
	}
	run, err := drainWithRecvlogical(ctx, b.pg, to.LSN, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	after, err := sampleCPU()
	if err != nil {
		return nil, err
	}
	bl.DecodeShare = shareBetween(before, after)
	bl.Recv = &run
	say("  pg_recvlogical drains it in %.2fs", run.Elapsed.Seconds())
	return bl, nil
}
