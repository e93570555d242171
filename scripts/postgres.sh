#!/usr/bin/env bash
# Throwaway PostgreSQL cluster on loopback, for the SQL mirror's tests
# (`go test ./mirror/...` with POSTGRES_URL set) and for developers.
#
#   scripts/postgres.sh up              install Debian's postgresql if needed (as root), initdb if
#                                       needed, start, wait until it answers, create the database;
#                                       prints POSTGRES_URL=...
#   scripts/postgres.sh down [--wipe]   stop (fast shutdown); --wipe deletes the cluster's directory
#                                       (data, log and socket)
#   scripts/postgres.sh status          exit 0 if running and answering, 3 otherwise
#   scripts/postgres.sh restart [--immediate]
#                                       stop and start again on the same data (fast shutdown, or an
#                                       immediate one, which is a crash followed by recovery)
#   scripts/postgres.sh url             print the URL of this checkout's cluster if it is running
#                                       and answering; otherwise print nothing and exit 3, so
#                                       POSTGRES_URL=$(bash scripts/postgres.sh url) is empty and
#                                       the PostgreSQL tests skip
#
# One cluster per checkout, outside it. As root the server runs as the
# `postgres` OS user, which cannot enter a private checkout (root's home and
# every `mktemp -d` are 0700), so the cluster's directory is
# /var/tmp/invsync-postgres-<hash> (/tmp when /var/tmp is not writable), where
# <hash> is the first 12 hex digits of the SHA-256 of the checkout's absolute
# path. It is owned by the server's user with mode 0700 and holds data/,
# postgres.log and sock/ (the Unix socket). $TMPDIR is not used: it is often a
# private directory the `postgres` user cannot reach.
#
# Ports: two checkouts on one machine may run their tests at once, so each
# gets its own default port, 20000 + (<hash> mod 10000), below Linux's
# ephemeral range. POSTGRES_PORT overrides it (and is the answer when another
# program holds the derived port); a cluster keeps the port it was last
# started on until `up` is given another. `url` and `status` report the port
# the running cluster actually listens on.
#
# Environment:
#   POSTGRES_PORT           TCP port on 127.0.0.1 (default derived from the checkout's path, above)
#   POSTGRES_DB             database created by `up` (default invsync_test)
#   POSTGRES_STATE_DIR      the cluster's directory (default /var/tmp/invsync-postgres-<hash>);
#                           the `postgres` user must be able to reach it when run as root
#   POSTGRES_DATA_DIR       data directory (default $POSTGRES_STATE_DIR/data)
#   POSTGRES_START_TIMEOUT  seconds to wait for readiness (default 60)
#
# The cluster trusts every connection from loopback (no password) and listens
# on 127.0.0.1 only; it is for tests, never for data anyone keeps.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
source "$SCRIPT_DIR/lib.sh"
REPO_HASH="$(printf '%s' "$REPO_DIR" | sha256sum | cut -c1-12)"

default_state_dir() {
  local base=/var/tmp
  [[ -d "$base" && -w "$base" ]] || base=/tmp
  echo "$base/invsync-postgres-$REPO_HASH"
}

STATE_DIR="${POSTGRES_STATE_DIR:-$(default_state_dir)}"
DATA_DIR="${POSTGRES_DATA_DIR:-$STATE_DIR/data}"
LOG_FILE="$STATE_DIR/postgres.log"
SOCKET_DIR="$STATE_DIR/sock"

HOST=127.0.0.1
PORT="${POSTGRES_PORT:-$((20000 + 16#${REPO_HASH:0:8} % 10000))}"
DB="${POSTGRES_DB:-invsync_test}"
START_TIMEOUT="${POSTGRES_START_TIMEOUT:-60}"

