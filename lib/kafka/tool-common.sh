#!/bin/bash
# Sourced by the scripts of the Kafka tool Jobs (KafkaToolJob ships it beside them: rebalance.sh, features.sh,
# users.sh) as `source tool-common.sh <log tag> <default wait in seconds>`. It sets:
#   bin, wait_timeout, deadline   the Kafka tools, and the deadline of WAIT_TIMEOUT_SECONDS (else the default)
#   work                          a private directory, removed at exit
#   log, fail                     lines tagged [<log tag>]; fail exits 1
#   client_config                 the tools' --command-config; with kafka.security (KAFKA_CLIENT_TLS_DIR) the
#                                 admin certificate on the TLS client-certificate listener (client-tls.sh)
bin=${KAFKA_HOME:-/opt/kafka}/bin
wait_timeout=${WAIT_TIMEOUT_SECONDS:-$2}
deadline=$((SECONDS + wait_timeout))
# Short-lived tool JVMs: C1 only and the serial collector start in about half the CPU time.
export KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log_tag=$1
log() { printf '[%s] %s\n' "$log_tag" "$*"; }
fail() {
  log "error: $*" >&2
  exit 1
}

client_config=$work/client.properties
printf '%s\n' 'request.timeout.ms=10000' 'default.api.timeout.ms=10000' >"$client_config"
# shellcheck source=client-tls.sh
[[ -z ${KAFKA_CLIENT_TLS_DIR-} ]] || source "$(dirname "${BASH_SOURCE[0]}")/client-tls.sh" "$client_config"
