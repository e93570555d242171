# invsync build / test entry points. CI runs .ci/run, which calls these.

SHELL := /bin/bash

GO        ?= go
FUZZTIME  ?= 10s
KAFKA_PORT ?= 39092
KAFKA_BROKERS_ADDR := 127.0.0.1:$(KAFKA_PORT)
export KAFKA_PORT

.PHONY: all build deps test-deps check test test-race fuzz test-kafka chaos chaos-kafka crash kafka-fetch kafka-up kafka-down kafka-status postgres-up postgres-down jaeger-up jaeger-down check-alerts test-trace test-kfake mirror-e2e-long bench-mirror bench-tracing clean

# Packages with concurrency, run under the race detector by `make test-race` (CI).
RACE_PKGS ?= ./ingest/... ./pipeline/... ./state/... ./processors/... ./scanner/... ./mirror/... ./schemas/... ./sim/... ./server/... ./telemetry/... ./api/... ./internal/...

ROUNDS ?= 12
BROKER_KILLS ?= 1

all: build test

deps:
	$(GO) mod download

build: deps
	$(GO) build -o bin/invsync ./cmd/invsync

# What the tests need beyond Go: a throwaway PostgreSQL on loopback (the
# mirror's tests) and headless Chromium (the scanner app's browser tests).
# Installed with apt-get when missing and running as root; otherwise those
# tests skip, saying why and what to run.
test-deps:
	@bash scripts/postgres.sh up >/dev/null || echo "make: PostgreSQL could not be started; the mirror's PostgreSQL tests will skip (run: bash scripts/postgres.sh up)" >&2
	@bash scripts/chromium.sh ensure >/dev/null || echo "make: Chromium is missing or cannot start here (see above); the browser tests will skip or fail (run: bash scripts/chromium.sh ensure)" >&2

# gofmt and go vet, as reviewers would.
check: deps
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: these files need formatting:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: deps test-deps
	POSTGRES_URL=$$(bash scripts/postgres.sh url 2>/dev/null) $(GO) test -count=1 -timeout 20m ./...

test-race: deps test-deps
	POSTGRES_URL=$$(bash scripts/postgres.sh url 2>/dev/null) $(GO) test -race -count=1 -timeout 25m $(RACE_PKGS)

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

# The alert rules: promtool check rules and promtool test rules (each
# alert's unit test, deploy/prometheus/alerts_test.yml). Installs Debian's
# prometheus package for promtool when missing.
# The embedded broker's patched kfake (third_party/kfake, PATCHES.md) is a
# module of its own, so `go test ./...` does not reach it: its own tests,
# including the power-cut file-system test of the patches.
test-kfake:
	cd third_party/kfake && $(GO) test -count=1 -timeout 15m ./...

check-alerts:
	bash scripts/promtool.sh check

jaeger-up:
	bash scripts/jaeger.sh up

jaeger-down:
	bash scripts/jaeger.sh down

# The trace test against a real Jaeger on loopback (built by
# scripts/jaeger.sh the first time: minutes), stopped afterwards.
test-trace: deps
	bash scripts/jaeger.sh up
	@rc=0; \
	eval "$$(bash scripts/jaeger.sh env)"; \
	$(GO) test -count=1 -timeout 10m -run '^TestTraceInJaeger$$' -v ./e2e || rc=$$?; \
	bash scripts/jaeger.sh down || true; \
	exit $$rc

postgres-up:
	bash scripts/postgres.sh up

postgres-down:
	bash scripts/postgres.sh down

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
test-kafka: deps test-deps
	bash scripts/kafka.sh up
	@rc=0; \
	echo "KAFKA_BROKERS=$(KAFKA_BROKERS_ADDR) $(GO) test -count=1 -timeout 20m ./..."; \
	KAFKA_BROKERS=$(KAFKA_BROKERS_ADDR) POSTGRES_URL=$$(bash scripts/postgres.sh url 2>/dev/null) $(GO) test -count=1 -timeout 25m ./... || rc=$$?; \
	bash scripts/kafka.sh down || true; \
	exit $$rc

