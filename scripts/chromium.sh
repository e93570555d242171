#!/usr/bin/env bash
# Headless Chromium for the scanner web app's browser tests (web/, web/browsertest).
#
#   scripts/chromium.sh ensure   install Debian's chromium when no browser is found (root only;
#                                prints what to do otherwise), check that it starts here, then
#                                print the binary's path
#   scripts/chromium.sh check    start the browser as the tests do (headless, a fresh profile
#                                under $TMPDIR) and load a page; say what to fix when it cannot
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
#   TMPDIR         where the tests (and `check`) put the browser's profile; Chromium
#                  also puts its singleton socket there, so it must be writable
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
  if c="$(command -v chromium 2>/dev/null)"; then
    echo "$c"
    return 0
  fi
  return 3
}

# check BIN: start the browser headless the way web/browsertest does and
# load a page. Exit 1 with what to do when it cannot.
check() {
  local bin="$1" tmp out rc=0
  local tmpdir="${TMPDIR:-/tmp}"
  if ! tmp="$(mktemp -d 2>/dev/null)"; then
    echo "chromium.sh: cannot create a profile directory in TMPDIR=$tmpdir (not writable, full or missing);" >&2
    echo "  the browser tests need one: point TMPDIR at a writable directory with some free space." >&2
    return 1
  fi
  # A missing home directory is not created as a side effect of the check.
  local home="$HOME"
  [[ -d "${HOME:-}" ]] || home="$tmp"
  out="$(HOME="$home" timeout 60 "$bin" "${FLAGS[@]}" --user-data-dir="$tmp/profile" \
    --dump-dom 'data:text/html,<p id=ok>chromium-ok</p>' 2>"$tmp/stderr")" || rc=$?
  if [[ $rc == 0 && "$out" == *chromium-ok* ]]; then
    rm -rf -- "$tmp"
    return 0
  fi
  echo "chromium.sh: $bin did not start and load a page (exit $rc)." >&2
  if grep -q 'Failed to create socket directory' "$tmp/stderr"; then
    echo "  It could not create its socket directory in TMPDIR=$tmpdir: point TMPDIR at a writable directory." >&2
  elif [[ $rc == 124 ]]; then
    echo "  It did not finish within 60 s." >&2
  fi
  echo "  Last lines of its output:" >&2
  grep -v 'dbus' "$tmp/stderr" | tail -n 15 | sed 's/^/    /' >&2
  rm -rf -- "$tmp"
  return 1
}

cmd="${1:-}"
case "$cmd" in
  ensure)
    if ! bin="$(find_chromium)"; then
      [[ -z "${CHROMIUM_BIN:-}" ]] || exit 1 # find_chromium said why
      if [[ "$(id -u)" -ne 0 ]]; then
        echo "chromium.sh: no Chromium found and this is not root." >&2
        echo "  Install it as root:  apt-get update -q && apt-get install -y chromium" >&2
        echo "  or point CHROMIUM_BIN at a Chromium/Chrome binary." >&2
        exit 1
      fi
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q >&2
      apt-get install -y -q chromium >&2
      if [[ ! -x /usr/bin/chromium ]]; then
        echo "chromium.sh: apt-get finished but /usr/bin/chromium is still missing" >&2
        exit 1
      fi
      bin=/usr/bin/chromium
    fi
    check "$bin" || exit 1
    echo "$bin"
    ;;
  check)
    bin="$(find_chromium)" || { echo "chromium.sh: no Chromium found; run: bash scripts/chromium.sh ensure" >&2; exit 3; }
    check "$bin"
    echo "chromium.sh: $bin starts and loads a page" >&2
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
  -h | --help | help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    [[ -z "$cmd" ]] && exit 2
    echo "chromium.sh: unknown command: $cmd" >&2
    exit 2
    ;;
esac
