#!/usr/bin/env bash
# Weft local infrastructure: Kafka (KRaft), PostgreSQL and Redis on loopback.
#
#   bash infra/infra.sh up [--only kafka|postgres|redis|chromium[,...]]   start what is not running
#                                                                 (chromium: installed for the dashboard tests)
#   bash infra/infra.sh up --cluster                              start the 3-broker Kafka cluster
#   bash infra/infra.sh down [--cluster | --only ...]             stop (plain `down` stops everything)
#   bash infra/infra.sh status                                    show what runs
#   bash infra/infra.sh env                                       print the connection variables
#   bash infra/infra.sh broker-kill N | broker-start N            failover helpers for the cluster (N = 1..3)
#   bash infra/infra.sh elect-preferred TOPIC PARTITION            move a cluster partition's leadership back
#                                                                 to its preferred replica
#   bash infra/infra.sh reset [--cluster | --only ...]            stop and wipe data (keeps downloaded jars)
#
# Everything it installs is missing-only (apt-get for PostgreSQL/Redis/Java/Maven,
# Maven Central for the Kafka jars); everything it starts lives under
# ${WEFT_INFRA_DIR:-<repo>/.infra}: data, logs and pid files. `up` is idempotent.
# Progress goes to stderr; `up` ends by printing KEY=value lines on stdout, so
#   eval "$(bash infra/infra.sh up)"
# exports them into the calling shell.
set -Eeuo pipefail

INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$INFRA_DIR")
STATE=${WEFT_INFRA_DIR:-$REPO_DIR/.infra}