# Chaos suite: 3 instances on an `invsync broker`, ROUNDS faults (kill -9,
# SIGSTOP past the session timeout). CHAOS_BROKER_KILLS=1 adds kill -9 of the
# broker; CHAOS_SEED=N reproduces a run.
chaos: deps
	@rc=0; \
	CHAOS=1 CHAOS_ROUNDS=$(ROUNDS) CHAOS_BROKER_KILLS=$${CHAOS_BROKER_KILLS:-0} $(GO) test -count=1 -timeout 120m -run '^TestChaos$$' -v ./e2e > chaos.log 2>&1 || rc=$$?; \
	grep -E '^(chaos:|---|ok|FAIL|PASS)|fault [0-9]|chaos_test' chaos.log || true; \
	exit $$rc

# The same against a real Apache Kafka on loopback (started and stopped here),
# with kill -9 of the broker among the faults (BROKER_KILLS=0 leaves them out).
chaos-kafka: deps
	bash scripts/kafka.sh up
	@rc=0; \
	KAFKA_BROKERS=$(KAFKA_BROKERS_ADDR) CHAOS_KAFKA_CTL=$(CURDIR)/scripts/kafka.sh CHAOS_BROKER_KILLS=$(BROKER_KILLS) CHAOS=1 CHAOS_ROUNDS=$(ROUNDS) $(GO) test -count=1 -timeout 120m -run '^TestChaos$$' -v ./e2e > chaos-kafka.log 2>&1 || rc=$$?; \
	grep -E '^(chaos:|---|ok|FAIL|PASS)|fault [0-9]|chaos_test' chaos-kafka.log || true; \
	bash scripts/kafka.sh down || true; \
	exit $$rc

# Long single-instance kill -9 run: make crash ROUNDS=50
crash: deps
	@rc=0; \
	CRASH_ROUNDS=$(ROUNDS) $(GO) test -count=1 -timeout 120m -run '^TestCrashKill9DuringUploads$$' -v ./e2e > crash.log 2>&1 || rc=$$?; \
	grep -E 'crash test|round [0-9]|^---|^ok|^FAIL' crash.log || true; \
	exit $$rc

# The mirror's end-to-end test (uploads through serve, kill -9 of the mirror
# at random moments, every row compared with the API) with five minutes of
# load on each database instead of 20 s; MIRROR_E2E_SEED=N reproduces a run.
mirror-e2e-long: deps test-deps
	set -o pipefail; POSTGRES_URL=$$(bash scripts/postgres.sh url 2>/dev/null) MIRROR_E2E_LOAD=$${MIRROR_E2E_LOAD:-5m} \
		$(GO) test -count=1 -timeout 40m -run '^TestMirrorEndToEnd$$' -v ./e2e 2>&1 | grep -v '^ *{'

# The mirror's figures (BENCHMARKS.md): events/s it applies into each
# database catching up on a backlog, then its lag beside `invsync bench` at
# 10,000 tx/s, on SQLite and, when PostgreSQL can be started, PostgreSQL.
bench-mirror: build test-deps
	POSTGRES_URL=$$(bash scripts/postgres.sh url 2>/dev/null) MIRROR_BENCH_EVENTS=$${MIRROR_BENCH_EVENTS:-200000} \
		$(GO) test -count=1 -run '^$$' -bench '^BenchmarkMirrorCatchUp$$' -benchtime 1x ./bench/
	./bin/invsync bench --mirror sqlite --rates 10000 --backlog=false
	if bash scripts/postgres.sh status >/dev/null 2>&1; then \
		./bin/invsync bench --mirror "$$(bash scripts/postgres.sh url)" --rates 10000 --backlog=false; \
	else echo "bench-mirror: PostgreSQL is not running: its lag is not measured (bash scripts/postgres.sh up)"; fi

# The cost of tracing (BENCHMARKS.md): the latency run with tracing off, at 1 %
# and at 100 % sampling into a Jaeger on loopback, ROUNDS rounds in rotating
# order; medians and paired ratios at the end.
bench-tracing: deps
	bash scripts/bench-tracing.sh $(ROUNDS)

clean:
	rm -rf bin
