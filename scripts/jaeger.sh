#!/usr/bin/env bash
# Jaeger (all in one: OTLP receiver, in-memory storage, query API) on
# loopback, built from its Go module at a pinned version outside invsync's
# go.mod. Used by the trace test (e2e, JAEGER_QUERY_URL) and by
# developers. A build from the Go module carries no UI assets (they are a
# separate web build): the query API answers, the UI page is a placeholder.
# With JAEGER_UI_BUILD pointing at a built jaeger-ui (its
# packages/jaeger-ui/build directory, holding index.html), the binary is
# built again with those assets embedded, as Jaeger's own release build does,
# and serves the UI; the trace test then takes its screenshot of the trace.
# jaeger-ui is not on npm: clone github.com/jaegertracing/jaeger-ui at the tag
# matching JAEGER_VERSION, then `npm ci --engine-strict=false --ignore-scripts`,
# `npm run --workspace @jaegertracing/plexus prepublishOnly` and, in
# packages/jaeger-ui, `npm run build` (Node 20 builds it, though its
# package.json asks for 24).
#
#   scripts/jaeger.sh build     build the pinned jaeger binary (cached; slow the first time)
#   scripts/jaeger.sh up        build if needed, start, wait until the query API answers;
#                               prints the variables to export
#   scripts/jaeger.sh down      stop (SIGTERM, then SIGKILL after 15 s)
#   scripts/jaeger.sh status    exit 0 if running and answering, 3 otherwise
#   scripts/jaeger.sh env       print the variables that point invsync and the test at it
#
# Environment:
#   JAEGER_VERSION        pinned below
#   JAEGER_CACHE_DIR      build cache (default $HOME/.cache/invsync/jaeger-<version>)
#   JAEGER_UI_BUILD       a built jaeger-ui to embed (see above; default none: no UI)
#   JAEGER_OTLP_HTTP_PORT OTLP/HTTP receiver port (default 31318)
#   JAEGER_OTLP_GRPC_PORT OTLP/gRPC receiver port (default 31317)
#   JAEGER_QUERY_PORT     query API and UI port (default 31686)
#   JAEGER_QUERY_GRPC_PORT query gRPC API port (default 31685)
#   JAEGER_START_TIMEOUT  seconds to wait for readiness (default 60)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$SCRIPT_DIR/lib.sh"
ensure_home

JAEGER_VERSION="${JAEGER_VERSION:-v1.75.0}"
# jaeger's go.mod pins sarama with a replace directive, which `go install
# module@version` refuses; a throwaway module repeats it.
SARAMA_REPLACE="github.com/Shopify/sarama=github.com/Shopify/sarama@v1.33.0"

service_files "$REPO_DIR/.jaeger" jaeger
CONF_FILE="$STATE_DIR/config.yaml"

CACHE_DIR="${JAEGER_CACHE_DIR:-$HOME/.cache/invsync/jaeger-$JAEGER_VERSION}"
BIN="$CACHE_DIR/bin/jaeger"
UI_BUILD="${JAEGER_UI_BUILD:-}"
if [[ -n "$UI_BUILD" ]]; then
  [[ -f "$UI_BUILD/index.html" ]] || die "JAEGER_UI_BUILD=$UI_BUILD holds no index.html: point it at jaeger-ui's packages/jaeger-ui/build after 'npm run build'"
  UI_BUILD="$(cd "$UI_BUILD" && pwd)"
  PLAIN_BIN="$BIN"
  BIN="$CACHE_DIR/bin/jaeger-with-ui"
fi

HOST=127.0.0.1
OTLP_HTTP_PORT="${JAEGER_OTLP_HTTP_PORT:-31318}"
OTLP_GRPC_PORT="${JAEGER_OTLP_GRPC_PORT:-31317}"
QUERY_PORT="${JAEGER_QUERY_PORT:-31686}"
QUERY_GRPC_PORT="${JAEGER_QUERY_GRPC_PORT:-31685}"
START_TIMEOUT="${JAEGER_START_TIMEOUT:-60}"
QUERY_URL="http://$HOST:$QUERY_PORT"

build() {
  if [[ -n "$UI_BUILD" ]]; then
    build_with_ui
  else
    build_plain
  fi
}

build_plain() {
  [[ -x "$BIN" ]] && return 0
  command -v go >/dev/null 2>&1 || die "'go' not found on PATH"
  local mod="$CACHE_DIR/build"
  mkdir -p "$mod" "$CACHE_DIR/bin"
  log "building github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION (several minutes the first time)"
  (
    cd "$mod"
    # GOFLAGS from the caller (e.g. -mod=vendor) must not leak into this module.
    export GOFLAGS=-buildvcs=false GOWORK=off
    [[ -f go.mod ]] || go mod init invsync.local/jaeger-build >/dev/null 2>&1
    go mod edit -replace "$SARAMA_REPLACE"
    go get "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION"
    go build -p "${JAEGER_BUILD_JOBS:-2}" -o "$BIN.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
    mv "$BIN.tmp" "$BIN"
  )
  log "built $BIN"
}

