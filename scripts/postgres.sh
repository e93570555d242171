#!/usr/bin/env bash
# Throwaway PostgreSQL cluster on loopback, for the SQL mirror's tests
# (`go test ./mirror/...` with POSTGRES_URL set) and for developers.
#
#   scripts/postgres.sh up              install Debian's postgresql if needed (as root), initdb if
#                                       needed, start, wait until it answers, create the database;
#                                       prints POSTGRES_URL=...
#   scripts/postgres.sh down [--wipe]   stop (fast shutdown); --wipe deletes the cluster's data
#   scripts/postgres.sh status          exit 0 if running and answering, 3 otherwise
#   scripts/postgres.sh restart [--immediate]
#                                       stop and start again on the same data (fast shutdown, or an
#                                       immediate one, which is a crash followed by recovery)
#   scripts/postgres.sh url             print the URL (whether or not it is running)
#
# Environment:
#   POSTGRES_PORT           TCP port on 127.0.0.1 (default 35432)
#   POSTGRES_DB             database created by `up` (default invsync_test)
#   POSTGRES_DATA_DIR       cluster directory (default <repo>/.postgres/data)
#   POSTGRES_START_TIMEOUT  seconds to wait for readiness (default 60)
#
# The cluster trusts every connection from loopback (no password) and listens
# on 127.0.0.1 only; it is for tests, never for data anyone keeps. As root it
# runs as the `postgres` OS user, since PostgreSQL refuses to run as root.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
STATE_DIR="$REPO_DIR/.postgres"
DATA_DIR="${POSTGRES_DATA_DIR:-$STATE_DIR/data}"
LOG_FILE="$STATE_DIR/postgres.log"
SOCKET_DIR="$STATE_DIR/sock"

HOST=127.0.0.1
PORT="${POSTGRES_PORT:-35432}"
DB="${POSTGRES_DB:-invsync_test}"
START_TIMEOUT="${POSTGRES_START_TIMEOUT:-60}"
URL="postgres://postgres@$HOST:$PORT/$DB?sslmode=disable"

log() { echo "postgres.sh: $*" >&2; }
die() { echo "postgres.sh: ERROR: $*" >&2; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] || die "POSTGRES_PORT=$PORT is not a number"
[[ "$DB" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "POSTGRES_DB=$DB: use letters, digits and '_' only"

is_root() { [[ "$(id -u)" == 0 ]]; }

# ---------------------------------------------------------------- binaries

PG_BIN=""

find_bin() {
  # Sets PG_BIN to the directory holding initdb and pg_ctl: PATH first, then
  # Debian's versioned directories (newest first), which are not on PATH.
  local p
  if p="$(command -v initdb 2>/dev/null)" && [[ -x "$(dirname "$(readlink -f "$p")")/pg_ctl" ]]; then
    PG_BIN="$(dirname "$(readlink -f "$p")")"
    return 0
  fi
  for p in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
    if [[ -x "$p/initdb" && -x "$p/pg_ctl" ]]; then
      PG_BIN="$p"
      return 0
    fi
  done
  return 1
}

ensure_bin() {
  find_bin && return 0
  is_root || die "initdb/pg_ctl not found and not root: install PostgreSQL (Debian: apt-get install -y postgresql)"
  log "initdb/pg_ctl not found: installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends postgresql >&2
  find_bin || die "postgresql installed but initdb/pg_ctl still not found under /usr/lib/postgresql/*/bin"
}

as_pg() {
  # Runs a PostgreSQL server program as the cluster's owner.
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

psql_run() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PORT" -U postgres "$@"
}

# ---------------------------------------------------------------- helpers

port_open() {
  timeout 2 bash -c "</dev/tcp/$HOST/$PORT" >/dev/null 2>&1
}

running() {
  [[ -f "$DATA_DIR/postmaster.pid" ]] || return 1
  as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1
}

answers() {
  "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PORT" -U postgres -d postgres -t 2 >/dev/null 2>&1 &&
    psql_run -d postgres -tAc 'SELECT 1' >/dev/null 2>&1
}

log_tail() {
  if [[ -f "$LOG_FILE" ]]; then
    echo "----- last 40 lines of $LOG_FILE -----" >&2
    tail -n 40 "$LOG_FILE" >&2
    echo "----- end of log -----" >&2
  fi
}

wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT))
  while (( SECONDS < deadline )); do
    answers && return 0
    running || { log_tail; die "PostgreSQL exited during startup; see $LOG_FILE"; }
    sleep 0.5
  done
  log_tail
  die "PostgreSQL did not answer on $HOST:$PORT within ${START_TIMEOUT}s"
}

prepare_dirs() {
  mkdir -p "$STATE_DIR" "$SOCKET_DIR" "$DATA_DIR"
  touch "$LOG_FILE"
  if is_root; then
    chown postgres:postgres "$SOCKET_DIR" "$DATA_DIR" "$LOG_FILE"
    # The server process must reach its data directory through every parent.
    runuser -u postgres -- test -x "$DATA_DIR" ||
      die "the postgres OS user cannot reach $DATA_DIR (a parent directory is not searchable); set POSTGRES_DATA_DIR to a directory it can reach"
  fi
  chmod 700 "$DATA_DIR"
}

