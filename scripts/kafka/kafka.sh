#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, combined broker+controller) for tests and local runs,
# from Maven Central jars: no Docker, no tarball. See docs/kafka.md.
#
#   bash scripts/kafka/kafka.sh start    resolve jars (first time), format storage (first time), start, wait for metadata
#   bash scripts/kafka/kafka.sh stop     SIGTERM, wait for a clean shutdown
#   bash scripts/kafka/kafka.sh status   exit 0 when running, 3 when not
#   bash scripts/kafka/kafka.sh restart
#   bash scripts/kafka/kafka.sh smoke    kafkajs against the running broker: produce, consume, 2 groups, commits
#
# Environment (all optional):
#   KAFKA_PORT             client listener port on 127.0.0.1          (9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener port             (9093)
#   KAFKA_CACHE_DIR        jars, data, logs, pid files                (<repo>/.cache/kafka)
#   KAFKA_DATA_DIR         log.dirs of this broker                    ($KAFKA_CACHE_DIR/data/broker-$KAFKA_PORT)
#   KAFKA_START_TIMEOUT    seconds to wait for metadata               (120)
#   KAFKA_STOP_TIMEOUT     seconds to wait after SIGTERM              (60)
#   KAFKA_HEAP_OPTS        JVM heap                                   (-Xms256m -Xmx768m)
#   KAFKA_LOG_LEVEL        broker log level (log4j2)                  (WARN)
#   KAFKA_OWNER_PID        stop the broker when this process is gone (tests: a killed test run
#                          must not leave a broker behind)            (unset: the broker stays up)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
CACHE="${KAFKA_CACHE_DIR:-$ROOT/.cache/kafka}"
LIB="$CACHE/lib"
DATA="${KAFKA_DATA_DIR:-$CACHE/data/broker-$PORT}"
RUN="$CACHE/run"
PIDFILE="$RUN/kafka-$PORT.pid"
LOGFILE="$RUN/kafka-$PORT.log"
CONFIG="$RUN/server-$PORT.properties"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-60}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"

say() { echo "kafka.sh: $*"; }
die() { echo "kafka.sh: $*" >&2; exit 1; }

need_tools() {
  command -v java >/dev/null || die "java not found: install a JDK 17+ (Debian: apt-get install openjdk-17-jdk-headless)"
  command -v javac >/dev/null || die "javac not found: install a JDK 17+, not only a JRE (Debian: apt-get install openjdk-17-jdk-headless)"
  command -v mvn >/dev/null || die "mvn not found: install Maven (Debian: apt-get install maven)"
}

# The jar set is keyed by the pom's hash: editing the Kafka version re-resolves, an unchanged pom is skipped.
resolve_jars() {
  local stamp want
  want="$(sha256sum "$HERE/pom.xml" | cut -c1-16)"
  stamp="$LIB/.resolved"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return; fi
  say "resolving Kafka jars from Maven Central into $LIB (first time: about 70 MB, mvn prints each download)"
  rm -rf "$LIB" && mkdir -p "$LIB"
  # Not -q: the first download takes a while and must show progress. -B keeps the output line-based.
  mvn -B -f "$HERE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB" \
    | grep -E --line-buffered 'Download(ed|ing)|Copying|BUILD|ERROR' || true
  compgen -G "$LIB/kafka_2.13-*.jar" >/dev/null || die "mvn did not produce kafka_2.13 in $LIB (see the output above)"
  echo "$want" >"$stamp"
  say "jars ready: $(ls "$LIB"/*.jar | wc -l) files, $(basename "$(ls "$LIB"/kafka_2.13-*.jar)")"
}

write_config() {
  mkdir -p "$RUN" "$DATA"
  cat >"$CONFIG" <<EOF
# Written by scripts/kafka/kafka.sh: a single-node KRaft broker+controller on 127.0.0.1.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA
num.partitions=1
# One node: every internal topic must have replication factor 1, or consumer groups never get a
# coordinator ("group coordinator not available") and transactions never start.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests start and stop consumers all the time: no 3 s wait before the first rebalance.
group.initial.rebalance.delay.ms=0
EOF
}

# Formats KRaft storage once; a restart keeps the data (and the committed offsets).
format_storage() {
  if [[ -f "$DATA/meta.properties" ]]; then return; fi
  local id
  id="$(java -cp "$LIB/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
  [[ -n "$id" ]] || die "StorageTool random-uuid gave no cluster id"
  say "formatting KRaft storage in $DATA (cluster id $id)"
  java -Dlog4j2.configurationFile="$HERE/log4j2.properties" -cp "$LIB/*" kafka.tools.StorageTool \
    format --standalone -t "$id" -c "$CONFIG" >"$RUN/format-$PORT.log" 2>&1 \
    || { cat "$RUN/format-$PORT.log" >&2; die "formatting failed"; }
}

