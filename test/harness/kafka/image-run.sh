#!/usr/bin/env bash
# The apache/kafka image's launcher (/etc/kafka/docker/run -> configureDefaults, configure, launch), as the
# Kafka test harness runs it on the host. The container's own command execs this in place of the image's
# file, with the container's environment unchanged. The image's paths come from the harness:
#   LEARNFLOW_HARNESS_KAFKA_HOME       /opt/kafka (bin/ scripts over the Maven Central jars)
#   LEARNFLOW_HARNESS_IMAGE_DEFAULTS   /etc/kafka/docker (default server.properties and log4j2 files)
#   LEARNFLOW_HARNESS_MOUNTED_CONFIGS  /mnt/shared/config
#   LEARNFLOW_HARNESS_CONFIG_DIR       /opt/kafka/config, or empty when the container cannot write there
#   LEARNFLOW_HARNESS_POD_IP           the loopback address that stands for the pod's IP
#   LEARNFLOW_HARNESS_POD_HOSTNAME     the pod's DNS name (<pod>.<headless Service>.<namespace>.svc.cluster.local)
set -euo pipefail

kafka_home=$LEARNFLOW_HARNESS_KAFKA_HOME
config_dir=$LEARNFLOW_HARNESS_CONFIG_DIR

# configureDefaults: the image's fallback cluster id.
export CLUSTER_ID=${CLUSTER_ID-5L6g3nShT-eMCtK--X86sw}

# configure
if [[ -n ${KAFKA_PROCESS_ROLES-} ]]; then
  if [[ -z ${CLUSTER_ID} ]]; then
    echo 'CLUSTER_ID environment variable not set'
    exit 1
  fi
  if [[ $KAFKA_PROCESS_ROLES == controller ]]; then
    if [[ -n ${KAFKA_ADVERTISED_LISTENERS-} ]]; then
      echo 'KAFKA_ADVERTISED_LISTENERS is not supported on a KRaft controller.'
      exit 1
    fi
    unset KAFKA_ADVERTISED_LISTENERS
  fi
fi
if [[ -z ${KAFKA_LISTENERS-} && ${KAFKA_PROCESS_ROLES-} != controller && -n ${KAFKA_ADVERTISED_LISTENERS-} ]]; then
  export KAFKA_LISTENERS
  # shellcheck disable=SC2001 # the image's own substitution, kept as it is written there
  KAFKA_LISTENERS=$(sed -e 's|://[^:]*:|://0.0.0.0:|g' <<<"$KAFKA_ADVERTISED_LISTENERS")
fi
# The image refuses to start when /opt/kafka/config is not writable (a read-only root filesystem
# without a volume there).
if [[ -z $config_dir || ! -w $config_dir ]]; then
  echo '/opt/kafka/config/ file not writable'
  exit 1
fi
# The image's own SSL and SASL branches key off listener *names* (SSL://, SASL_...://): JKS files and password
# files under /etc/kafka/secrets, a JAAS file in KAFKA_OPTS. dist/ names its listeners INTERNAL, EXTERNAL,
# INTERBROKER and CONTROLLER and sets their protocols in KAFKA_LISTENER_SECURITY_PROTOCOL_MAP (PEM files from
# mounted Secrets, plain properties), so it never takes them; the harness refuses a manifest that would.
if [[ ${KAFKA_ADVERTISED_LISTENERS-} == *SSL://* || ${KAFKA_ADVERTISED_LISTENERS-} =~ SASL_.*:// ]]; then
  echo 'the Kafka test harness does not emulate the image SSL/SASL set-up of listeners named SSL or SASL_* (/etc/kafka/secrets); name the listeners otherwise and map their protocols, as dist/ does'
  exit 1
fi

# launch: KafkaDockerWrapper writes server.properties from the KAFKA_* variables and formats the
# storage with CLUSTER_ID; on a restart the storage is already formatted, which the image tolerates.
if ! result=$("$kafka_home/bin/kafka-run-class.sh" kafka.docker.KafkaDockerWrapper setup \
  --default-configs-dir "$LEARNFLOW_HARNESS_IMAGE_DEFAULTS" \
  --mounted-configs-dir "$LEARNFLOW_HARNESS_MOUNTED_CONFIGS" \
  --final-configs-dir "$config_dir" 2>&1); then
  echo "$result"
  grep -qi 'already formatted' <<<"$result" || exit 1
fi
echo "$result"

# The pod's network namespace: a listener bound to all interfaces (`NAME://:port`) binds the pod's IP,
# and a listener advertised as localhost:<port> is what `kubectl port-forward <port>:<containerPort>`
# exposes, so it binds 127.0.0.1:<port>. Everything else in server.properties stays as generated.
property() {
  awk -v key="$1" 'index($0, key "=") == 1 { value = substr($0, length(key) + 2) } END { print value }' "$config_dir/server.properties"
}
advertised=",$(property advertised.listeners),"
bound=()
IFS=, read -ra listeners <<<"$(property listeners)"
for listener in "${listeners[@]}"; do
  name=${listener%%://*}
  port=${listener##*:}
  advertised_address=${advertised#*,"$name"://}
  advertised_address=${advertised_address%%,*}
  if [[ $advertised == *,"$name"://localhost:* ]]; then
    bound+=("$name://127.0.0.1:${advertised_address#localhost:}")
  else
    bound+=("$name://$LEARNFLOW_HARNESS_POD_IP:$port")
  fi
done
bound_listeners=$(IFS=,; echo "${bound[*]}")
echo "===> Binding listeners $bound_listeners"
overrides=(--override "listeners=$bound_listeners")
# A node without advertised.listeners (a dedicated KRaft voter: the image's launcher unsets them) advertises its
# listeners as bound, and a listener bound to all interfaces as the pod's canonical host name (Kafka resolves an
# empty host with InetAddress.getLocalHost().getCanonicalHostName(), ListenerInfo#withWildcardHostnamesResolved),
# which in a StatefulSet pod is its DNS name: the kubelet's /etc/hosts names the pod IP by it first. Bound to the
# pod's loopback address here, the voter would advertise that address, which no certificate names: the brokers
# that learn a newly elected leader's endpoint from the quorum (KRaft's NodeEndpoints) then fail its TLS host check.
if [[ $advertised == ,, ]]; then
  announced=()
  for listener in "${listeners[@]}"; do
    host=${listener#*://}
    host=${host%:*}
    announced+=("${listener%%://*}://${host:-$LEARNFLOW_HARNESS_POD_HOSTNAME}:${listener##*:}")
  done
  overrides+=(--override "advertised.listeners=$(IFS=,; echo "${announced[*]}")")
fi

exec "$kafka_home/bin/kafka-server-start.sh" "$config_dir/server.properties" "${overrides[@]}"
