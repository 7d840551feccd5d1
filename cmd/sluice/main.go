// Command sluice captures row changes from MySQL/MariaDB or PostgreSQL and
// writes them to Kafka.
//
//	sluice run   --config sluice.yaml   snapshot, then stream, until stopped
//	sluice check --config sluice.yaml   check every prerequisite, print the fixes
//	sluice drop-slot --config sluice.yaml   PostgreSQL: drop the replication slot
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
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) && !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "sluice:", err)
		}
		os.Exit(1)
	}
}

var (
	errUsage    = errors.New("usage")
	errReported = errors.New("already reported")
)

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run", "check", "drop-slot":
		cfg, err := LoadConfig("", rest, os.Environ())
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: sluice %s [--config FILE] [--key=value …]\n\nSettings (flag, environment variable, default):\n", cmd)
			FlagUsage(stdout)
			return nil
		}
		if err != nil {
			return err
		}
		log := newLogger(cfg.Log, stderr)
		switch cmd {
		case "check":
			return check(ctx, cfg, log, stdout)
		case "drop-slot":
			return dropSlot(ctx, cfg, stdout)
		}
		return run(ctx, cfg, log)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "sluice", Version())
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
  drop-slot  PostgreSQL: drop the replication slot (the next start then needs a new snapshot)
  version    print the version

Run "sluice run --help" for every setting.
`)
}

// Version is the build's version: the -X value, else the module version.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
