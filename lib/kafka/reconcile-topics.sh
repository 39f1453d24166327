#!/bin/bash
# Reconciles the topics declared in $TOPICS_FILE with the Kafka cluster at $BOOTSTRAP_SERVERS:
# creates missing topics, raises partition counts, and aligns topic configs incrementally.
# It never deletes a topic, never lowers a partition count, and never removes a config it does not
# declare (kafka-configs.sh --add-config is an incremental alter). Running it again changes nothing.
#
# $TOPICS_FILE: one topic per line, `<name> <partitions> <replication-factor> [key=value,key=value...]`;
# '#' comments and blank lines are ignored.
#
# Environment:
#   BOOTSTRAP_SERVERS     host:port[,host:port...] of the brokers
#   TOPICS_FILE           the declared topics
#   WAIT_TIMEOUT_SECONDS  how long to wait for the brokers and retry failed changes (default 300)
#   KAFKA_HOME            the Kafka installation (default /opt/kafka, as in the apache/kafka image)
#   KAFKA_CLIENT_TLS_DIR  with kafka.security: the admin certificate's files, for client-tls.sh
#   MAX_PARALLEL_TOOLS    Kafka tool JVMs run at once (default 3; each takes about 100 MiB)
set -euo pipefail

: "${BOOTSTRAP_SERVERS:?must be set}"
: "${TOPICS_FILE:?must be set}"
bin=${KAFKA_HOME:-/opt/kafka}/bin
wait_timeout=${WAIT_TIMEOUT_SECONDS:-300}
max_parallel=${MAX_PARALLEL_TOOLS:-3}
# Every tool run is a short-lived JVM: the C1 compiler alone and the serial collector start it in about
# half the CPU time of Kafka's server-oriented defaults.
export KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log() { printf '[reconcile-topics] %s\n' "$*"; }

# While the brokers start, a call should fail within seconds and be retried, rather than hang for the
# admin client's default of 60 s. 10 s is still ample for one metadata call on a healthy cluster.
client_config=$work/client.properties
printf '%s\n' 'request.timeout.ms=10000' 'default.api.timeout.ms=10000' >"$client_config"
# kafka.security: the TLS client-certificate listener, as the admin principal (client-tls.sh beside this script).
# shellcheck source=client-tls.sh
[[ -z ${KAFKA_CLIENT_TLS_DIR-} ]] || source "$(dirname "$0")/client-tls.sh" "$client_config"

topics() { "$bin/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP_SERVERS" --command-config "$client_config" "$@"; }
configs() { "$bin/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP_SERVERS" --command-config "$client_config" "$@"; }

