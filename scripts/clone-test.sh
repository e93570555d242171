#!/usr/bin/env bash
# The mirror's PostgreSQL tests from a fresh clone in a private directory, as
# a new user would run them: `git clone` of this checkout's HEAD into a
# `mktemp -d` directory (mode 0700, which the `postgres` OS user cannot
# enter), `make postgres-up` there, `go test ./mirror/...` with the URL that
# `scripts/postgres.sh url` prints, then `postgres.sh down --wipe`. Fails if
# PostgreSQL cannot be started from the clone, if any PostgreSQL case is
# skipped, or if a test fails. Run by .ci/run; takes about a minute once the
# Go build cache is warm.
#
#   scripts/clone-test.sh
#
# Environment:
#   GO   the go command (default go)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd -P)"
GO="${GO:-go}"

log() { echo "clone-test.sh: $*" >&2; }
die() { echo "clone-test.sh: ERROR: $*" >&2; exit 1; }

tmp="$(mktemp -d)" || die "mktemp -d failed: set TMPDIR to a writable directory with a few hundred MB free"
clone="$tmp/clone"
cleanup() {
  if [[ -f "$clone/scripts/postgres.sh" ]]; then
    bash "$clone/scripts/postgres.sh" down --wipe >/dev/null 2>&1 ||
      log "could not wipe the clone's cluster: run bash '$clone/scripts/postgres.sh' down --wipe"
  fi
  rm -rf -- "$tmp"
}
trap cleanup EXIT

chmod 700 -- "$tmp"
log "cloning $REPO_DIR into $clone (parent mode $(stat -c %a -- "$tmp"))"
git clone -q -- "$REPO_DIR" "$clone"
cd "$clone"

make -s postgres-up >/dev/null
url="$(bash scripts/postgres.sh url)" || die "scripts/postgres.sh url printed no URL right after 'make postgres-up' in $clone"
[[ -n "$url" ]] || die "scripts/postgres.sh url printed an empty URL"
log "PostgreSQL of the clone: $url"

out="$tmp/go-test.log"
rc=0
POSTGRES_URL="$url" "$GO" test -count=1 -timeout 10m -v ./mirror/... >"$out" 2>&1 || rc=$?
grep -E '^(ok|FAIL|---|panic:)|^\s+--- (FAIL|SKIP)' "$out" | grep -v -- '--- PASS' || true
if [[ $rc != 0 ]]; then
  tail -n 60 "$out" >&2
  die "go test ./mirror/... failed in the clone (exit $rc)"
fi
if grep -qE 'SKIPPED: POSTGRES_URL|POSTGRES_URL is not set' "$out"; then
  grep -E -B1 'SKIPPED: POSTGRES_URL|POSTGRES_URL is not set' "$out" >&2 || true
  die "PostgreSQL cases were skipped in the clone although POSTGRES_URL was set"
fi
passed="$(grep -cE -- '--- PASS: .*/postgres ' "$out" || true)"
(( passed > 0 )) || die "no PostgreSQL case ran in the clone (no passing */postgres subtest)"
log "ok: $passed PostgreSQL cases passed from a clone in a 0700 directory"
