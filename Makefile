# sluice — common tasks. `make help` lists them.

GO      ?= go
PKGS    := ./...
# The integration tier needs real servers; the harness (deploy/local) installs
# MariaDB and PostgreSQL from Debian's packages, and Apache Kafka and the schema
# registry from Maven Central, on first use and caches them.
INTEGRATION_TIMEOUT ?= 25m

.PHONY: help build test unit integration quickstart bench vet fmt deps clean

help:
	@echo "make quickstart   run sluice end to end: MariaDB and PostgreSQL to Kafka in Avro (SOURCE=mysql|postgresql|both, ONCE=1 exits after the demo)"
	@echo "make test         unit tests, then integration tests against real MariaDB and Kafka"
	@echo "make bench        1M-row snapshot and streaming benchmark, MariaDB and PostgreSQL, JSON and Avro; writes BENCHMARKS.md"
	@echo "                  (BENCH_FLAGS='-source=postgresql -format=json' runs a part; see go run ./integration/bench -help)"
	@echo "make build        build bin/sluice"

build:
	$(GO) build -buildvcs=auto -o bin/sluice ./cmd/sluice

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

## deps: install (or find in the cache) the servers the integration tier uses.
deps:
	$(GO) run ./deploy/quickstart -install-only

quickstart:
	$(GO) run ./deploy/quickstart $(if $(SOURCE),-source $(SOURCE)) $(if $(ONCE),-once)

bench:
	$(GO) run ./integration/bench -out BENCHMARKS.md $(BENCH_FLAGS)

clean:
	rm -rf bin .quickstart
