// Command sluice captures row changes from MySQL/MariaDB or PostgreSQL and
// writes them to Kafka.
//
//	sluice run   --config sluice.yaml   snapshot, then stream, until stopped
//	sluice check --config sluice.yaml   check every prerequisite, print the fixes
//	sluice drop-slot --config sluice.yaml   PostgreSQL: drop the replication slot
//	sluice status [--json] --config sluice.yaml   a running instance's status, or the stored checkpoint
//	sluice version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/term"

	"github.com/sluice-cdc/sluice/admin"
	"github.com/sluice-cdc/sluice/buildinfo"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/engine"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) && !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "sluice:", err)
		}
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

var (
	errUsage    = errors.New("usage")
	errReported = errors.New("already reported")
)

// commandSections lists, per subcommand that reads the configuration, the
// settings it uses; --help shows only those. nil means all.
var commandSections = map[string][]string{
	"run":       nil,
	"check":     nil,
	"verify":    nil,
	"drop-slot": {"name", "source", "log"},
	"status":    {"name", "kafka", "admin", "log"},
}

func dispatch(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	if sections, ok := commandSections[cmd]; ok {
		asJSON := false
		var vf verifyFlags
		switch cmd {
		case "status":
			rest, asJSON = takeFlag(rest, "json")
		case "verify":
			var err error
			if rest, vf, err = takeVerifyFlags(rest); err != nil {
				return &exitError{code: 2, err: err}
			}
		}
		cfg, err := config.Load("", rest, env)
		if errors.Is(err, flag.ErrHelp) {
			extra := ""
			switch cmd {
			case "status":
				extra = " [--json]"
			case "verify":
				extra = verifyFlagsLine
			}
			fmt.Fprintf(stdout, "usage: sluice %s%s [--config FILE] [--key=value …]\n", cmd, extra)
			if cmd == "verify" {
				fmt.Fprint(stdout, verifyUsage)
			}
			fmt.Fprint(stdout, "\nSettings (flag, environment variable, default):\n")
			config.FlagUsage(stdout, sections...)
			return nil
		}
		if err != nil {
			if cmd == "verify" {
				return &exitError{code: 2, err: err}
			}
			return err
		}
		logw := &switchWriter{w: stderr}
		log := newLogger(cfg.Log, logw)
		for _, w := range cfg.Warnings() {
			log.Warn(w)
		}
		switch cmd {
		case "status":
			return status(ctx, cfg, asJSON, stdout)
		case "run":
			return runEngine(ctx, cfg, log, logw, stderr)
		}
		e, err := engine.New(*cfg, engine.WithLogger(log))
		if err != nil {
			if cmd == "verify" {
				return &exitError{code: 2, err: err}
			}
			return err
		}
		switch cmd {
		case "verify":
			return verify(ctx, e, vf, stdout, stderr)
		case "check":
			return check(ctx, e, cfg.Format, stdout)
		case "drop-slot":
			return dropSlot(ctx, e, cfg, stdout)
		}
		return fmt.Errorf("command %q has no handler", cmd)
	}
	switch cmd {
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "sluice", buildinfo.Read())
		return nil
	case "help", "-h", "--help":
		usage(stdout)
		return nil
	}
	fmt.Fprintf(stderr, "sluice: unknown command %q\n", cmd)
	usage(stderr)
	return errUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: sluice <command> [flags]

commands:
  run        snapshot the selected tables, then stream their changes to Kafka
  check      connect to the source and Kafka, check every prerequisite, print each problem with its fix
  verify     compare the compacted topics with the tables, every column, against a live source; exit 1 on a difference
  drop-slot  PostgreSQL: drop the replication slot (the next start then needs a new snapshot)
  status     print a running instance's status (from admin.listen), or the stored checkpoint when none runs; --json for scripts
  version    print the version, the commit and its time

Run "sluice <command> --help" for the settings a command uses.
`)
}

// runEngine is `sluice run`: the engine, its metrics and admin server, and on a
// terminal the snapshot's progress bars.
func runEngine(ctx context.Context, cfg *config.Config, log *slog.Logger, logw *switchWriter, stderr io.Writer) error {
	// Without the admin server nothing can scrape the metrics, so the
	// engine gets none: no registry, no franz-go metric hooks.
	opts := []engine.Option{engine.WithLogger(log)}
	reg := prometheus.NewRegistry()
	if cfg.Admin.Listen != "" {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		opts = append(opts, engine.WithMetrics(reg))
	}
	tty := isTerminal(stderr) && cfg.Log.Format != "json"
	if tty {
		opts = append(opts, engine.WithoutProgressLog())
	}
	e, err := engine.New(*cfg, opts...)
	if err != nil {
		return err
	}
	if cfg.Admin.Listen != "" {
		srv, err := admin.Start(cfg.Admin.Listen, e, reg, log)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	if tty {
		pctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			showProgress(pctx, e, stderr, logw)
		}()
		defer func() {
			stop()
			<-done
		}()
	}
	return e.Run(ctx)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// takeFlag removes --name (or -name) from args and reports whether it was
// there.
func takeFlag(args []string, name string) ([]string, bool) {
	out := args[:0:0]
	found := false
	for _, a := range args {
		if a == "--"+name || a == "-"+name {
			found = true
			continue
		}
		out = append(out, a)
	}
	return out, found
}

// check prints what engine.Check found; it fails when any problem is not a
// warning.
func check(ctx context.Context, e *engine.Engine, format string, out io.Writer) error {
	r := e.Check(ctx)
	for _, n := range r.Notes {
		fmt.Fprintf(out, "INFO  %s\n", n)
	}
	for _, p := range r.Problems {
		tag := "ERROR"
		if p.Warning {
			tag = "WARN "
		}
		fmt.Fprintf(out, "%s %s\n", tag, p.Message)
	}
	if n := r.Failed(); n > 0 {
		fmt.Fprintf(out, "%d problem(s) stop sluice from running\n", n)
		return errReported
	}
	if format == "avro" {
		fmt.Fprintln(out, "OK: source, Kafka and the schema registry are ready")
		return nil
	}
	fmt.Fprintln(out, "OK: source and Kafka are ready")
	return nil
}

// dropSlot is `sluice drop-slot`.
func dropSlot(ctx context.Context, e *engine.Engine, cfg *config.Config, out io.Writer) error {
	slot, err := e.DropSlot(ctx)
	if errors.Is(err, engine.ErrNoSlot) {
		return fmt.Errorf("drop-slot applies to source.type postgresql, this source is %s", cfg.Source.Type)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "dropped replication slot %s; delete the checkpoint of source %s (see docs/checkpoints.md) before the next start, which then takes a new snapshot\n", slot, cfg.Name)
	return nil
}

func newLogger(c config.LogConfig, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
