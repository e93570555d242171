#!/usr/bin/env bash
# Headless Chromium for the scanner web app's browser tests (web/, web/browsertest).
#
#   scripts/chromium.sh ensure   install Debian's chromium when it is missing (root only;
#                                prints what to do otherwise), then print the binary's path
#   scripts/chromium.sh path     print the binary's path; exit 3 when none is found
#   scripts/chromium.sh version  print the browser's version
#   scripts/chromium.sh flags    print the flags the tests start Chromium with
#
# The machines that run these tests have no network beyond loopback and the
# package registries: Chromium must run with the flags printed by `flags`
# and a fresh --user-data-dir, or it stalls trying to reach Google's services.
#
# Environment:
#   CHROMIUM_BIN   a browser binary to use instead of searching for one
set -euo pipefail

FLAGS=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync)

find_chromium() {
  if [[ -n "${CHROMIUM_BIN:-}" ]]; then
    if [[ -x "$CHROMIUM_BIN" ]]; then
      echo "$CHROMIUM_BIN"
      return 0
    fi
    echo "chromium.sh: CHROMIUM_BIN=$CHROMIUM_BIN is not an executable file" >&2
    return 3
  fi
  local c
  for c in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome /usr/bin/google-chrome-stable; do
    if [[ -x "$c" ]]; then
      echo "$c"
      return 0
    fi
  done
  return 3
}

cmd="${1:-}"
case "$cmd" in
  ensure)
    if [[ -x /usr/bin/chromium ]]; then
      echo /usr/bin/chromium
      exit 0
    fi
    if [[ "$(id -u)" -ne 0 ]]; then
      echo "chromium.sh: /usr/bin/chromium is missing and this is not root." >&2
      echo "  Install it as root:  apt-get update -q && apt-get install -y chromium" >&2
      echo "  or point CHROMIUM_BIN at a Chromium/Chrome binary." >&2
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q chromium
    if [[ ! -x /usr/bin/chromium ]]; then
      echo "chromium.sh: apt-get finished but /usr/bin/chromium is still missing" >&2
      exit 1
    fi
    echo /usr/bin/chromium
    ;;
  path)
    if ! find_chromium; then
      echo "chromium.sh: no Chromium found; run: bash scripts/chromium.sh ensure" >&2
      exit 3
    fi
    ;;
  version)
    bin="$(find_chromium)" || { echo "chromium.sh: no Chromium found" >&2; exit 3; }
    "$bin" --version
    ;;
  flags)
    printf '%s\n' "${FLAGS[@]}"
    ;;
  *)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    [[ -z "$cmd" ]] && exit 2
    echo "chromium.sh: unknown command: $cmd" >&2
    exit 2
    ;;
esac
