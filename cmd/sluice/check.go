package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/schema"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/snapshot"
)

// check connects to the source, to Kafka and, for format avro, to the
// schema registry, checks every prerequisite and prints each problem with
// its fix. It fails when any problem is not a
// warning.
func check(ctx context.Context, cfg *Config, log *slog.Logger, out io.Writer) error {
	problems, notes := checkSource(ctx, cfg)
	for _, n := range notes {
		fmt.Fprintf(out, "INFO  %s\n", n)
	}
	kcfg := sinkConfig(cfg)
	if client, err := sink.NewClient(ctx, kcfg); err != nil {
		problems = append(problems, sluice.Problem{Message: err.Error()})
	} else {
		client.Close()
	}
	if cfg.Format == "avro" {
		problems = append(problems, checkRegistry(ctx, &cfg.SchemaRegistry)...)
	}
	failed := 0
	for _, p := range problems {
		tag := "ERROR"
		if p.Warning {
			tag = "WARN "
		} else {
			failed++
		}
		fmt.Fprintf(out, "%s %s\n", tag, p.Message)
	}
	if failed > 0 {
		fmt.Fprintf(out, "%d problem(s) stop sluice from running\n", failed)
		return errReported
	}
	if cfg.Format == "avro" {
		fmt.Fprintln(out, "OK: source, Kafka and the schema registry are ready")
		return nil
	}
	fmt.Fprintln(out, "OK: source and Kafka are ready")
	return nil
}

// checkSource returns the source's problems and, beside them, notes that
// are neither (such as tables with complete before-images).
func checkSource(ctx context.Context, cfg *Config) (sluice.Problems, []string) {
	if cfg.Source.Type == "postgresql" {
		return checkPostgresSource(ctx, cfg)
	}
	return checkMySQLSource(ctx, cfg), nil
}

func checkMySQLSource(ctx context.Context, cfg *Config) sluice.Problems {
	sel := selection(cfg)
	scfg := snapshot.Config{Host: cfg.Source.Host, Port: cfg.Source.Port, User: cfg.Source.User,
		Password: cfg.Source.Password.Reveal(), ConnectTimeout: cfg.Source.ConnectTimeout}
	conn, err := snapshot.Connect(ctx, scfg)
	if err != nil {
		return sluice.Problems{{Message: err.Error()}}
	}
	defer conn.Close()
	problems, err := binlog.Check(conn)
	if err != nil {
		return append(problems, sluice.Problem{Message: err.Error()})
	}
	tables, err := snapshot.ListTables(conn, sel)
	if err != nil {
		return append(problems, sluice.Problem{Message: err.Error()})
	}
	problems = append(problems, snapshot.CheckReadable(conn, tables)...)
	if len(tables) == 0 {
		problems = append(problems, sluice.Problem{Warning: true, Message: fmt.Sprintf("tables.include %v matches no table: nothing will be captured until such a table exists", sel.Include)})
	}
	for _, ref := range tables {
		full, err := snapshot.LoadTable(conn, ref.Database, ref.Name)
		if err != nil {
			problems = append(problems, sluice.Problem{Message: err.Error()})
			continue
		}
		proj, err := sel.Project(full)
		if err != nil {
			problems = append(problems, sluice.Problem{Message: err.Error()})
			continue
		}
		if cfg.Format == "avro" {
			if _, _, err := schema.AvroSchemas(proj.Table, avroOptions(cfg)); err != nil {
				problems = append(problems, sluice.Problem{Message: fmt.Sprintf("table %s cannot be written as Avro: %v", full.FullName(), err)})
			}
		}
		if len(proj.Table.Key) == 0 {
			problems = append(problems, sluice.Problem{Warning: true, Message: fmt.Sprintf(
				"table %s has no primary key: its records get a null key and its topic is not compacted; name key columns under tables.keys", full.FullName())})
		}
	}
	return problems
}

func checkPostgresSource(ctx context.Context, cfg *Config) (sluice.Problems, []string) {
	conn, err := snapshot.ConnectPostgres(ctx, postgresSnapshotConfig(cfg, slog.Default()))
	if err != nil {
		return sluice.Problems{{Message: err.Error()}}, nil
	}
	defer conn.Close(context.WithoutCancel(ctx))
	problems, tables, err := checkPostgres(ctx, cfg, conn)
	if err != nil {
		return append(problems, sluice.Problem{Message: err.Error()}), nil
	}
	return problems, identityNotes(tables)
}