# --- the declared topics -------------------------------------------------------------------------
declared=()
declare -A want_partitions want_rf want_configs
line_number=0
while IFS= read -r line || [[ -n $line ]]; do
  line_number=$((line_number + 1))
  line=${line%%#*}
  read -r name partitions rf topic_configs extra <<<"$line" || true
  [[ -z ${name-} ]] && continue
  if [[ ! $partitions =~ ^[1-9][0-9]*$ || ! $rf =~ ^[1-9][0-9]*$ || -n ${extra-} ]]; then
    log "error: $TOPICS_FILE line $line_number: expected '<name> <partitions> <replication-factor> [key=value,...]', got: $line"
    exit 1
  fi
  declared+=("$name")
  want_partitions[$name]=$partitions
  want_rf[$name]=$rf
  want_configs[$name]=${topic_configs-}
done <"$TOPICS_FILE"
log "${#declared[@]} topics declared in $TOPICS_FILE"

# --- what the cluster has: one describe of all topics and one of all topic configs -----------------
declare -A have_partitions have_rf have_config

describe_cluster() {
  topics --describe --exclude-internal >"$work/topics.out" 2>"$work/topics.err" &
  local topics_pid=$!
  configs --describe --entity-type topics >"$work/configs.out" 2>"$work/configs.err" &
  local configs_pid=$!
  local status=0
  wait "$topics_pid" || status=1
  wait "$configs_pid" || status=1
  return "$status"
}

read_cluster_state() {
  have_partitions=() have_rf=() have_config=()
  local line topic=''
  while IFS= read -r line; do
    if [[ $line =~ ^Topic:\ ([^[:space:]]+)[[:space:]].*PartitionCount:\ ([0-9]+)[[:space:]]+ReplicationFactor:\ ([0-9]+) ]]; then
      have_partitions[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
      have_rf[${BASH_REMATCH[1]}]=${BASH_REMATCH[3]}
    fi
  done <"$work/topics.out"
  # Only topic-level (dynamic) configs are listed: a value inherited from the broker is not pinned
  # on the topic, so a declared value always becomes a topic config.
  while IFS= read -r line; do
    if [[ $line =~ ^Dynamic\ configs\ for\ topic\ ([^[:space:]]+)\ are: ]]; then
      topic=${BASH_REMATCH[1]}
    elif [[ -n $topic && $line =~ ^\ \ ([^=]+)=(.*)\ sensitive=(true|false)\ synonyms= ]]; then
      have_config["$topic ${BASH_REMATCH[1]}"]=${BASH_REMATCH[2]}
    fi
  done <"$work/configs.out"
}

# --- changes, run as background tool JVMs, at most $max_parallel at once ---------------------------
op_count=0
declare -a op_topic op_kind op_summary

run_op() { # <topic> <created|altered> <summary> <command...>
  local id=$op_count
  op_count=$((op_count + 1))
  op_topic[id]=$1 op_kind[id]=$2 op_summary[id]=$3
  shift 3
  while (($(jobs -rp | wc -l) >= max_parallel)); do wait -n || true; done
  log "${op_summary[id]} ..."
  (if "$@" >"$work/op-$id.out" 2>&1; then echo 0; else echo $?; fi >"$work/op-$id.status") &
}

declare -A outcome warned
warnings=0

warn() { # <key> <message>: each warning once, however many passes run
  [[ -n ${warned[$1]-} ]] && return 0
  warned[$1]=1
  warnings=$((warnings + 1))
  log "warning: $2"
}

plan_changes() {
  local name key value config_list change_list current
  for name in "${declared[@]}"; do
    IFS=, read -ra config_list <<<"${want_configs[$name]}"
    if [[ -z ${have_partitions[$name]-} ]]; then
      local create_args=(--create --if-not-exists --topic "$name" --partitions "${want_partitions[$name]}" --replication-factor "${want_rf[$name]}")
      for value in "${config_list[@]}"; do create_args+=(--config "$value"); done
      run_op "$name" created "create $name: partitions=${want_partitions[$name]} replication-factor=${want_rf[$name]} configs=${want_configs[$name]:-none}" \
        topics "${create_args[@]}"
      continue
    fi

    if ((${have_partitions[$name]} < ${want_partitions[$name]})); then
      run_op "$name" altered "$name: partitions ${have_partitions[$name]} -> ${want_partitions[$name]}" \
        topics --alter --topic "$name" --partitions "${want_partitions[$name]}"
    elif ((${have_partitions[$name]} > ${want_partitions[$name]})); then
      warn "$name partitions" "$name has ${have_partitions[$name]} partitions, more than the declared ${want_partitions[$name]}; partitions are never removed"
    fi
    if ((${have_rf[$name]} != ${want_rf[$name]})); then
      warn "$name replication" "$name has replication factor ${have_rf[$name]}, declared ${want_rf[$name]}; changing it needs a partition reassignment, which this job does not do"
    fi

    change_list=()
    for value in "${config_list[@]}"; do
      key=${value%%=*}
      current=${have_config["$name $key"]-}
      if [[ $current != "${value#*=}" ]]; then
        change_list+=("$value")
        log "$name: $key ${current:-(not set on the topic)} -> ${value#*=}"
      fi
    done
    if ((${#change_list[@]} > 0)); then
      local joined
      joined=$(IFS=,; echo "${change_list[*]}")
      run_op "$name" altered "$name: set $joined" \
        configs --alter --entity-type topics --entity-name "$name" --add-config "$joined"
    fi
  done
}

# Returns non-zero when a change failed; a later pass retries it against a fresh describe.
apply_changes() {
  op_count=0
  plan_changes
  wait
  local id status failed=0
  for ((id = 0; id < op_count; id++)); do
    status=$(cat "$work/op-$id.status" 2>/dev/null || echo '?')
    if [[ $status == 0 ]]; then
      log "done: ${op_summary[id]}"
      [[ ${outcome[${op_topic[id]}]-} == created ]] || outcome[${op_topic[id]}]=${op_kind[id]}
    else
      log "failed (exit $status): ${op_summary[id]}"
      sed 's/^/    /' "$work/op-$id.out"
      failed=1
    fi
  done
  return "$failed"
}

# --- reconcile: wait for the brokers, then retry whole passes until one succeeds ------------------
deadline=$((SECONDS + wait_timeout))
while true; do
  if describe_cluster; then
    read_cluster_state
    if apply_changes; then break; fi
  else
    log "the brokers at $BOOTSTRAP_SERVERS do not answer yet:"
    grep -hE 'Exception|Error|error' "$work/topics.err" "$work/configs.err" | head -n 3 | sed 's/^/    /' || true
  fi
  if ((SECONDS >= deadline)); then
    log "error: topics not reconciled within ${wait_timeout}s"
    exit 1
  fi
  sleep 5
done

created=0 altered=0 unchanged=0
for name in "${declared[@]}"; do
  case ${outcome[$name]-unchanged} in
    created) created=$((created + 1)) ;;
    altered) altered=$((altered + 1)) ;;
    *) unchanged=$((unchanged + 1)) ;;
  esac
done
log "summary: created=$created altered=$altered unchanged=$unchanged warnings=$warnings"
