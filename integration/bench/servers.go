package main

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/sluice-cdc/sluice/deploy/local"
)

// startServers starts Kafka and what the options need besides (MariaDB,
// PostgreSQL, the schema registry), each under b.work, and connects the
// offset reader. It blocks until every server serves clients; on error the
// ones already started are stopped.
func (b *bench) startServers(ctx context.Context, o options) (err error) {
	defer func() {
		if err != nil {
			b.stopServers()
		}
	}()
	if o.mysql() {
		var dbOpt local.MariaDBOptions
		if o.runs("tls") {
			// TLS offered, not required: the same server serves the
			// plain-text and the TLS phases.
			if b.pki, err = local.NewTestPKI(filepath.Join(b.work, "pki")); err != nil {
				return err
			}
			dbOpt = local.MariaDBOptions{TLS: b.pki, Args: []string{"--require-secure-transport=OFF"}}
		}
		say("Starting MariaDB and Kafka (deploy/local) under %s", b.work)
		if b.db, b.kafka, err = local.StartMariaDBAndKafka(ctx, b.work, false, dbOpt); err != nil {
			return err
		}
	} else {
		say("Starting Kafka (deploy/local) under %s", b.work)
		if b.kafka, err = local.StartKafka(ctx, local.KafkaOptions{Dir: filepath.Join(b.work, "kafka")}); err != nil {
			return err
		}
	}
	if o.postgres() {
		say("Starting PostgreSQL (deploy/local)")
		if b.pg, err = local.StartPostgres(ctx, local.PostgresOptions{Dir: filepath.Join(b.work, "postgres")}); err != nil {
			return err
		}
	}
	if o.avro() {
		say("Starting the schema registry (deploy/local)")
		if b.reg, err = local.StartRegistry(ctx, local.RegistryOptions{Dir: filepath.Join(b.work, "registry")}); err != nil {
			return err
		}
	}
	b.offs, err = newOffsets(b.kafka.Bootstrap())
	return err
}

// stopServers stops every server startServers started and blocks until
// they have exited. Errors are printed, not returned: it runs on the way
// out.
func (b *bench) stopServers() {
	say("Stopping the servers")
	if b.offs != nil {
		b.offs.close()
	}
	var errs []error
	if b.reg != nil {
		errs = append(errs, b.reg.Stop())
	}
	if b.pg != nil {
		errs = append(errs, b.pg.Stop())
	}
	switch {
	case b.db != nil && b.kafka != nil:
		errs = append(errs, local.StopMariaDBAndKafka(b.db, b.kafka))
	case b.kafka != nil:
		errs = append(errs, b.kafka.Stop())
	}
	if err := errors.Join(errs...); err != nil {
		say("stop servers: %v", err)
	}
}
