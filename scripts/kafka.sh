#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, combined broker+controller) on loopback,
# run straight from the jars on Maven Central. Used by `make test-kafka` / CI
# and by developers.
#
#   scripts/kafka.sh fetch            download the pinned Kafka jars (cached)
#   scripts/kafka.sh up               fetch if needed, format if needed, start, wait until ready
#   scripts/kafka.sh down [--wipe]    stop (SIGTERM, then SIGKILL after 30 s); --wipe deletes the data dir
#   scripts/kafka.sh status           exit 0 if running and answering, 3 otherwise
#   scripts/kafka.sh kill9            SIGKILL the broker (a crash, for chaos tests); `up` restarts it
#   scripts/kafka.sh tool CLASS ARGS  run a Kafka main class (e.g. org.apache.kafka.tools.TopicCommand)
#                                     with the broker's classpath
#
# Environment:
#   KAFKA_VERSION           pinned below; 4.x only
#   KAFKA_CACHE_DIR         jar cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/invsync/kafka-<version>;
#                           <repo>/.kafka/cache-<version> when the home directory is not writable)
#   KAFKA_PORT              PLAINTEXT listener port (default 39092)
#   KAFKA_CONTROLLER_PORT   CONTROLLER listener port (default 39093)
#   KAFKA_STATE_DIR         pid file, log, generated configuration (default <repo>/.kafka)
#   KAFKA_DATA_DIR          log.dirs (default $KAFKA_STATE_DIR/data)
#   KAFKA_START_TIMEOUT     seconds to wait for readiness (default 60)
#   KAFKA_HEAP_OPTS         default "-Xms256m -Xmx768m"
#
# The broker runs as the calling user, so its files stay in the checkout; only
# the jars are shared between checkouts. A cache that is already fetched may
# be read-only. $TMPDIR is not used (the JVM keeps to java.io.tmpdir, /tmp).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$SCRIPT_DIR/lib.sh"
ensure_home

KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
# log4j2 SLF4J 1.x binding: Kafka 4.1.1 uses slf4j-api 1.7.36 + log4j 2.24.3 but
# does not declare the binding in its POMs (the binary distribution ships it).
LOG4J_VERSION="${LOG4J_VERSION:-2.24.3}"
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

service_files "${KAFKA_STATE_DIR:-$REPO_DIR/.kafka}" kafka
PROPS_FILE="$STATE_DIR/server.properties"
CLIENT_PROPS_FILE="$STATE_DIR/client.properties"
LOG4J_CONF="$STATE_DIR/log4j2.properties"

default_cache_dir() {
  # The user's cache when it is (or can be made) writable; the checkout's
  # state directory otherwise (a read-only or missing home directory). A
  # missing home directory is never created.
  local base="${XDG_CACHE_HOME:-$HOME/.cache}" d
  d="$base/invsync/kafka-$KAFKA_VERSION"
  if [[ -f "$d/.fetched-$KAFKA_VERSION" ]]; then
    echo "$d"
    return
  fi
  local p="$d"
  while [[ ! -e "$p" ]]; do p="$(dirname -- "$p")"; done
  if [[ -d "$HOME" && -d "$p" && -w "$p" ]]; then
    echo "$d"
  else
    echo "$STATE_DIR/cache-$KAFKA_VERSION"
  fi
}

CACHE_DIR="${KAFKA_CACHE_DIR:-$(default_cache_dir)}"
LIB_DIR="$CACHE_DIR/libs"
READY_MARKER="$CACHE_DIR/.fetched-$KAFKA_VERSION"

HOST=127.0.0.1
PORT="${KAFKA_PORT:-39092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-39093}"
DATA_DIR="${KAFKA_DATA_DIR:-$STATE_DIR/data}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
BROKERS="$HOST:$PORT"

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH ($2)"
}

# make_dir DIR WHAT HINT: mkdir -p with an error that says what to do.
make_dir() {
  mkdir -p -- "$1" 2>/dev/null && [[ -w "$1" ]] ||
    die "cannot create or write $2 $1; $3"
}