init_cluster() {
  [[ -f "$DATA_DIR/PG_VERSION" ]] && return 0
  log "initdb $DATA_DIR ($("$PG_BIN/initdb" --version))"
  as_pg "$PG_BIN/initdb" -D "$DATA_DIR" -U postgres -E UTF8 --locale=C \
    --auth-local=trust --auth-host=trust >>"$LOG_FILE" 2>&1 ||
    { log_tail; die "initdb failed; see $LOG_FILE"; }
}

write_conf() {
  # Rewritten on every start, so a changed port takes effect. Loopback TCP
  # only; the Unix socket lives in the state directory, not /var/run.
  local conf="$DATA_DIR/invsync.conf"
  cat > "$conf" <<EOF
# Generated by scripts/postgres.sh; rewritten on every 'up'.
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = '$SOCKET_DIR'
max_connections = 100
shared_buffers = 128MB
log_min_messages = warning
log_connections = off
EOF
  is_root && chown postgres:postgres "$conf"
  grep -q "^include_if_exists = 'invsync.conf'" "$DATA_DIR/postgresql.conf" ||
    echo "include_if_exists = 'invsync.conf'" >> "$DATA_DIR/postgresql.conf"
  cat > "$DATA_DIR/pg_hba.conf" <<EOF
# Generated by scripts/postgres.sh: trust on loopback only.
local all all trust
host  all all 127.0.0.1/32 trust
EOF
  is_root && chown postgres:postgres "$DATA_DIR/pg_hba.conf"
  return 0
}

start_server() {
  {
    echo
    echo "===== $(date -u +%Y-%m-%dT%H:%M:%SZ) starting PostgreSQL on $HOST:$PORT ====="
  } >> "$LOG_FILE"
  as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t "$START_TIMEOUT" start >/dev/null ||
    { log_tail; die "pg_ctl start failed; see $LOG_FILE"; }
}

ensure_db() {
  if [[ "$(psql_run -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]]; then
    log "creating database $DB"
    psql_run -d postgres -c "CREATE DATABASE \"$DB\"" >/dev/null
  fi
}

# ---------------------------------------------------------------- commands

do_up() {
  ensure_bin
  if running; then
    log "already running ($DATA_DIR); checking it answers"
    wait_ready
    ensure_db
    echo "POSTGRES_URL=$URL"
    return 0
  fi
  if port_open; then
    die "port $HOST:$PORT is in use by another process (not this cluster); stop it or set POSTGRES_PORT"
  fi
  prepare_dirs
  init_cluster
  write_conf
  local start=$SECONDS
  start_server
  wait_ready
  ensure_db
  log "ready after $((SECONDS - start))s (data: $DATA_DIR, log: $LOG_FILE)"
  echo "POSTGRES_URL=$URL"
}

do_down() {
  local wipe=0 arg
  for arg in "$@"; do
    case "$arg" in
      --wipe) wipe=1 ;;
      *) die "down: unknown argument '$arg' (only --wipe)" ;;
    esac
  done
  find_bin || true
  if [[ -n "$PG_BIN" ]] && running; then
    log "stopping (fast shutdown)"
    as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m fast -w -t 60 stop >/dev/null ||
      die "pg_ctl stop failed; see $LOG_FILE"
    log "stopped"
  else
    log "not running"
  fi
  if [[ $wipe == 1 ]]; then
    local d
    d="$(cd "$DATA_DIR" 2>/dev/null && pwd -P)" || { log "nothing to wipe"; return 0; }
    case "$d" in
      / | "$HOME" | "$REPO_DIR" | /root | /home | /tmp | /work) die "refusing to wipe $d" ;;
    esac
    log "wiping $d"
    rm -rf "$d"
  fi
}

do_restart() {
  local mode=fast arg
  for arg in "$@"; do
    case "$arg" in
      --immediate) mode=immediate ;;
      *) die "restart: unknown argument '$arg' (only --immediate)" ;;
    esac
  done
  ensure_bin
  if running; then
    log "stopping ($mode shutdown)"
    as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m "$mode" -w -t 60 stop >/dev/null ||
      die "pg_ctl stop failed; see $LOG_FILE"
  fi
  do_up
}

do_status() {
  if ! find_bin; then
    echo "not installed (no initdb/pg_ctl on PATH or under /usr/lib/postgresql)"
    return 3
  fi
  if running && answers; then
    echo "running: $HOST:$PORT (data: $DATA_DIR, log: $LOG_FILE)"
    echo "POSTGRES_URL=$URL"
    return 0
  fi
  if running; then
    echo "starting or unhealthy: not answering on $HOST:$PORT (log: $LOG_FILE)"
  else
    echo "not running ($PG_BIN; data: $DATA_DIR)"
  fi
  return 3
}

usage() {
  sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
  up) do_up ;;
  down) do_down "$@" ;;
  restart) do_restart "$@" ;;
  status) do_status ;;
  url) echo "$URL" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
