# sluice — common tasks. `make help` lists them.

GO      ?= go
PKGS    := ./...
# The integration tier needs real servers; the harness (deploy/local) installs
# MariaDB and PostgreSQL from Debian's packages, and Apache Kafka and the schema
# registry from Maven Central, on first use and caches them.
INTEGRATION_TIMEOUT ?= 25m
# make dist: the release binaries and their SHA256SUMS go to DIST; VERSION is
# what `sluice version` reports (-X), the commit comes from Go's VCS stamp.
DIST    ?= dist
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: help build dist test unit integration crash quickstart bench vet fmt deps clean

help:
	@echo "make quickstart   run sluice end to end: MariaDB and PostgreSQL to Kafka in Avro (SOURCE=mysql|postgresql|both, ONCE=1 exits after the demo)"
	@echo "make test         unit tests, then integration tests against real MariaDB and Kafka"
	@echo "make crash        the full crash suite: CRASH_KILLS (default 20) kill -9 per run, both databases, both delivery modes,"
	@echo "                  a broker kill and a database restart in each; prints a summary table (make test runs a short version)"
	@echo "make bench        1M-row snapshot and streaming benchmark, MariaDB and PostgreSQL, JSON and Avro; writes BENCHMARKS.md"
	@echo "                  (BENCH_FLAGS='-source=postgresql -format=json' runs a part; see go run ./integration/bench -help)"
	@echo "make build        build bin/sluice"
	@echo "make dist         static release binaries dist/sluice-linux-{amd64,arm64} and dist/SHA256SUMS, for the Dockerfile"
	@echo "                  (VERSION=v1.2.3 names the version, default git describe; DIST=dir writes elsewhere)"

build:
	$(GO) build -buildvcs=auto -o bin/sluice ./cmd/sluice

## dist: what the Dockerfile copies; deploy/release/dist.sh says how.
dist:
	GO='$(GO)' DIST='$(DIST)' VERSION='$(VERSION)' sh deploy/release/dist.sh

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags integration $(PKGS)

fmt:
	gofmt -l -w .

## test: both tiers. CI runs exactly this (.ci/run).
test: vet unit integration

unit:
	$(GO) test -race -count=1 $(PKGS)

integration:
	$(GO) test -tags integration -count=1 -p 1 -timeout $(INTEGRATION_TIMEOUT) \
		./deploy/... ./integration/... ./pgoutput/... ./schema/... ./snapshot/...

## crash: the full crash suite (integration/crash_test.go); make test runs
## it with 3 kills and one run per database.
CRASH_KILLS ?= 20
crash:
	SLUICE_CRASH_KILLS=$(CRASH_KILLS) SLUICE_CRASH_RUNS=all $(GO) test -tags integration -count=1 -p 1 -timeout 120m \
		-run 'TestCrashSuite' -v ./integration/

## deps: install (or find in the cache) the servers the integration tier uses.
deps:
	$(GO) run ./deploy/quickstart -install-only

quickstart:
	$(GO) run ./deploy/quickstart $(if $(SOURCE),-source $(SOURCE)) $(if $(ONCE),-once)

bench:
	$(GO) run ./integration/bench -out BENCHMARKS.md $(BENCH_FLAGS)

clean:
	rm -rf bin dist .quickstart