[[ "$PORT" =~ ^[0-9]+$ ]] && (( PORT > 0 && PORT < 65536 )) || die "POSTGRES_PORT=$PORT is not a TCP port number"
[[ "$DB" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "POSTGRES_DB=$DB: use letters, digits and '_' only"
[[ "$STATE_DIR" == /* ]] || die "POSTGRES_STATE_DIR=$STATE_DIR: give an absolute path"
[[ "$DATA_DIR" == /* ]] || die "POSTGRES_DATA_DIR=$DATA_DIR: give an absolute path"

is_root() { [[ "$(id -u)" == 0 ]]; }

# The OS user the server runs as, and so the owner of its directories.
owner() {
  if is_root; then echo postgres; else id -un; fi
}

url() { echo "postgres://postgres@$HOST:$PORT/$DB?sslmode=disable"; }

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
  while IFS= read -r p; do
    if [[ -x "$p/initdb" && -x "$p/pg_ctl" ]]; then
      PG_BIN="$p"
      return 0
    fi
  done < <(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r)
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
  # Runs a program as the cluster's owner; as root from /, since the
  # postgres user may not be able to enter the current directory.
  if is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

psql_run() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PORT" -U postgres "$@"
}

# ---------------------------------------------------------------- helpers

running() {
  [[ -f "$DATA_DIR/postmaster.pid" ]] || return 1
  as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1
}

use_configured_port() {
  # Without POSTGRES_PORT, a cluster keeps the port it was last started on
  # (so `restart` after `POSTGRES_PORT=... up` does not move it).
  [[ -z "${POSTGRES_PORT:-}" ]] || return 0
  local p
  p="$(sed -n 's/^port = \([0-9][0-9]*\)$/\1/p' "$DATA_DIR/invsync.conf" 2>/dev/null || true)"
  [[ "$p" =~ ^[0-9]+$ ]] && PORT="$p"
  return 0
}

use_running_port() {
  # The running cluster's port (line 4 of postmaster.pid), which is the one
  # to report even if POSTGRES_PORT now says otherwise.
  local p
  p="$(sed -n 4p "$DATA_DIR/postmaster.pid" 2>/dev/null || true)"
  [[ "$p" =~ ^[0-9]+$ ]] && PORT="$p"
  return 0
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
  # A full disk is the usual reason a fresh cluster fails: say so.
  local free
  free="$(df -Pk -- "$DATA_DIR" 2>/dev/null | awk 'NR == 2 { print int($4 / 1024) }')"
  if [[ "$free" =~ ^[0-9]+$ ]] && (( free < 200 )); then
    log "only ${free} MB free where $DATA_DIR is: free some space or set POSTGRES_STATE_DIR to another filesystem"
  fi
  return 0
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

# own_dir DIR: DIR exists (created when missing), is a real directory owned by
# the server's user, mode 0700, and that user can reach it. Shared parents
# such as /var/tmp are writable by everyone, so a directory someone else made
# (or a symlink) is refused rather than used.
own_dir() {
  local d="$1" who
  who="$(owner)"
  [[ -L "$d" ]] && die "$d is a symlink, not a directory: remove it or set POSTGRES_STATE_DIR/POSTGRES_DATA_DIR"
  if [[ ! -e "$d" ]]; then
    mkdir -p -- "$(dirname -- "$d")" ||
      die "cannot create $(dirname -- "$d"): set POSTGRES_STATE_DIR to a writable directory the '$who' user can reach"
    mkdir -m 700 -- "$d" ||
      die "cannot create $d: set POSTGRES_STATE_DIR to a writable directory the '$who' user can reach"
    is_root && chown postgres:postgres -- "$d"
  fi
  [[ -d "$d" ]] || die "$d exists and is not a directory: remove it or set POSTGRES_STATE_DIR"
  local have
  have="$(stat -c %U -- "$d")"
  [[ "$have" == "$who" ]] ||
    die "$d belongs to '$have', not '$who' (the server's user): remove it (bash scripts/postgres.sh down --wipe as its owner) or set POSTGRES_STATE_DIR"
  chmod 700 -- "$d"
  as_pg test -x "$d" -a -w "$d" ||
    die "the '$who' OS user cannot reach $d (a parent directory is not searchable): set POSTGRES_STATE_DIR (and POSTGRES_DATA_DIR) to a directory it can reach, e.g. under /var/tmp"
}

prepare_dirs() {
  own_dir "$STATE_DIR"
  own_dir "$SOCKET_DIR"
  own_dir "$DATA_DIR"
  [[ -e "$LOG_FILE" ]] || as_pg touch -- "$LOG_FILE" || die "cannot create $LOG_FILE"
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
  # only; the Unix socket lives in the cluster's directory, not /var/run.
  local conf="$DATA_DIR/invsync.conf" sock="${SOCKET_DIR//\'/\'\'}"
  as_pg tee -- "$conf" >/dev/null <<EOF
# Generated by scripts/postgres.sh; rewritten on every 'up'.
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = '$sock'
max_connections = 100
shared_buffers = 128MB
log_min_messages = warning
log_connections = off
EOF
  grep -q "^include_if_exists = 'invsync.conf'" "$DATA_DIR/postgresql.conf" ||
    echo "include_if_exists = 'invsync.conf'" | as_pg tee -a -- "$DATA_DIR/postgresql.conf" >/dev/null
  as_pg tee -- "$DATA_DIR/pg_hba.conf" >/dev/null <<EOF
# Generated by scripts/postgres.sh: trust on loopback only.
local all all trust
host  all all 127.0.0.1/32 trust
EOF
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
    use_running_port
    log "already running ($DATA_DIR, port $PORT); checking it answers"
    wait_ready
    ensure_db
    echo "POSTGRES_URL=$(url)"
    return 0
  fi
  use_configured_port
  if port_open "$HOST" "$PORT"; then
    die "port $HOST:$PORT is in use by another process (not this checkout's cluster); stop it or set POSTGRES_PORT to a free port"
  fi
  prepare_dirs
  init_cluster
  write_conf
  local start=$SECONDS
  start_server
  wait_ready
  ensure_db
  log "ready after $((SECONDS - start))s (data: $DATA_DIR, log: $LOG_FILE)"
  echo "POSTGRES_URL=$(url)"
}

wipe_dir() {
  # Deletes one of the cluster's directories. A symlink or a directory of
  # another owner is refused: /var/tmp is writable by everyone.
  local d="$1" who have
  [[ -L "$d" ]] && die "refusing to wipe $d: it is a symlink (remove it by hand if it is yours)"
  [[ -d "$d" ]] || return 0
  who="$(owner)"
  have="$(stat -c %U -- "$d")"
  [[ "$have" == "$who" ]] || die "refusing to wipe $d: it belongs to '$have', not '$who' (the server's user)"
  d="$(cd "$d" && pwd -P)"
  case "$d" in
    / | "$HOME" | "$REPO_DIR" | /root | /home | /tmp | /var/tmp | /work | /var | /usr | /etc)
      die "refusing to wipe $d" ;;
  esac
  log "wiping $d"
  rm -rf -- "$d"
}

do_down() {
  local wipe
  wipe="$(down_wipe "$@")"
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
    [[ -e "$DATA_DIR" || -e "$STATE_DIR" ]] || { log "nothing to wipe"; return 0; }
    wipe_dir "$DATA_DIR"
    wipe_dir "$STATE_DIR"
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
  if running; then
    use_running_port
    if answers; then
      echo "running: $HOST:$PORT (data: $DATA_DIR, log: $LOG_FILE)"
      echo "POSTGRES_URL=$(url)"
      return 0
    fi
    echo "starting or unhealthy: not answering on $HOST:$PORT (log: $LOG_FILE)"
  else
    use_configured_port
    echo "not running ($PG_BIN; data: $DATA_DIR, port $PORT)"
  fi
  return 3
}

do_url() {
  if find_bin && running; then
    use_running_port
    if answers; then
      url
      return 0
    fi
    log "this checkout's PostgreSQL ($DATA_DIR) is not answering on $HOST:$PORT (log: $LOG_FILE): no URL"
    return 3
  fi
  log "this checkout's PostgreSQL is not running ($DATA_DIR): no URL; start it with: bash scripts/postgres.sh up"
  return 3
}

run_command "up down restart status url" "$@"
