#!/bin/bash
# Spreads the replicas of the declared topics fairly over the brokers 0..$BROKERS-1, moving as few as it can,
# with Kafka's own kafka-reassign-partitions.sh and a replication throttle; a balanced cluster is left alone.
#
# Fair: for every declared topic, and over all of them together, each broker holds within one replica of
# every other (so within one of the mean), and no replica is on a broker id >= $BROKERS (a broker being
# removed is drained). Preferred leaders (the first replica) are spread the same way where swapping the
# order of a partition's replicas can do it (that moves no data).
#
# Why not `--generate`: it computes a fresh round-robin assignment of whole topics, which moves most replicas
# even when one broker was added. Here each step moves one replica from the fullest broker to the emptiest one
# that lacks it, only while the two differ by more than one, so a scale-out from 3 to 5 brokers moves about the
# 2/5 of the replicas the new brokers must hold, and nothing else.
#
# Environment:
#   BOOTSTRAP_SERVERS           host:port[,host:port...] of the brokers
#   TOPICS_FILE                 the declared topics, one name per line ('#' comments)
#   BROKERS                     the broker StatefulSet's replicas: node ids 0..BROKERS-1
#   THROTTLE_BYTES_PER_SECOND   replication throttle while partitions move (kafka-reassign-partitions.sh --throttle)
#   WAIT_TIMEOUT_SECONDS        how long to wait for the brokers, and for the moves to finish (default 1800)
#   KAFKA_HOME                  the Kafka installation (default /opt/kafka, as in the apache/kafka image)
#   KAFKA_CLIENT_TLS_DIR        with kafka.security: the admin certificate's files, for client-tls.sh
set -euo pipefail

: "${BOOTSTRAP_SERVERS:?must be set}"
: "${TOPICS_FILE:?must be set}"
: "${BROKERS:?must be set}"
: "${THROTTLE_BYTES_PER_SECOND:?must be set}"
# shellcheck source=tool-common.sh
source "$(dirname "$0")/tool-common.sh" rebalance 1800
tool() { # <script> <args...>: a Kafka tool against the cluster
  local script=$1
  shift
  "$bin/$script" --bootstrap-server "$BOOTSTRAP_SERVERS" --command-config "$client_config" "$@"
}
wait_a_little() { # <what we wait for>
  ((SECONDS < deadline)) || fail "$1: not within ${wait_timeout}s"
  sleep 5
}

