# Shell helpers shared by scripts/kafka.sh, scripts/jaeger.sh,
# scripts/postgres.sh and scripts/bench-tracing.sh, which source this file after
# `set -euo pipefail`. Messages carry the name of the script that sourced it.

SCRIPT_FILE="${BASH_SOURCE[1]}"
SCRIPT_NAME="$(basename -- "$SCRIPT_FILE")"
# REPO_DIR is the checkout the script belongs to (the scripts live in its
# scripts/ folder).
REPO_DIR="$(cd "$(dirname -- "$SCRIPT_FILE")/.." && pwd -P)"

# service_files DIR NAME: STATE_DIR is DIR, with the service NAME's
# PID_FILE and LOG_FILE in it.
service_files() {
  STATE_DIR="$1"
  PID_FILE="$STATE_DIR/$2.pid"
  LOG_FILE="$STATE_DIR/$2.log"
}

log() { echo "$SCRIPT_NAME: $*" >&2; }
die() { echo "$SCRIPT_NAME: ERROR: $*" >&2; exit 1; }

# ensure_home sets HOME from the password database when it is unset or
# empty (as under some service managers), since the caches live below it.
ensure_home() {
  if [[ -z "${HOME:-}" ]]; then
    HOME="$(getent passwd "$(id -u)" | cut -d: -f6)"
    export HOME
  fi
}

# port_open HOST PORT: whether a TCP connection to HOST:PORT is accepted
# within 2 seconds.
port_open() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" >/dev/null 2>&1
}

# down_wipe ARGS...: the arguments of `down [--wipe]`: prints 1 when
# --wipe is given, 0 when nothing is; dies on any other argument.
down_wipe() {
  local wipe=0 arg
  for arg in "$@"; do
    case "$arg" in
      --wipe) wipe=1 ;;
      *) die "down: unknown argument '$arg' (only --wipe)" ;;
    esac
  done
  echo "$wipe"
}

# usage prints the script's header comment: its lines from the second to
# the `set -euo pipefail` line, without the comment marks.
usage() {
  sed -n '2,/^set -euo/p' "$SCRIPT_FILE" | sed '$d' | sed 's/^# \{0,1\}//'
}

# run_command COMMANDS ARGS...: runs do_NAME with the rest of ARGS when the
# first of ARGS is a NAME in the space-separated list COMMANDS; prints the
# usage for -h, --help and help; prints it on stderr and exits 2 for
# anything else, no command included.
run_command() {
  local commands=" $1 " cmd="${2:-}"
  shift
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    -h | --help | help) usage ;;
    *)
      if [[ "$cmd" =~ ^[a-z0-9]+$ && "$commands" == *" $cmd "* ]]; then
        "do_$cmd" "$@"
      else
        usage >&2
        exit 2
      fi
      ;;
  esac
}
