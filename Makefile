# invsync build / test entry points. CI runs .ci/run, which calls these.

SHELL := /bin/bash

GO        ?= go
FUZZTIME  ?= 10s
KAFKA_PORT ?= 39092
KAFKA_BROKERS_ADDR := 127.0.0.1:$(KAFKA_PORT)
export KAFKA_PORT

.PHONY: all build deps test test-race fuzz test-kafka kafka-fetch kafka-up kafka-down kafka-status clean

all: build test

deps:
	$(GO) mod download

build: deps
	$(GO) build -o bin/invsync ./cmd/invsync

test: deps
	$(GO) test -count=1 -timeout 15m ./...

test-race: deps
	$(GO) test -race -count=1 -timeout 25m ./...

# Runs every Fuzz* target found by `go test -list` for $(FUZZTIME) each.
# Succeeds (doing nothing) when there are no fuzz targets.
fuzz: deps
	@set -eu; \
	listing=$$($(GO) test -list '^Fuzz' ./...) || { echo "$$listing"; echo "fuzz: listing fuzz targets failed" >&2; exit 1; }; \
	targets=$$(echo "$$listing" | awk '/^Fuzz/ { names = names " " $$1; next } /^ok[ \t]/ { if (names != "") print $$2 names; names = "" }'); \
	if [ -z "$$targets" ]; then echo "fuzz: no fuzz targets found"; exit 0; fi; \
	n=0; \
	while read -r pkg names; do \
		for name in $$names; do \
			n=$$((n + 1)); \
			echo "fuzz: $$pkg $$name for $(FUZZTIME)"; \
			$(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) "$$pkg"; \
		done; \
	done <<< "$$targets"; \
	echo "fuzz: $$n target(s) passed"

kafka-fetch:
	bash scripts/kafka.sh fetch

kafka-up:
	bash scripts/kafka.sh up

kafka-down:
	bash scripts/kafka.sh down

# Reports only; `scripts/kafka.sh status` itself exits 3 when the broker is down.
kafka-status:
	@bash scripts/kafka.sh status || true

# Full suite against a real single-node Kafka on loopback. The broker is always
# stopped afterwards; the exit code is the tests'.
test-kafka: deps
	bash scripts/kafka.sh up
	@rc=0; \
	echo "KAFKA_BROKERS=$(KAFKA_BROKERS_ADDR) $(GO) test -count=1 -timeout 20m ./..."; \
	KAFKA_BROKERS=$(KAFKA_BROKERS_ADDR) $(GO) test -count=1 -timeout 20m ./... || rc=$$?; \
	bash scripts/kafka.sh down || true; \
	exit $$rc

clean:
	rm -rf bin
