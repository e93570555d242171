#!/usr/bin/env bash
# promtool (Debian's `prometheus` package) for the alert rules' checks.
#
#   scripts/promtool.sh ensure   install Debian's prometheus when promtool is missing
#                                (root only; prints what to do otherwise), then print its path
#   scripts/promtool.sh check    promtool check rules + test rules on deploy/prometheus
#
# Environment:
#   PROMTOOL_BIN   a promtool binary to use instead of the one on PATH
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"

find_promtool() {
  if [[ -n "${PROMTOOL_BIN:-}" ]]; then
    [[ -x "$PROMTOOL_BIN" ]] && { echo "$PROMTOOL_BIN"; return 0; }
    echo "promtool.sh: PROMTOOL_BIN=$PROMTOOL_BIN is not an executable file" >&2
    return 3
  fi
  command -v promtool 2>/dev/null || return 3
}

ensure() {
  if find_promtool >/dev/null 2>&1; then
    find_promtool
    return 0
  fi
  if [[ "$(id -u)" != 0 ]]; then
    echo "promtool.sh: promtool is missing; install Debian's prometheus package (sudo apt-get install -y prometheus)" >&2
    return 3
  fi
  echo "promtool.sh: installing Debian's prometheus package for promtool" >&2
  apt-get update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null
  # The package starts a Prometheus service where an init system runs;
  # only its promtool is wanted here.
  find_promtool
}

case "${1:-}" in
  ensure) ensure ;;
  check)
    bin="$(ensure)"
    cd "$REPO_DIR/deploy/prometheus"
    "$bin" check rules alerts.yml
    "$bin" test rules alerts_test.yml
    ;;
  *) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
