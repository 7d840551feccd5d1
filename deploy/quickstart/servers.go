package main

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"

	"github.com/sluice-cdc/sluice/deploy/local"
)

// servers are the processes the quickstart runs besides sluice. A field is
// nil when its server is not running.
type servers struct {
	mariadb  *local.MariaDB
	postgres *local.Postgres
	kafka    *local.Kafka
	registry *local.Registry
}

// startServers starts, side by side, Kafka, the schema registry and the
// databases kinds names (MariaDB for mysql, PostgreSQL for postgresql), each
// in a directory of its own under dir whose data it keeps. It blocks until
// every one serves clients; on error none is left running.
func startServers(ctx context.Context, dir string, kinds []string) (*servers, error) {
	s := &servers{}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	start := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	if slices.Contains(kinds, sourceMySQL) {
		start(func() (err error) {
			s.mariadb, err = local.StartMariaDB(ctx, local.MariaDBOptions{Dir: filepath.Join(dir, "mariadb"), Keep: true})
			return err
		})
	}
	if slices.Contains(kinds, sourcePostgres) {
		start(func() (err error) {
			s.postgres, err = local.StartPostgres(ctx, local.PostgresOptions{Dir: filepath.Join(dir, "postgres"), Keep: true,
				Args: []string{"max_slot_wal_keep_size=1GB"}})
			return err
		})
	}
	start(func() (err error) {
		s.kafka, err = local.StartKafka(ctx, local.KafkaOptions{Dir: filepath.Join(dir, "kafka"), Keep: true})
		return err
	})
	start(func() (err error) {
		s.registry, err = local.StartRegistry(ctx, local.RegistryOptions{Dir: filepath.Join(dir, "registry"), Keep: true})
		return err
	})
	wg.Wait()
	if len(errs) > 0 {
		_ = s.stop()
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// stop stops every running server side by side and blocks until all have
// exited.
func (s *servers) stop() error {
	var stops []func() error
	if s.mariadb != nil {
		stops = append(stops, s.mariadb.Stop)
	}
	if s.postgres != nil {
		stops = append(stops, s.postgres.Stop)
	}
	if s.kafka != nil {
		stops = append(stops, s.kafka.Stop)
	}
	if s.registry != nil {
		stops = append(stops, s.registry.Stop)
	}
	errs := make([]error, len(stops))
	var wg sync.WaitGroup
	for i, stop := range stops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = stop()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