# build_with_ui: the plain build's module, with a copy of jaeger's source in
# which cmd/query/app/ui/actual holds the UI's files gzipped (what jaeger's
# `make build-ui` puts there), replacing the module. Rebuilt when the UI's
# index.html changes.
build_with_ui() {
  local stamp="$BIN.ui-sum" sum
  sum="$(sha256sum <"$UI_BUILD/index.html" | cut -d' ' -f1)"
  [[ -x "$BIN" && "$(cat "$stamp" 2>/dev/null)" == "$sum" ]] && return 0
  BIN="$PLAIN_BIN" build_plain
  local src="$CACHE_DIR/src-with-ui" mod="$CACHE_DIR/build-with-ui"
  local modsrc
  modsrc="$(cd "$CACHE_DIR/build" && GOFLAGS= GOWORK=off go list -m -f '{{.Dir}}' github.com/jaegertracing/jaeger)"
  [[ -d "$modsrc" ]] || die "jaeger's module source not found in the module cache"
  log "building jaeger $JAEGER_VERSION with the UI from $UI_BUILD"
  rm -rf "$src" "$mod"
  cp -r "$modsrc" "$src"
  chmod -R u+w "$src"
  local actual="$src/cmd/query/app/ui/actual"
  rm -rf "${actual:?}"/*
  cp -r "$UI_BUILD"/. "$actual"/
  find "$actual" -type f ! -name '*.go' ! -name .gitignore -exec gzip --no-name {} +
  mkdir -p "$mod"
  cp "$CACHE_DIR/build/go.mod" "$CACHE_DIR/build/go.sum" "$mod"/
  (
    cd "$mod"
    export GOFLAGS=-buildvcs=false GOWORK=off
    go mod edit -replace "github.com/jaegertracing/jaeger=$src"
    go build -p "${JAEGER_BUILD_JOBS:-2}" -o "$BIN.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
    mv "$BIN.tmp" "$BIN"
  )
  echo "$sum" >"$stamp"
  log "built $BIN"
}

write_config() {
  mkdir -p "$STATE_DIR"
  cat >"$CONF_FILE" <<YAML
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn

extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: "$HOST:$QUERY_PORT"
    grpc:
      endpoint: "$HOST:$QUERY_GRPC_PORT"
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000

receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "$HOST:$OTLP_GRPC_PORT"
      http:
        endpoint: "$HOST:$OTLP_HTTP_PORT"

processors:
  batch:
    timeout: 200ms

exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
YAML
}

answering() {
  curl -fs -o /dev/null --max-time 2 "$QUERY_URL/api/services" 2>/dev/null
}

running() {
  [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

print_env() {
  echo "export OTEL_EXPORTER_OTLP_ENDPOINT=http://$HOST:$OTLP_HTTP_PORT"
  echo "export JAEGER_QUERY_URL=$QUERY_URL"
}

up() {
  if running && answering; then
    log "already running (pid $(cat "$PID_FILE"))"
    print_env
    return 0
  fi
  build
  write_config
  log "starting: OTLP http $HOST:$OTLP_HTTP_PORT grpc $HOST:$OTLP_GRPC_PORT, query $QUERY_URL"
  nohup "$BIN" --config "$CONF_FILE" >"$LOG_FILE" 2>&1 &
  echo $! >"$PID_FILE"
  local deadline=$((SECONDS + START_TIMEOUT))
  until answering; do
    if ! running; then
      tail -20 "$LOG_FILE" >&2 || true
      die "jaeger exited during start-up (log: $LOG_FILE)"
    fi
    if ((SECONDS > deadline)); then
      die "jaeger did not answer on $QUERY_URL within ${START_TIMEOUT}s (log: $LOG_FILE)"
    fi
    sleep 0.5
  done
  log "ready (pid $(cat "$PID_FILE"))"
  print_env
}

down() {
  if ! running; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  local pid
  pid="$(cat "$PID_FILE")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
  log "stopped"
}

case "${1:-}" in
  build) build ;;
  up) up ;;
  down) down ;;
  status)
    if running && answering; then
      log "running (pid $(cat "$PID_FILE")), query API $QUERY_URL"
      exit 0
    fi
    log "not running"
    exit 3
    ;;
  env) print_env ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
