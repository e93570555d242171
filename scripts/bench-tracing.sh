#!/usr/bin/env bash
# The cost of tracing, measured: `invsync bench`'s latency run (embedded
# broker, in-process pipeline) with tracing off, at 1 % and at 100 %
# sampling, in rounds; each round runs the three arms once, in an order that
# rotates from round to round, so that a drift of the machine's load falls on
# every arm alike. Spans go to a Jaeger on loopback (scripts/jaeger.sh).
#
#   bash scripts/bench-tracing.sh [ROUNDS]    (default 10; `make bench-tracing` runs 12, ROUNDS=N)
#
# Prints each run's p50 and p99 at 1,000 tx/s, then per arm the median and
# quartiles of the runs' p50 and p99, and the median of the paired ratios
# (the arm's p50 over the same round's "off" p50), which cancels most of the
# round-to-round drift. The raw JSON lines are kept in $OUT_DIR.
#
# Environment:
#   BENCH_TRACING_RATE   transactions/s of the latency run (default 1000)
#   BENCH_TRACING_STEP   duration of the latency run (default 10s)
#   OUT_DIR              where the runs' JSON goes (default a new temporary directory)
set -euo pipefail

ROUNDS="${1:-10}"
RATE="${BENCH_TRACING_RATE:-1000}"
STEP="${BENCH_TRACING_STEP:-10s}"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$SCRIPT_DIR/lib.sh"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a whole number ≥ 1, got '$ROUNDS'"

OUT_DIR="${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/invsync-bench-tracing.XXXXXX")}"
mkdir -p "$OUT_DIR"
BIN="$OUT_DIR/invsync"

log "building invsync into $BIN"
(cd "$REPO_DIR" && go build -o "$BIN" ./cmd/invsync)

bash "$SCRIPT_DIR/jaeger.sh" up >&2
OTLP="$(bash "$SCRIPT_DIR/jaeger.sh" env | sed -n 's/^export OTEL_EXPORTER_OTLP_ENDPOINT=//p' | tr -d "'\"")"
[[ -n "$OTLP" ]] || die "scripts/jaeger.sh env printed no OTEL_EXPORTER_OTLP_ENDPOINT"

# run ARM ROUND: one bench run, its last line (the JSON) into $OUT_DIR/ARM-ROUND.json
run() {
  local arm=$1 round=$2
  local -a env=(env -u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_TRACES_SAMPLER -u OTEL_TRACES_SAMPLER_ARG)
  case $arm in
    off) ;;
    1pct) env+=(OTEL_EXPORTER_OTLP_ENDPOINT="$OTLP" OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01) ;;
    100pct) env+=(OTEL_EXPORTER_OTLP_ENDPOINT="$OTLP" OTEL_TRACES_SAMPLER=parentbased_always_on) ;;
  esac
  log "round $round/$ROUNDS: $arm (load average $(cut -d' ' -f1 /proc/loadavg))"
  "${env[@]}" "$BIN" bench --rates "$RATE" --latency-rate "$RATE" --backlog=false --step "$STEP" --json \
    2>"$OUT_DIR/$arm-$round.err" | tail -1 >"$OUT_DIR/$arm-$round.json"
}

# field FILE NAME: the first top-level number NAME in the JSON line (the latency phase's)
field() { grep -o "\"$2\":[0-9.]*" "$1" | head -1 | cut -d: -f2; }

arms=(off 1pct 100pct)
for ((r = 1; r <= ROUNDS; r++)); do
  for ((i = 0; i < 3; i++)); do
    run "${arms[$(((i + r - 1) % 3))]}" "$r"
  done
done

printf '\n%-6s %-8s %10s %10s\n' round arm "p50 ms" "p99 ms"
for ((r = 1; r <= ROUNDS; r++)); do
  for arm in "${arms[@]}"; do
    f="$OUT_DIR/$arm-$r.json"
    printf '%-6s %-8s %10s %10s\n' "$r" "$arm" "$(field "$f" p50_ms)" "$(field "$f" p99_ms)"
  done
done

quantile() { # quantile Q: the Q-quantile (linear interpolation) of the numbers on stdin
  sort -g | awk -v q="$1" '{v[NR]=$1} END { if (NR == 0) { print "nan"; exit }
    h = (NR - 1) * q + 1; lo = int(h); f = h - lo
    printf "%.2f", (lo < NR) ? v[lo] + f * (v[lo+1] - v[lo]) : v[lo] }'
}

printf '\n%-8s %-28s %-28s %s\n' arm "p50: median (quartiles)" "p99: median (quartiles)" "p50 over the round's off: median ratio (rounds over)"
for arm in "${arms[@]}"; do
  p50s=$(for ((r = 1; r <= ROUNDS; r++)); do field "$OUT_DIR/$arm-$r.json" p50_ms; done)
  p99s=$(for ((r = 1; r <= ROUNDS; r++)); do field "$OUT_DIR/$arm-$r.json" p99_ms; done)
  ratios=$(for ((r = 1; r <= ROUNDS; r++)); do
    awk -v a="$(field "$OUT_DIR/$arm-$r.json" p50_ms)" -v b="$(field "$OUT_DIR/off-$r.json" p50_ms)" 'BEGIN { printf "%.4f\n", a / b }'
  done)
  over=$(awk '$1 > 1' <<<"$ratios" | wc -l)
  printf '%-8s %-28s %-28s %s\n' "$arm" \
    "$(quantile 0.5 <<<"$p50s") ($(quantile 0.25 <<<"$p50s")–$(quantile 0.75 <<<"$p50s"))" \
    "$(quantile 0.5 <<<"$p99s") ($(quantile 0.25 <<<"$p99s")–$(quantile 0.75 <<<"$p99s"))" \
    "$(quantile 0.5 <<<"$ratios") ($over of $ROUNDS)"
done
log "runs kept in $OUT_DIR"