declared=()
while IFS= read -r line || [[ -n $line ]]; do
  line=${line%%#*}
  read -r name _ <<<"$line" || true
  [[ -n ${name-} ]] && declared+=("$name")
done <"$TOPICS_FILE"
declare -A is_declared
for name in "${declared[@]}"; do is_declared[$name]=1; done
brokers=()
for ((b = 0; b < BROKERS; b++)); do brokers+=("$b"); done
log "${#declared[@]} topics declared, brokers ${brokers[*]}"

# --- every broker of the StatefulSet registered, no reassignment of someone else's under way ------------
while true; do
  if tool kafka-broker-api-versions.sh >"$work/brokers.out" 2>&1; then
    registered=$(grep -oE '\(id: [0-9]+ ' "$work/brokers.out" | grep -oE '[0-9]+' | sort -n | tr '\n' ' ' || true)
    missing=()
    for b in "${brokers[@]}"; do [[ " $registered" == *" $b "* ]] || missing+=("$b"); done
    ((${#missing[@]} == 0)) && break
    log "waiting for brokers ${missing[*]} to register (registered: ${registered:-none})"
  else
    log "the brokers at $BOOTSTRAP_SERVERS do not answer yet"
  fi
  wait_a_little 'brokers registered'
done
while true; do
  tool kafka-reassign-partitions.sh --list >"$work/list.out" 2>&1 || fail "kafka-reassign-partitions.sh --list: $(cat "$work/list.out")"
  grep -q 'No partition reassignments found' "$work/list.out" && break
  log 'a reassignment is under way (an earlier attempt, or by hand); waiting for it to finish'
  wait_a_little 'the reassignment under way'
done

# --- the current assignment of the declared topics -----------------------------------------------------
tool kafka-topics.sh --describe --exclude-internal >"$work/topics.out" 2>&1 || fail "kafka-topics.sh --describe: $(cat "$work/topics.out")"
keys=() # "topic partition", in describe order
declare -A before after
while IFS= read -r line; do
  if [[ $line =~ Topic:\ ([^[:space:]]+)[[:space:]]+Partition:\ ([0-9]+)[[:space:]].*Replicas:\ ([0-9,]+) ]]; then
    [[ -n ${is_declared[${BASH_REMATCH[1]}]-} ]] || continue
    key="${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
    keys+=("$key")
    before[$key]=${BASH_REMATCH[3]}
    after[$key]=${BASH_REMATCH[3]}
  fi
done <"$work/topics.out"
((${#keys[@]} > 0)) || {
  log 'none of the declared topics exists yet: nothing to balance'
  exit 0
}

# --- the plan: one replica at a time, from the fullest broker to the emptiest that lacks it -------------
declare -A topic_count global_count
count_replicas() {
  topic_count=() global_count=()
  local key b
  for b in "${brokers[@]}"; do global_count[$b]=0; done
  for key in "${keys[@]}"; do
    for b in ${after[$key]//,/ }; do
      topic_count["${key% *} $b"]=$((${topic_count["${key% *} $b"]-0} + 1))
      global_count[$b]=$((${global_count[$b]-0} + 1))
    done
  done
}
has() { [[ ",$1," == *",$2,"* ]]; }
replace() { # <key> <from> <to>: the replica on <from> moves to <to>, same place in the list
  local list=",${after[$1]},"
  list=${list/,$2,/,$3,}
  list=${list#,}
  after[$1]=${list%,}
}
# The in-range broker with the fewest replicas of <topic> (then overall, then lowest id) that <key> lacks.
emptiest_for() { # <topic> <key>
  local b best=''
  for b in "${brokers[@]}"; do
    has "${after[$2]}" "$b" && continue
    if [[ -z $best ]] || ((${topic_count["$1 $b"]-0} < ${topic_count["$1 $best"]-0})) ||
      ((${topic_count["$1 $b"]-0} == ${topic_count["$1 $best"]-0} && global_count[$b] < global_count[$best])); then best=$b; fi
  done
  printf '%s' "$best"
}

# Replicas on brokers being removed (id >= BROKERS) go first.
for key in "${keys[@]}"; do
  for b in ${after[$key]//,/ }; do
    if ((b >= BROKERS)); then
      count_replicas
      replace "$key" "$b" "$(emptiest_for "${key% *}" "$key")"
    fi
  done
done

# Within each topic, then over all topics (only where the topic stays fair), while two brokers differ by 2+.
move_once() { # <topic or ''>: one move that narrows the spread; fails when there is none to make
  local topic=$1 b key full='' empty='' t
  count_replicas
  local -A load=()
  for b in "${brokers[@]}"; do
    if [[ -n $topic ]]; then load[$b]=${topic_count["$topic $b"]-0}; else load[$b]=${global_count[$b]}; fi
    if [[ -z $full ]] || ((load[$b] > load[$full])) || ((load[$b] == load[$full] && global_count[$b] > global_count[$full])); then full=$b; fi
    if [[ -z $empty ]] || ((load[$b] < load[$empty])) || ((load[$b] == load[$empty] && global_count[$b] < global_count[$empty])); then empty=$b; fi
  done
  ((load[$full] - load[$empty] > 1)) || return 1
  for key in "${keys[@]}"; do
    t=${key% *}
    [[ -z $topic || $t == "$topic" ]] || continue
    has "${after[$key]}" "$full" && ! has "${after[$key]}" "$empty" || continue
    [[ -n $topic ]] || ((${topic_count["$t $full"]-0} > ${topic_count["$t $empty"]-0})) || continue
    replace "$key" "$full" "$empty"
    return 0
  done
  return 1
}
for topic in "${declared[@]}"; do while move_once "$topic"; do :; done; done
while move_once ''; do :; done

# Preferred leaders (first replica): swap a partition's order from the broker leading most to the one
# leading fewest, while they differ by 2+ and such a partition exists.
while true; do
  declare -A leads=()
  for b in "${brokers[@]}"; do leads[$b]=0; done
  for key in "${keys[@]}"; do leads[${after[$key]%%,*}]=$((leads[${after[$key]%%,*}] + 1)); done
  most='' fewest=''
  for b in "${brokers[@]}"; do
    [[ -z $most ]] || ((leads[$b] > leads[$most])) && most=$b
    [[ -z $fewest ]] || ((leads[$b] < leads[$fewest])) && fewest=$b
  done
  ((leads[$most] - leads[$fewest] > 1)) || break
  swapped=''
  for key in "${keys[@]}"; do
    list=${after[$key]}
    if [[ ${list%%,*} == "$most" ]] && has "$list" "$fewest"; then
      rest=",$list,"
      rest=${rest/,$fewest,/,}
      rest=${rest#,}
      after[$key]="$fewest,${rest%,}"
      swapped=1
      break
    fi
  done
  [[ -n $swapped ]] || break
done

count_replicas
summary=''
for b in "${brokers[@]}"; do summary+=" $b:${global_count[$b]}"; done
changed=() moved=0
for key in "${keys[@]}"; do
  [[ ${after[$key]} == "${before[$key]}" ]] && continue
  changed+=("$key")
  for b in ${after[$key]//,/ }; do has "${before[$key]}" "$b" || moved=$((moved + 1)); done
done
if ((${#changed[@]} == 0)); then
  log "balanced: replicas per broker${summary}; nothing to move"
  log 'summary: partitions=0 replicas-moved=0'
  exit 0
fi

json_of() { # <"replicas" or ""> <keys...>: a reassignment (with replicas) or a leader election file
  local field=$1 key sep=''
  shift
  [[ -n $field ]] && printf '{"version":1,"partitions":[' || printf '{"partitions":['
  for key in "$@"; do
    printf '%s{"topic":"%s","partition":%s' "$sep" "${key% *}" "${key##* }"
    [[ -n $field ]] && printf ',"replicas":[%s]' "${after[$key]}"
    printf '}'
    sep=,
  done
  printf ']}\n'
}
json_of replicas "${changed[@]}" >"$work/plan.json"
for key in "${changed[@]}"; do log "${key% *}-${key##* }: ${before[$key]} -> ${after[$key]}"; done
log "moving ${moved} replicas of ${#changed[@]} partitions (replicas per broker after:${summary}), throttled to ${THROTTLE_BYTES_PER_SECOND} bytes/s"

# --- execute, wait, let --verify remove the throttle ---------------------------------------------------
tool kafka-reassign-partitions.sh --reassignment-json-file "$work/plan.json" --execute --throttle "$THROTTLE_BYTES_PER_SECOND" >"$work/execute.out" 2>&1 ||
  fail "kafka-reassign-partitions.sh --execute: $(cat "$work/execute.out")"
# The tool prints the assignment before the move: what a roll-back would apply.
sed -n 's/^{/roll-back plan: {/p' "$work/execute.out" | head -n 1 | while IFS= read -r line; do log "$line"; done
while true; do
  # Once every partition of the plan is done, --verify also clears the throttles it set (unless
  # --preserve-throttles): the broker rates and the topics' throttled-replica lists.
  tool kafka-reassign-partitions.sh --reassignment-json-file "$work/plan.json" --verify >"$work/verify.out" 2>&1 ||
    fail "kafka-reassign-partitions.sh --verify: $(cat "$work/verify.out")"
  pending=$(grep -c 'still in progress' "$work/verify.out" || true)
  ((pending == 0)) && break
  log "${pending} of ${#changed[@]} partitions still moving"
  wait_a_little 'the reassignment'
done
grep -i 'throttl' "$work/verify.out" | while IFS= read -r line; do log "verify: $line"; done

# Leadership follows the preferred replicas now rather than at the brokers' next automatic rebalance: the
# moved partitions', and those whose leader moved away earlier (a broker restart); the others need no election.
json_of '' "${keys[@]}" >"$work/election.json"
if ! tool kafka-leader-election.sh --election-type PREFERRED --path-to-json-file "$work/election.json" >"$work/election.out" 2>&1; then
  log "warning: preferred leader election failed (the brokers' auto.leader.rebalance.enable will move leaders later):"
  sed 's/^/    /' "$work/election.out" | head -n 5
fi

tool kafka-configs.sh --describe --entity-type brokers >"$work/throttle.out" 2>&1 || fail "kafka-configs.sh --describe: $(cat "$work/throttle.out")"
tool kafka-configs.sh --describe --entity-type topics >>"$work/throttle.out" 2>&1 || fail "kafka-configs.sh --describe: $(cat "$work/throttle.out")"
if grep -qE 'replication\.throttled' "$work/throttle.out"; then fail "throttles are still set after --verify: $(grep -E 'replication\.throttled' "$work/throttle.out" | head -n 3)"; fi
log 'no replication throttle left on any broker or topic'
log "summary: partitions=${#changed[@]} replicas-moved=${moved}"
