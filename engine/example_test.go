package engine_test

import (
	"context"
	"log"
	"log/slog"
	"os"
	"os/signal"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/engine"
)

// A Go program that runs sluice: load the configuration as the command
// does (file, SLUICE_* environment, flags), run the engine until
// interrupted, and print where it got to.
func Example() {
	cfg, err := config.Load("sluice.yaml", os.Args[1:], os.Environ())
	if err != nil {
		log.Fatal(err)
	}
	e, err := engine.New(*cfg, engine.WithLogger(slog.Default()))
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := e.Run(ctx); err != nil {
		log.Fatal(err)
	}
	st := e.Status()
	log.Printf("stopped in phase %s; acknowledged %+v", st.Phase, st.Acknowledged)
}
