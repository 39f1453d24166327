# The Kafka pod's readiness probe: bash builtins only (it runs every few seconds), on the newest JMX sample
# the readiness sidecar keeps (readiness-watch.sh). Ready means it is safe to take the next pod:
#   broker      BrokerState is RUNNING (3); no partition this broker leads is under-replicated (while any
#               broker catches up, the leaders of its partitions are not Ready, so a PodDisruptionBudget holds
#               until it has); and its replica fetchers are caught up with their leaders (MaxLag 0), so a
#               restarted broker is not Ready while it still catches up as a follower. The StatefulSet
#               controller under podManagementPolicy Parallel deletes the next pod of a roll once the pods above
#               it are available, looking at no other pod (README, "Kafka operations"): the restarted broker's
#               own readiness is what holds the roll.
#   controller  the KRaft state is leader or follower of a known leader: a voter that has not heard from a
#               leader within controller.quorum.fetch.timeout.ms becomes a candidate (KIP-595).
# Environment: KAFKA_PROCESS_ROLES (the node's own), READINESS_DIR, READINESS_MAX_AGE_MS.
set -u
fail() { echo "not ready: $*"; exit 1; }
[[ -r $READINESS_DIR/header && -r $READINESS_DIR/sample ]] || fail 'no JMX sample yet (the readiness sidecar starts with the node)'
IFS= read -r header <"$READINESS_DIR/header"
IFS= read -r sample <"$READINESS_DIR/sample"
# The header's keys are quoted and hold commas ("kafka.server:type=X,name=Y:Value"); the values do not.
header=${header#\"}
header=${header%\"}
declare -A value
IFS=, read -ra values <<<"$sample"
i=0
while [[ -n $header ]]; do
  key=${header%%\",\"*}
  value[$key]=${values[i]-}
  [[ $header == *\",\"* ]] && header=${header#*\",\"} || header=''
  i=$((i + 1))
done
now_ms=${EPOCHREALTIME/./}
now_ms=${now_ms:0:-3}
age_ms=$((now_ms - ${value[time]:-0}))
((age_ms <= READINESS_MAX_AGE_MS)) || fail "the newest JMX sample is ${age_ms} ms old (the node's JMX does not answer)"
if [[ ,$KAFKA_PROCESS_ROLES, == *,broker,* ]]; then
  state=${value['kafka.server:type=KafkaServer,name=BrokerState:Value']-}
  urp=${value['kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions:Value']-}
  [[ $state == 3 ]] || fail "broker state ${state:-unknown}, not RUNNING (3)"
  [[ $urp == 0 ]] || fail "${urp:-unknown} partition(s) led here are under-replicated: a replica is catching up"
  lag=${value['kafka.server:type=ReplicaFetcherManager,name=MaxLag,clientId=Replica:Value']-}
  [[ $lag == 0 ]] || fail "${lag:-unknown} message(s) behind a partition leader: catching up as a follower"
fi
if [[ ,$KAFKA_PROCESS_ROLES, == *,controller,* ]]; then
  raft=${value['kafka.server:type=raft-metrics:current-state']-}
  leader=${value['kafka.server:type=raft-metrics:current-leader']-}
  [[ $raft == leader || $raft == follower ]] || fail "KRaft state ${raft:-unknown}: not following a quorum leader"
  [[ ${leader%.*} -ge 0 ]] 2>/dev/null || fail "no known quorum leader (${leader:-unknown})"
fi
echo ready