state_dir() {
  make_dir "$STATE_DIR" "the state directory" "set KAFKA_STATE_DIR to a writable directory"
}

# A value for a Java properties file: backslashes escaped.
prop_value() { printf '%s' "${1//\\/\\\\}"; }

case "$KAFKA_VERSION" in
  4.*) ;;
  *) die "KAFKA_VERSION=$KAFKA_VERSION: only Kafka 4.x (KRaft-only) is supported" ;;
esac

# ---------------------------------------------------------------- fetch

java_run() {
  # java_run MAIN ARGS... : run a Kafka main class with the cached classpath.
  local main="$1"; shift
  java -Xms64m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$LOG4J_CONF" \
    -cp "$LIB_DIR/*" "$main" "$@"
}

write_log4j_conf() {
  # WARN and above to stderr (the broker's stderr goes to .kafka/kafka.log),
  # plus the one INFO line that says the server finished starting. Kept in
  # the state directory, so a shared jar cache may be read-only.
  state_dir
  local tmp="$LOG4J_CONF.tmp.$$"
  cat > "$tmp" <<'EOF'
status = warn
name = invsync-kafka
shutdownHook = disable
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = STDERR
logger.raftserver.name = kafka.server.KafkaRaftServer
logger.raftserver.level = info
EOF
  mv -f "$tmp" "$LOG4J_CONF"
}

fetched() {
  [[ -f "$READY_MARKER" && -f "$LIB_DIR/kafka_2.13-$KAFKA_VERSION.jar" ]]
}

fetch_jars_locked() {
  if fetched; then
    return 0
  fi
  need mvn "Maven is needed to fetch Kafka from Maven Central; e.g. apt-get install -y maven"
  need java "Java 17+ is needed to run Kafka; e.g. apt-get install -y openjdk-17-jre-headless"
  log "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION and runtime dependencies into $CACHE_DIR"
  local work="$CACHE_DIR/fetch"
  rm -rf "$work" "$LIB_DIR.tmp"
  mkdir -p "$work"
  # Maven keeps its repository in ~/.m2 of the passwd entry (not $HOME); when
  # that is not writable, use one in the work directory, deleted afterwards.
  local m2=() pwhome
  pwhome="$(getent passwd "$(id -u)" | cut -d: -f6)"
  if ! { mkdir -p -- "$pwhome/.m2/repository" 2>/dev/null && [[ -w "$pwhome/.m2/repository" ]]; }; then
    log "$pwhome/.m2 is not writable: Maven's repository goes to $work/m2 for this fetch"
    m2=("-Dmaven.repo.local=$work/m2")
  fi
  cat > "$work/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.invsync</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <!-- broker: main class kafka.Kafka, kafka.tools.StorageTool -->
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <!-- CLI tools: TopicCommand, ConsoleProducer, ConsoleConsumer (Connect left out) -->
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
      <exclusions>
        <exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  local attempt ok=0
  for attempt in 1 2 3; do
    if mvn -B -q -Dstyle.color=never -f "$work/pom.xml" "${m2[@]}" \
        -Dmaven.wagon.http.retryHandler.count=3 \
        "$DEPENDENCY_PLUGIN:copy-dependencies" \
        -DincludeScope=runtime -DoutputDirectory="$LIB_DIR.tmp" \
        >"$work/mvn.log" 2>&1; then
      ok=1
      break
    fi
    log "mvn attempt $attempt failed; last lines:"
    tail -n 20 "$work/mvn.log" >&2 || true
    [[ $attempt == 3 ]] || sleep $((attempt * 5))
  done
  [[ $ok == 1 ]] || die "could not fetch Kafka $KAFKA_VERSION from Maven Central (see $work/mvn.log)"

  rm -rf "$LIB_DIR" "$work/m2"
  mv "$LIB_DIR.tmp" "$LIB_DIR"
  write_log4j_conf

  # Verify the classpath really runs the broker's main class.
  local out
  if ! out="$(java_run kafka.Kafka --version 2>&1)"; then
    echo "$out" >&2
    die "kafka.Kafka --version failed with the fetched classpath"
  fi
  [[ "$out" == *"$KAFKA_VERSION"* ]] || { echo "$out" >&2; die "kafka.Kafka --version did not report $KAFKA_VERSION"; }
  echo "$KAFKA_VERSION" > "$READY_MARKER"
  log "fetched $(find "$LIB_DIR" -name "*.jar" | wc -l) jars ($(du -sh "$LIB_DIR" | cut -f1)); kafka.Kafka --version: $(echo "$out" | head -n1)"
}

fetch_jars() {
  write_log4j_conf # cheap; keeps the config in step with this script
  if fetched; then
    return 0
  fi
  make_dir "$CACHE_DIR" "the jar cache" "set KAFKA_CACHE_DIR to a writable directory (about 50 MB)"
  if command -v flock >/dev/null 2>&1; then
    (
      flock 9
      fetch_jars_locked
    ) 9>"$CACHE_DIR/.lock"
  else
    fetch_jars_locked
  fi
}

# ---------------------------------------------------------------- helpers

running_pid() {
  # Prints the broker pid if the pid file points at a live Kafka broker.
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  echo "$pid"
}

write_client_props() {
  state_dir
  cat > "$CLIENT_PROPS_FILE" <<EOF
request.timeout.ms=5000
default.api.timeout.ms=10000
EOF
}

broker_answers() {
  # A real protocol round trip: list topics through the Admin client.
  write_client_props
  timeout 30 java -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$LOG4J_CONF" -cp "$LIB_DIR/*" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKERS" \
    --command-config "$CLIENT_PROPS_FILE" --list >/dev/null 2>&1
}

log_tail() {
  if [[ -f "$LOG_FILE" ]]; then
    echo "----- last 50 lines of $LOG_FILE -----" >&2
    tail -n 50 "$LOG_FILE" >&2
    echo "----- end of log -----" >&2
  fi
}

random_cluster_id() {
  # Kafka cluster ids are 16 random bytes, base64url without padding (22 chars).
  head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

write_server_props() {
  state_dir
  cat > "$PROPS_FILE" <<EOF
# Generated by scripts/kafka.sh; rewritten on every 'up'.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$(prop_value "$DATA_DIR")
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
# A transaction whose first produce arrives while the producer's previous
# transaction is still writing its commit markers is retried by the broker
# after this many ms (Kafka's default 20, which invsync's back-to-back
# transactions hit under load; README "Running against a real Kafka cluster").
add.partitions.to.txn.retry.backoff.ms=1
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=67108864
delete.topic.enable=true
EOF
}

# ---------------------------------------------------------------- up

wait_ready() {
  # wait_ready PID : until the broker answers, the process dies, or the timeout.
  local pid="$1" deadline=$((SECONDS + START_TIMEOUT))
  while (( SECONDS < deadline )); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail
      die "Kafka broker (pid $pid) exited during startup; see $LOG_FILE"
    fi
    if port_open "$HOST" "$PORT" && broker_answers; then
      return 0
    fi
    sleep 1
  done
  log_tail
  die "Kafka broker (pid $pid) did not answer on $BROKERS within ${START_TIMEOUT}s"
}

do_up() {
  state_dir
  local pid
  if pid="$(running_pid)"; then
    fetch_jars
    log "already running (pid $pid); checking it answers"
    wait_ready "$pid"
    echo "KAFKA_BROKERS=$BROKERS"
    return 0
  fi
  rm -f "$PID_FILE"

  need java "Java 17+ is needed to run Kafka; e.g. apt-get install -y openjdk-17-jre-headless"
  fetch_jars

  local p
  for p in "$PORT" "$CONTROLLER_PORT"; do
    if port_open "$HOST" "$p"; then
      die "port $HOST:$p is already in use by another process (not a broker started by this script); stop it or set KAFKA_PORT/KAFKA_CONTROLLER_PORT"
    fi
  done

  write_server_props
  make_dir "$DATA_DIR" "the data directory" "set KAFKA_DATA_DIR to a writable directory"
  if [[ ! -f "$DATA_DIR/meta.properties" ]]; then
    local cid out
    cid="$(random_cluster_id)"
    log "formatting $DATA_DIR (cluster id $cid)"
    if ! out="$(java_run kafka.tools.StorageTool format -t "$cid" -c "$PROPS_FILE" 2>&1)"; then
      echo "$out" >&2
      die "formatting the KRaft storage in $DATA_DIR failed"
    fi
  fi

  {
    echo
    echo "===== $(date -u +%Y-%m-%dT%H:%M:%SZ) starting Kafka $KAFKA_VERSION on $BROKERS ====="
  } >> "$LOG_FILE"
  # shellcheck disable=SC2086 # HEAP_OPTS is a list of JVM flags
  nohup java $HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true \
    -Dlog4j2.configurationFile="$LOG4J_CONF" \
    -cp "$LIB_DIR/*" kafka.Kafka "$PROPS_FILE" \
    </dev/null >>"$LOG_FILE" 2>&1 &
  pid=$!
  echo "$pid" > "$PID_FILE"
  log "started broker pid $pid (log: $LOG_FILE); waiting up to ${START_TIMEOUT}s for $BROKERS"

  local start=$SECONDS
  if ! ( wait_ready "$pid" ); then
    kill -TERM "$pid" 2>/dev/null || true
    sleep 2
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    exit 1
  fi
  log "ready after $((SECONDS - start))s"
  echo "KAFKA_BROKERS=$BROKERS"
}

# ---------------------------------------------------------------- down

safe_to_wipe() {
  local d
  d="$(cd "$1" 2>/dev/null && pwd -P)" || return 0
  case "$d" in
    / | "$HOME" | "$REPO_DIR" | /root | /home | /tmp | /work) return 1 ;;
  esac
}

do_down() {
  local wipe
  wipe="$(down_wipe "$@")"
  local pid
  if pid="$(running_pid)"; then
    log "stopping broker pid $pid (SIGTERM)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "broker did not stop within 30s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
    fi
    log "stopped"
  else
    log "not running"
  fi
  rm -f "$PID_FILE"
  if [[ $wipe == 1 ]]; then
    safe_to_wipe "$DATA_DIR" || die "refusing to wipe $DATA_DIR"
    log "wiping $DATA_DIR"
    rm -rf "$DATA_DIR"
  fi
}

# kill9: SIGKILL the broker at once, as a crash would (for chaos tests);
# `up` restarts it on the same data.
do_kill9() {
  local pid
  if pid="$(running_pid)"; then
    log "killing broker pid $pid (SIGKILL)"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  else
    log "not running"
  fi
  rm -f "$PID_FILE"
}

# ---------------------------------------------------------------- status

do_status() {
  local pid
  if pid="$(running_pid)"; then
    if port_open "$HOST" "$PORT"; then
      echo "running: pid $pid, listening on $BROKERS (data: $DATA_DIR, log: $LOG_FILE)"
      echo "KAFKA_BROKERS=$BROKERS"
      return 0
    fi
    echo "starting or unhealthy: pid $pid, $BROKERS not accepting connections (log: $LOG_FILE)"
    return 3
  fi
  echo "not running (Kafka $KAFKA_VERSION; cache: $CACHE_DIR$(fetched && echo ', fetched' || echo ', not fetched'))"
  return 3
}

# ---------------------------------------------------------------- main

do_fetch() {
  fetch_jars
  log "Kafka $KAFKA_VERSION available in $LIB_DIR"
}

do_tool() {
  [[ $# -ge 1 ]] || die "usage: kafka.sh tool MAIN_CLASS [ARGS...]"
  fetch_jars
  java_run "$@"
}

run_command "fetch up down kill9 status tool" "$@"