running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null; then
    echo "$pid"
    return 0
  fi
  rm -f "$PIDFILE" # stale: the broker died or the machine restarted
  return 1
}

# Compiled once into the cache: the single-file source launcher would recompile it (~3 s) on every start.
probe_classes() {
  local out="$CACHE/probe"
  if [[ ! -f "$out/Probe.class" || "$HERE/Probe.java" -nt "$out/Probe.class" ]]; then
    mkdir -p "$out"
    javac -nowarn -cp "$LIB/*" -d "$out" "$HERE/Probe.java" || die "could not compile $HERE/Probe.java (needs a JDK, not only a JRE)"
  fi
  echo "$out"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

log_tail() {
  echo "---- last lines of $LOGFILE ----" >&2
  tail -n 40 "$LOGFILE" >&2 || true
}

# A detached watchdog: SIGTERM to the broker once the owner process has exited (even by SIGKILL).
watch_owner() {
  local owner="$1" broker="$2"
  kill -0 "$owner" 2>/dev/null || die "KAFKA_OWNER_PID $owner is not a running process"
  setsid nohup bash -c '
    while kill -0 "$0" 2>/dev/null && kill -0 "$1" 2>/dev/null; do sleep 2; done
    if kill -0 "$1" 2>/dev/null; then
      echo "kafka.sh watchdog: owner pid $0 is gone, stopping broker pid $1"
      kill -TERM "$1"
      rm -f "$2"
    fi' "$owner" "$broker" "$PIDFILE" >>"$RUN/watchdog-$PORT.log" 2>&1 </dev/null &
}

start() {
  local pid
  if pid="$(running_pid)"; then
    say "already running on 127.0.0.1:$PORT (pid $pid)"
    return 0
  fi
  need_tools
  port_in_use "$PORT" && die "127.0.0.1:$PORT is taken by another process (not ours: no pid file). Set KAFKA_PORT."
  port_in_use "$CONTROLLER_PORT" && die "127.0.0.1:$CONTROLLER_PORT is taken. Set KAFKA_CONTROLLER_PORT."
  resolve_jars
  write_config
  format_storage
  say "starting broker on 127.0.0.1:$PORT (controller $CONTROLLER_PORT, data $DATA, log $LOGFILE)"
  # setsid + nohup: the broker outlives the shell or test process that started it.
  # shellcheck disable=SC2086
  setsid nohup java $HEAP_OPTS -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" \
    -cp "$LIB/*" kafka.Kafka "$CONFIG" >"$LOGFILE" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PIDFILE"
  [[ -n "${KAFKA_OWNER_PID:-}" ]] && watch_owner "$KAFKA_OWNER_PID" "$pid"
  printf 'kafka.sh: waiting for metadata '
  local deadline=$((SECONDS + START_TIMEOUT))
  # First the socket (cheap), then a real client's metadata request (Probe.java, kafka-clients' Admin).
  until port_in_use "$PORT"; do
    if ! kill -0 "$pid" 2>/dev/null; then echo; log_tail; rm -f "$PIDFILE"; die "the broker exited during start-up"; fi
    ((SECONDS < deadline)) || { echo; log_tail; die "no listener on 127.0.0.1:$PORT after ${START_TIMEOUT}s (broker pid $pid left running; run stop)"; }
    printf '.'
    sleep 0.5
  done
  local left=$((deadline - SECONDS)) probe
  probe="$(probe_classes)"
  ((left > 5)) || left=5
  if ! java -cp "$LIB/*:$probe" Probe "127.0.0.1:$PORT" "$left" 2>"$RUN/probe-$PORT.log"; then
    echo
    log_tail
    die "no metadata from 127.0.0.1:$PORT after ${START_TIMEOUT}s (broker pid $pid left running; run stop)"
  fi
  say "ready on 127.0.0.1:$PORT (pid $pid)"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    say "not running on port $PORT"
    return 0
  fi
  say "stopping pid $pid (SIGTERM: controlled shutdown)"
  kill -TERM "$pid"
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      say "still running after ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$PIDFILE"
  say "stopped"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    say "running on 127.0.0.1:$PORT (pid $pid, data $DATA)"
    return 0
  fi
  say "not running on port $PORT"
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  status) status ;;
  smoke) KAFKA_BROKERS="127.0.0.1:$PORT" node "$HERE/smoke.js" ;;
  *) echo "usage: $0 start|stop|restart|status|smoke" >&2; exit 2 ;;
esac