HOST=127.0.0.1
KAFKA_PORT=${WEFT_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${WEFT_KAFKA_CONTROLLER_PORT:-9093}
# Cluster: brokers on BASE, BASE+1, BASE+2; controllers on BASE+101 .. BASE+103.
CLUSTER_BASE_PORT=${WEFT_CLUSTER_BASE_PORT:-29092}
CLUSTER_SIZE=3
PG_PORT=${WEFT_PG_PORT:-54329}
PG_USER=weft
PG_PASSWORD=weft
PG_DB=weft
REDIS_PORT=${WEFT_REDIS_PORT:-63799}
READY_TIMEOUT=${WEFT_INFRA_TIMEOUT:-90}
KAFKA_HEAP_OPTS=${WEFT_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
CLUSTER_HEAP_OPTS=${WEFT_KAFKA_CLUSTER_HEAP_OPTS:--Xms192m -Xmx384m}
# The parallel collector: a broker's young collections pause everything it does, and every
# decision waits on the broker, so the pauses show in Weft's latency tails. On 2 cores the
# serial collector paused the broker 23 ms (p50) every 2 s at 100 starts/s, the parallel one
# 13 ms, for the same CPU; start -> third step done p99 fell from 95 to 63 ms
# (docs/benchmarks.md). Concurrent collectors (ZGC, Shenandoah) doubled the broker's CPU.
KAFKA_JVM_OPTS=${WEFT_KAFKA_JVM_OPTS:--XX:+UseParallelGC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}
KAFKA_LOG_LEVEL=${WEFT_KAFKA_LOG_LEVEL:-INFO}

KAFKA_POM=$INFRA_DIR/kafka/pom.xml
KAFKA_LOG4J=$INFRA_DIR/kafka/log4j2.xml
KAFKA_TOOLS_LOG4J=$INFRA_DIR/kafka/log4j2-tools.xml
LOCK_FD=217

# ---------------------------------------------------------------- helpers

say() { printf '[infra] %s\n' "$*" >&2; }
die() { printf 'infra: error: %s\n' "$*" >&2; exit 1; }

kafka_brokers() { echo "$HOST:$KAFKA_PORT"; }
cluster_brokers() {
  local i out=""
  for ((i = 1; i <= CLUSTER_SIZE; i++)); do out+="${out:+,}$HOST:$(cluster_broker_port "$i")"; done
  echo "$out"
}
cluster_broker_port() { echo $((CLUSTER_BASE_PORT + $1 - 1)); }
cluster_controller_port() { echo $((CLUSTER_BASE_PORT + 100 + $1)); }
database_url() { echo "postgres://$PG_USER:$PG_PASSWORD@$HOST:$PG_PORT/$PG_DB"; }
redis_url() { echo "redis://$HOST:$REDIS_PORT"; }

# Is something accepting TCP connections on 127.0.0.1:$1 ?
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

# pid_alive PIDFILE [MARKER]: the pid in PIDFILE runs (and its command line contains MARKER).
pid_alive() {
  local pidfile=$1 marker=${2:-} pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  proc_alive "$pid" || return 1
  if [[ -n $marker ]]; then
    local cmdline
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$marker"* ]] || return 1
  fi
}

# proc_alive PID: the process exists and is not a zombie awaiting its reaper.
proc_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# wait_gone PID SECONDS: 0 once PID has exited.
wait_gone() {
  local pid=$1 i
  for ((i = 0; i < $2 * 10; i++)); do
    proc_alive "$pid" || return 0
    sleep 0.1
  done
  return 1
}

# stop_pid PIDFILE MARKER NAME GRACE_SECONDS: TERM, wait, then KILL.
stop_pid() {
  local pidfile=$1 marker=$2 name=$3 grace=$4 pid
  if ! pid_alive "$pidfile" "$marker"; then
    rm -f "$pidfile"
    return 1
  fi
  pid=$(<"$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$grace"; then
    say "$name did not stop within ${grace}s; killing pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "could not stop $name (pid $pid)"
  fi
  rm -f "$pidfile"
  return 0
}

file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# log_tail FILE...: show the end of the given logs on stderr.
log_tail() {
  local f
  for f in "$@"; do
    [[ -s $f ]] || continue
    printf -- '----- last lines of %s -----\n' "$f" >&2
    tail -n 30 "$f" >&2
  done
}

lock() {
  mkdir -p "$STATE" || die "cannot create state dir $STATE"
  eval "exec $LOCK_FD>\"\$STATE/.lock\""
  flock -w 600 "$LOCK_FD" || die "another infra.sh is still running (lock $STATE/.lock)"
}

APT_UPDATED=0
apt_install() {
  [[ $EUID -eq 0 ]] || die "need root to install $* (run: apt-get install -y $*)"
  command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
  local made_policy=0 log="$STATE/install.log" rc=0
  mkdir -p "$STATE"
  # Package installs must not start the distribution's own default services.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  say "installing $* (apt-get; log: $log)"
  if ((!APT_UPDATED)); then
    apt-get update >>"$log" 2>&1 || rc=$?
    APT_UPDATED=1
  fi
  if ((rc == 0)); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$log" 2>&1 || rc=$?
  fi
  ((made_policy)) && rm -f /usr/sbin/policy-rc.d
  ((rc == 0)) || die "apt-get could not install $* (see $log)"
}

# ---------------------------------------------------------------- Java / Kafka jars

KAFKA_LIBS=""
ensure_java() {
  local v major
  if ! command -v java >/dev/null; then apt_install openjdk-17-jre-headless; fi
  v=$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
  major=${v%%.*}
  [[ $major =~ ^[0-9]+$ ]] && ((major >= 17)) || die "Kafka 4 needs Java 17+, found '${v:-none}' (java on PATH)"
}

ensure_kafka_libs() {
  KAFKA_LIBS=$STATE/kafka/libs
  local stamp
  stamp=$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)
  ensure_java
  if [[ -f $KAFKA_LIBS/.complete && $(<"$KAFKA_LIBS/.complete") == "$stamp" ]]; then return 0; fi
  command -v mvn >/dev/null || apt_install maven
  say "resolving Kafka jars with Maven into $KAFKA_LIBS"
  mkdir -p "$STATE/kafka"
  rm -rf "$KAFKA_LIBS.tmp"
  if ! mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$KAFKA_LIBS.tmp" >"$STATE/kafka/maven.log" 2>&1; then
    tail -n 20 "$STATE/kafka/maven.log" >&2
    die "Maven could not resolve the Kafka jars (see $STATE/kafka/maven.log)"
  fi
  ls "$KAFKA_LIBS.tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "Maven finished but no kafka_2.13 jar in $KAFKA_LIBS.tmp"
  rm -rf "$KAFKA_LIBS"
  mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
  echo "$stamp" >"$KAFKA_LIBS/.complete"
}

# Run a Kafka tool class (warnings to stderr only).
kafka_tool() { timeout 120 java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$KAFKA_LIBS/*" -Dlog4j2.configurationFile="$KAFKA_TOOLS_LOG4J" "$@"; }

# A Kafka cluster id: 16 random bytes, URL-safe base64 without padding.
new_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ $id != -* ]] && { echo "$id"; return; }
  done
}

# ---------------------------------------------------------------- Kafka nodes

# node directory for "single" or "cluster N"
kafka_dir() { if [[ $1 == single ]]; then echo "$STATE/kafka/single"; else echo "$STATE/kafka/cluster/broker-$2"; fi; }
kafka_name() { if [[ $1 == single ]]; then echo "kafka"; else echo "kafka cluster broker $2"; fi; }
kafka_port() { if [[ $1 == single ]]; then echo "$KAFKA_PORT"; else cluster_broker_port "$2"; fi; }

write_kafka_props() {
  local mode=$1 id=$2 dir port cport voters rf minisr extra=""
  dir=$(kafka_dir "$mode" "$id")
  if [[ $mode == single ]]; then
    port=$KAFKA_PORT cport=$KAFKA_CONTROLLER_PORT
    voters="1@$HOST:$cport" rf=1 minisr=1
  else
    port=$(cluster_broker_port "$id") cport=$(cluster_controller_port "$id")
    voters="" rf=3 minisr=2
    local i
    for ((i = 1; i <= CLUSTER_SIZE; i++)); do voters+="${voters:+,}$i@$HOST:$(cluster_controller_port "$i")"; done
    extra="
# Failover tests: notice a dead broker quickly and move leadership back soon. The
# controller fences a broker that missed heartbeats for the session timeout (Kafka's
# default 9 s); until then its partitions have no leader, so this bounds how soon history
# is written again after a broker's loss. Eight beats per session keep a busy broker alive.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=4000
leader.imbalance.check.interval.seconds=30"
  fi
  mkdir -p "$dir/data" "$dir/logs"
  cat >"$dir/server.properties" <<EOF
# Generated by infra/infra.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://$HOST:$port,CONTROLLER://$HOST:$cport
advertised.listeners=PLAINTEXT://$HOST:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$dir/data

# Topics are created explicitly by Weft.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$minisr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$minisr
transaction.state.log.num.partitions=10

# Fast tests: no initial rebalance delay, short session timeouts allowed,
# timed-out transactions aborted and expired transactional ids removed quickly.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
group.coordinator.rebalance.protocols=classic,consumer
transaction.abort.timed.out.transaction.cleanup.interval.ms=10000
transaction.remove.expired.transaction.cleanup.interval.ms=60000
# Kafka's second transaction protocol: a produce that arrives while the coordinator still
# writes the markers of the producer's previous commit (a millisecond or two) is retried by
# the partition leader after this backoff, Kafka's default 20 ms. A decider commits again
# straight after its previous commit, so a default backoff would be a 20 ms stall.
add.partitions.to.txn.retry.backoff.ms=2

# Small machine: few threads, small cleaner buffer.
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
# Compact the deciders' changelog soon after a segment rolls (Kafka's default waits 15 s).
log.cleaner.backoff.ms=5000
log.cleaner.dedupe.buffer.size=33554432
log.retention.hours=168
$extra
EOF
}

# format_kafka MODE ID: format the KRaft storage once.
format_kafka() {
  local mode=$1 id=$2 dir cid idfile
  dir=$(kafka_dir "$mode" "$id")
  [[ -f $dir/data/meta.properties ]] && return 0
  if [[ $mode == single ]]; then idfile=$dir/cluster.id; else idfile=$STATE/kafka/cluster/cluster.id; fi
  mkdir -p "$(dirname "$idfile")"
  [[ -s $idfile ]] || new_cluster_id >"$idfile"
  cid=$(<"$idfile")
  if ! kafka_tool kafka.tools.StorageTool format \
    -t "$cid" -c "$dir/server.properties" --ignore-formatted >"$dir/format.log" 2>&1; then
    log_tail "$dir/format.log"
    die "could not format Kafka storage for $(kafka_name "$mode" "$id") (see $dir/format.log)"
  fi
}

kafka_running() {
  local dir
  dir=$(kafka_dir "$1" "$2")
  pid_alive "$dir/kafka.pid" "$dir/server.properties"
}

# launch_kafka MODE ID: start one node in the background (returns at once).
# Sets LAUNCH_OFFSET to the server.log size before the start.
launch_kafka() {
  local mode=$1 id=$2 dir port cport heap
  dir=$(kafka_dir "$mode" "$id")
  port=$(kafka_port "$mode" "$id")
  if [[ $mode == single ]]; then cport=$KAFKA_CONTROLLER_PORT heap=$KAFKA_HEAP_OPTS; else cport=$(cluster_controller_port "$id") heap=$CLUSTER_HEAP_OPTS; fi
  local p
  for p in "$port" "$cport"; do
    port_open "$p" && die "port $p is already in use by another process; cannot start $(kafka_name "$mode" "$id")"
  done
  write_kafka_props "$mode" "$id"
  format_kafka "$mode" "$id"
  LAUNCH_OFFSET=$(file_size "$dir/logs/server.log")
  echo "$LAUNCH_OFFSET" >"$dir/launch.offset"
  rm -f "$dir/ready.pid"
  # shellcheck disable=SC2086 # heap/jvm opts are word lists on purpose
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/kafka.pid" \
    java $heap $KAFKA_JVM_OPTS \
    -Dkafka.logs.dir="$dir/logs" -Dlog4j2.configurationFile="$KAFKA_LOG4J" \
    -Dweft.kafka.log.level="$KAFKA_LOG_LEVEL" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties" \
    </dev/null >"$dir/stdout.log" 2>&1 {LOCK_FD}>&- &
  local i
  for ((i = 0; i < 50; i++)); do [[ -s $dir/kafka.pid ]] && break; sleep 0.1; done
}

# kafka_started MODE ID: the node logged its start since the last launch and listens.
kafka_started() {
  local dir off log
  dir=$(kafka_dir "$1" "$2")
  # Seen ready before (the log may have rolled since): same pid, still listening.
  if [[ -s $dir/ready.pid && $(<"$dir/ready.pid") == "$(cat "$dir/kafka.pid" 2>/dev/null)" ]]; then
    port_open "$(kafka_port "$1" "$2")"
    return
  fi
  log=$dir/logs/server.log
  off=$(cat "$dir/launch.offset" 2>/dev/null || echo 0)
  (($(file_size "$log") >= off)) || off=0
  # (no `tail | grep -q`: grep's early exit would fail the pipe under pipefail)
  grep -q 'Kafka Server started' < <(tail -c +$((off + 1)) "$log" 2>/dev/null) || return 1
  port_open "$(kafka_port "$1" "$2")"
}

# wait_kafka [--stop-on-timeout] MODE ID...: wait (bounded) until every listed
# node is ready; with --stop-on-timeout, nodes still not ready are stopped.
wait_kafka() {
  local stop_on_timeout=0
  if [[ $1 == --stop-on-timeout ]]; then stop_on_timeout=1; shift; fi
  local mode=$1
  shift
  local deadline=$((SECONDS + READY_TIMEOUT)) id pending dir
  while :; do
    pending=()
    for id in "$@"; do
      dir=$(kafka_dir "$mode" "$id")
      if ! kafka_running "$mode" "$id"; then
        log_tail "$dir/stdout.log" "$dir/logs/server.log"
        rm -f "$dir/kafka.pid"
        die "$(kafka_name "$mode" "$id") exited during startup (logs: $dir/logs/server.log, $dir/stdout.log)"
      fi
      if kafka_started "$mode" "$id"; then
        cp "$dir/kafka.pid" "$dir/ready.pid"
      else
        pending+=("$id")
      fi
    done
    ((${#pending[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then
      for id in "${pending[@]}"; do
        dir=$(kafka_dir "$mode" "$id")
        log_tail "$dir/logs/server.log"
      done
      ((stop_on_timeout)) && { stop_kafka_nodes "$mode" "${pending[@]}" || true; }
      die "$(kafka_name "$mode" "${pending[0]}") not ready after ${READY_TIMEOUT}s (log: $(kafka_dir "$mode" "${pending[0]}")/logs/server.log)"
    fi
    sleep 0.5
  done
}

# metadata_check BOOTSTRAP: the brokers answer a metadata request (topic list).
# On a fresh cluster it also creates the internal topics and waits for their
# coordinators (one FindCoordinator each for a group and a transactional id),
# so the first test does not pay for that or see coordinator-loading retries.
metadata_check() {
  local out warm=()
  if ! out=$(kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$1" --list 2>&1); then
    printf '%s\n' "$out" | tail -n 20 >&2
    die "Kafka at $1 listens but does not answer metadata requests"
  fi
  if ! grep -qx '__consumer_offsets' <<<"$out"; then
    kafka_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$1" \
      --describe --group weft-infra-warmup --timeout 60000 >/dev/null 2>&1 &
    warm+=($!)
  fi
  if ! grep -qx '__transaction_state' <<<"$out"; then
    kafka_tool org.apache.kafka.tools.TransactionsCommand --bootstrap-server "$1" \
      describe --transactional-id weft-infra-warmup >/dev/null 2>&1 &
    warm+=($!)
  fi
  local w
  for w in "${warm[@]}"; do wait "$w" || true; done
}

up_kafka_single() {
  if kafka_running single 1; then
    wait_kafka single 1
    say "kafka already running on $(kafka_brokers) (pid $(<"$(kafka_dir single 1)/kafka.pid"))"
    return 0
  fi
  ensure_kafka_libs
  local t0=$SECONDS
  say "starting kafka on $(kafka_brokers) (controller $HOST:$KAFKA_CONTROLLER_PORT)"
  launch_kafka single 1
  wait_kafka --stop-on-timeout single 1
  metadata_check "$(kafka_brokers)"
  say "kafka ready in $((SECONDS - t0))s"
}

up_kafka_cluster() {
  local id todo=()
  for ((id = 1; id <= CLUSTER_SIZE; id++)); do
    kafka_running cluster "$id" || todo+=("$id")
  done
  if ((${#todo[@]} == 0)); then
    wait_kafka cluster $(seq 1 "$CLUSTER_SIZE")
    say "kafka cluster already running on $(cluster_brokers)"
    return 0
  fi
  ensure_kafka_libs
  local t0=$SECONDS
  say "starting kafka cluster broker(s) ${todo[*]} ($(cluster_brokers))"
  # Format fresh nodes in parallel (one JVM each), then start them together:
  # no node finishes starting before a quorum of controllers is up.
  local jobs=() j
  mkdir -p "$STATE/kafka/cluster"
  [[ -s $STATE/kafka/cluster/cluster.id ]] || new_cluster_id >"$STATE/kafka/cluster/cluster.id"
  for id in "${todo[@]}"; do
    write_kafka_props cluster "$id"
    format_kafka cluster "$id" &
    jobs+=($!)
  done
  for j in "${jobs[@]}"; do wait "$j" || exit 1; done
  for id in "${todo[@]}"; do launch_kafka cluster "$id"; done
  wait_kafka --stop-on-timeout cluster "${todo[@]}"
  metadata_check "$(cluster_brokers)"
  say "kafka cluster ready in $((SECONDS - t0))s"
}

stop_kafka_nodes() {
  local mode=$1
  shift
  local id dir pid pids=() names=()
  for id in "$@"; do
    dir=$(kafka_dir "$mode" "$id")
    if kafka_running "$mode" "$id"; then
      pid=$(<"$dir/kafka.pid")
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid:$dir/kafka.pid:$id")
    else
      rm -f "$dir/kafka.pid"
    fi
  done
  ((${#pids[@]})) || return 1
  local entry deadline=$((SECONDS + 30))
  for entry in "${pids[@]}"; do
    IFS=: read -r pid pf id <<<"$entry"
    local left=$((deadline - SECONDS))
    ((left < 1)) && left=1
    if ! wait_gone "$pid" "$left"; then
      say "$(kafka_name "$mode" "$id") did not stop in time; killing pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || die "could not stop $(kafka_name "$mode" "$id") (pid $pid)"
    fi
    rm -f "$pf"
    names+=("$id")
  done
  return 0
}

down_kafka_single() {
  if stop_kafka_nodes single 1; then say "kafka stopped"; else say "kafka was not running"; fi
}

down_kafka_cluster() {
  local ids=() id
  for ((id = 1; id <= CLUSTER_SIZE; id++)); do ids+=("$id"); done
  if stop_kafka_nodes cluster "${ids[@]}"; then say "kafka cluster stopped"; else say "kafka cluster was not running"; fi
}

cluster_id_arg() {
  [[ ${1:-} =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= CLUSTER_SIZE)) || die "broker number must be 1..$CLUSTER_SIZE, got '${1:-}'"
}

broker_kill() {
  cluster_id_arg "${1:-}"
  local dir pid
  dir=$(kafka_dir cluster "$1")
  kafka_running cluster "$1" || die "kafka cluster broker $1 is not running"
  pid=$(<"$dir/kafka.pid")
  kill -KILL "$pid"
  wait_gone "$pid" 10 || die "kafka cluster broker $1 (pid $pid) survived kill -9"
  rm -f "$dir/kafka.pid"
  say "kafka cluster broker $1 killed (was pid $pid, port $(cluster_broker_port "$1"))"
}

# elect_preferred TOPIC PARTITION: leadership of the cluster's partition back to its preferred
# replica (after a broker came back), as the controller's own balancing would in a while.
elect_preferred() {
  [[ -n ${1:-} && ${2:-} =~ ^[0-9]+$ ]] || die "usage: infra.sh elect-preferred TOPIC PARTITION"
  ensure_kafka_libs
  kafka_tool org.apache.kafka.tools.LeaderElectionCommand --bootstrap-server "$(cluster_brokers)" \
    --election-type PREFERRED --topic "$1" --partition "$2" >&2
}

broker_start() {
  cluster_id_arg "${1:-}"
  if kafka_running cluster "$1"; then
    say "kafka cluster broker $1 already running"
    return 0
  fi
  [[ -f $(kafka_dir cluster "$1")/data/meta.properties ]] || die "kafka cluster is not set up; run: bash infra/infra.sh up --cluster"
  ensure_kafka_libs
  local t0=$SECONDS
  launch_kafka cluster "$1"
  wait_kafka --stop-on-timeout cluster "$1"
  say "kafka cluster broker $1 ready on $HOST:$(cluster_broker_port "$1") in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------- PostgreSQL

PG_BIN=""
PG_DIR=""
find_pg_bin() {
  local d
  PG_BIN=""
  # The real server binaries, not wrappers or symlinks elsewhere on PATH.
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres && -x $d/psql ]]; then PG_BIN=$d; return 0; fi
  done
  return 1
}

ensure_pg() {
  find_pg_bin || apt_install postgresql
  find_pg_bin || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin after install"
  PG_DIR=$STATE/postgres
}

# Run a PostgreSQL tool as the postgres user when we are root (initdb refuses root).
as_pg() {
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_running() {
  [[ -f $PG_DIR/data/PG_VERSION ]] || return 1
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1
}

pg_sql() {
  as_pg "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_DIR/run" -p "$PG_PORT" -U postgres -d postgres "$@"
}

up_postgres() {
  ensure_pg
  if pg_running; then
    say "postgres already running on $HOST:$PG_PORT"
    return 0
  fi
  local t0=$SECONDS
  mkdir -p "$PG_DIR/run"
  if [[ $EUID -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "user 'postgres' missing (the postgresql package creates it)"
    chown postgres: "$PG_DIR" "$PG_DIR/run"
    as_pg test -w "$PG_DIR" || die "user postgres cannot reach $PG_DIR; set WEFT_INFRA_DIR to a path it can traverse"
  fi
  chmod 0700 "$PG_DIR/run"
  local sock="$PG_DIR/run/.s.PGSQL.$PG_PORT"
  ((${#sock} < 100)) || die "socket path too long ($sock); set WEFT_INFRA_DIR to a shorter path"
  port_open "$PG_PORT" && die "port $PG_PORT is already in use by another process; cannot start postgres"
  if [[ ! -f $PG_DIR/data/PG_VERSION ]]; then
    say "initializing postgres data dir $PG_DIR/data"
    rm -rf "$PG_DIR/data"
    if ! as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -E UTF8 --no-locale \
      --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1; then
      log_tail "$PG_DIR/initdb.log"
      die "initdb failed (see $PG_DIR/initdb.log)"
    fi
    echo "include_if_exists = 'weft.conf'" >>"$PG_DIR/data/postgresql.conf"
  fi
  as_pg tee "$PG_DIR/data/weft.conf" >/dev/null <<EOF
# Written by infra/infra.sh on every start.
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$PG_DIR/run'
max_connections = 200
shared_buffers = 128MB
password_encryption = scram-sha-256
logging_collector = off
log_min_messages = warning
log_timezone = 'UTC'
timezone = 'UTC'
EOF
  say "starting postgres on $HOST:$PG_PORT"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t "$READY_TIMEOUT" start \
    </dev/null >"$PG_DIR/pg_ctl.log" 2>&1 {LOCK_FD}>&-; then
    log_tail "$PG_DIR/pg_ctl.log" "$PG_DIR/postgres.log"
    die "postgres did not start (see $PG_DIR/postgres.log)"
  fi
  pg_sql <<EOF || die "could not create role/database $PG_USER in postgres"
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN SUPERUSER PASSWORD '$PG_PASSWORD';
  END IF;
END
\$\$;
EOF
  if [[ -z $(pg_sql -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") ]]; then
    pg_sql -c "CREATE DATABASE $PG_DB OWNER $PG_USER" || die "could not create database $PG_DB"
  fi
  say "postgres ready in $((SECONDS - t0))s"
}

down_postgres() {
  find_pg_bin || { say "postgres is not installed"; return 0; }
  PG_DIR=$STATE/postgres
  if ! pg_running; then
    say "postgres was not running"
    return 0
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1; then
    say "postgres did not stop in time; immediate shutdown"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || die "could not stop postgres"
  fi
  say "postgres stopped"
}

# ---------------------------------------------------------------- Redis

REDIS_DIR=""
ensure_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  command -v redis-server >/dev/null || die "redis-server not found after install"
  REDIS_DIR=$STATE/redis
}

redis_running() { pid_alive "$STATE/redis/redis.pid" ":$REDIS_PORT"; }

redis_ping() {
  if command -v redis-cli >/dev/null; then
    [[ $(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
  else
    port_open "$REDIS_PORT"
  fi
}

up_redis() {
  ensure_redis
  if redis_running; then
    say "redis already running on $HOST:$REDIS_PORT"
    return 0
  fi
  local t0=$SECONDS
  port_open "$REDIS_PORT" && die "port $REDIS_PORT is already in use by another process; cannot start redis"
  mkdir -p "$REDIS_DIR/data"
  cat >"$REDIS_DIR/redis.conf" <<EOF
# Written by infra/infra.sh on every start.
bind $HOST
port $REDIS_PORT
protected-mode yes
daemonize yes
pidfile $REDIS_DIR/redis.pid
logfile $REDIS_DIR/redis.log
loglevel notice
dir $REDIS_DIR/data
save ""
appendonly no
databases 16
EOF
  say "starting redis on $HOST:$REDIS_PORT"
  redis-server "$REDIS_DIR/redis.conf" </dev/null >>"$REDIS_DIR/stdout.log" 2>&1 {LOCK_FD}>&- ||
    { log_tail "$REDIS_DIR/stdout.log" "$REDIS_DIR/redis.log"; die "redis-server failed to start (see $REDIS_DIR/redis.log)"; }
  local deadline=$((SECONDS + 30))
  until redis_running && redis_ping; do
    if ((SECONDS >= deadline)); then
      log_tail "$REDIS_DIR/redis.log"
      die "redis not ready after 30s (see $REDIS_DIR/redis.log)"
    fi
    sleep 0.2
  done
  say "redis ready in $((SECONDS - t0))s"
}

down_redis() {
  REDIS_DIR=$STATE/redis
  if stop_pid "$REDIS_DIR/redis.pid" ":$REDIS_PORT" redis 20; then say "redis stopped"; else say "redis was not running"; fi
}

# ---------------------------------------------------------------- Chromium (dashboard tests)

find_chromium() {
  local c
  for c in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [[ -n $c && -x $c ]]; then echo "$c"; return 0; fi
  done
  return 1
}

# Nothing to start: the dashboard's browser tests launch it headless themselves.
up_chromium() {
  find_chromium >/dev/null || apt_install chromium fonts-liberation
  find_chromium >/dev/null || die "chromium not found after install (set CHROMIUM_PATH to a Chromium binary)"
  say "chromium installed: $(find_chromium)"
}

# ---------------------------------------------------------------- status / env

print_env() {
  local what
  for what in "$@"; do
    case $what in
      kafka) echo "KAFKA_BROKERS=$(kafka_brokers)" ;;
      postgres) echo "DATABASE_URL=$(database_url)" ;;
      redis) echo "REDIS_URL=$(redis_url)" ;;
      cluster) echo "KAFKA_CLUSTER_BROKERS=$(cluster_brokers)" ;;
      chromium) echo "CHROMIUM_PATH=$(find_chromium)" ;;
    esac
  done
}

status() {
  local dir id pid
  echo "state dir: $STATE"
  if kafka_running single 1; then
    echo "kafka          running  pid $(<"$(kafka_dir single 1)/kafka.pid")  $(kafka_brokers)"
  else
    echo "kafka          stopped  ($(kafka_brokers))"
  fi
  for ((id = 1; id <= CLUSTER_SIZE; id++)); do
    dir=$(kafka_dir cluster "$id")
    if kafka_running cluster "$id"; then
      echo "kafka-broker-$id running  pid $(<"$dir/kafka.pid")  $HOST:$(cluster_broker_port "$id")"
    elif [[ -f $dir/data/meta.properties ]]; then
      echo "kafka-broker-$id stopped  ($HOST:$(cluster_broker_port "$id"))"
    fi
  done
  PG_DIR=$STATE/postgres
  if find_pg_bin && pg_running; then
    pid=$(head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null || echo '?')
    echo "postgres       running  pid $pid  $HOST:$PG_PORT"
  else
    echo "postgres       stopped  ($HOST:$PG_PORT)"
  fi
  if redis_running; then
    echo "redis          running  pid $(<"$STATE/redis/redis.pid")  $HOST:$REDIS_PORT"
  else
    echo "redis          stopped  ($HOST:$REDIS_PORT)"
  fi
}

usage() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"
}

# ---------------------------------------------------------------- main

main() {
  local cmd=${1:-help}
  [[ $# -gt 0 ]] && shift
  local cluster=0 only="" args=()
  while [[ $# -gt 0 ]]; do
    case $1 in
      --cluster) cluster=1 ;;
      --only) [[ $# -ge 2 ]] || die "--only needs a value: kafka, postgres or redis"; only=$2; shift ;;
      --only=*) only=${1#--only=} ;;
      -h | --help) usage; return 0 ;;
      *) args+=("$1") ;;
    esac
    shift
  done

  local parts=() want=() p
  if [[ -n $only ]]; then
    IFS=, read -r -a parts <<<"$only"
    for p in "${parts[@]}"; do
      case $p in
        kafka) want+=(kafka) ;;
        postgres | postgresql | pg) want+=(postgres) ;;
        redis) want+=(redis) ;;
        cluster) want+=(cluster) ;;
        chromium) want+=(chromium) ;;
        *) die "unknown service '$p' (use kafka, postgres, redis, chromium)" ;;
      esac
    done
  fi
  ((cluster)) && want=(cluster)

  mkdir -p "$STATE" || die "cannot create state dir $STATE"
  STATE=$(cd "$STATE" && pwd)

  case $cmd in
    up)
      lock
      ((${#want[@]})) || want=(kafka postgres redis chromium)
      local t0=$SECONDS
      for p in "${want[@]}"; do
        case $p in
          kafka) up_kafka_single ;;
          cluster) up_kafka_cluster ;;
          postgres) up_postgres ;;
          redis) up_redis ;;
          chromium) up_chromium ;;
        esac
      done
      say "up done in $((SECONDS - t0))s"
      print_env "${want[@]}"
      ;;
    down)
      lock
      ((${#want[@]})) || want=(cluster kafka postgres redis)
      for p in "${want[@]}"; do
        case $p in
          kafka) down_kafka_single ;;
          cluster) down_kafka_cluster ;;
          postgres) down_postgres ;;
          redis) down_redis ;;
        esac
      done
      ;;
    reset)
      lock
      ((${#want[@]})) || want=(cluster kafka postgres redis)
      for p in "${want[@]}"; do
        case $p in
          kafka) down_kafka_single; rm -rf "$STATE/kafka/single" ;;
          cluster) down_kafka_cluster; rm -rf "$STATE/kafka/cluster" ;;
          postgres) down_postgres; rm -rf "$STATE/postgres" ;;
          redis) down_redis; rm -rf "$STATE/redis" ;;
        esac
        say "$p data removed"
      done
      ;;
    status) status ;;
    env) print_env kafka postgres redis cluster ;;
    broker-kill) lock; broker_kill "${args[0]:-}" ;;
    broker-start) lock; broker_start "${args[0]:-}" ;;
    elect-preferred) elect_preferred "${args[0]:-}" "${args[1]:-}" ;;
    help | -h | --help) usage ;;
    *) usage >&2; die "unknown command '$cmd'" ;;
  esac
}

main "$@"
