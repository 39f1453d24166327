# The Kafka pod's tls-reload sidecar. Kafka reads its PEM keystore at start and watches no file (KIP-687 was
# never implemented); cert-manager renews the certificate in its Secret, which the kubelet swaps into the mounted
# volume in one step. Every TLS_RELOAD_INTERVAL seconds this loop compares the Secret's tls.key and tls.crt with
# the keystore the Kafka container joined from them, and on a change:
#   1. joins the new pair beside the keystore and tries it: a Kafka tool presents it as its client certificate to
#      this node's own certificate listener. A key that does not belong to the certificate (TLS 1.3's
#      CertificateVerify fails) or a certificate of a CA the node does not trust is refused there; the last good
#      keystore stays in place and in use, and that pair is not tried again (the next renewal is).
#   2. renames it over the keystore (atomic: Kafka never reads half a file),
#   3. has the node reload it: an incremental alter of its own per-node config that sets
#      listener.name.<listener>.ssl.keystore.location to the same path for each of its TLS listeners. The controller
#      writes a ConfigRecord even for an unchanged per-node value (ConfigurationControlManager, KAFKA-14136); the
#      node applies it and, for its own node id, reloads the stores of every listener whose settings did not change
#      (DynamicConfigPublisher -> DynamicBrokerConfig.reloadUpdatedFilesWithoutConfigChange -> SslFactory.reconfigure,
#      which rebuilds when DefaultSslEngineFactory.shouldBeRebuilt sees the keystore's or truststore's modification
#      time change). The subject and SANs must stay the same (SslFactory.CertificateEntries.ensureCompatible,
#      ssl.allow.dn.changes/ssl.allow.san.changes false): cert-manager renews the same Certificate, so they do.
#      Existing connections keep their session; new ones get the new certificate.
# A change of ca.crt alone (the truststore, read from the Secret's file) is reloaded the same way, without step 1-2.
# A tool that fails (the node down or busy) is tried again at the next turn. Each tool run is bounded.
#   TLS_DIR                        the mounted certificate Secret (tls.crt, tls.key, ca.crt)
#   KAFKA_SSL_KEYSTORE_LOCATION    the keystore the Kafka container wrote at start (the shared RAM-backed volume)
#   TLS_RELOAD_INTERVAL            seconds between two looks
#   TLS_RELOAD_STATE               a writable directory: the client settings, the tools' output, the heartbeat
#                                  (tls-reload.alive), which the probes read
#   TLS_RELOAD_BOOTSTRAP           this node's certificate listener: --bootstrap-server <host:9095> (a broker) or
#                                  --bootstrap-controller <host:9093> (a dedicated controller)
#   TLS_RELOAD_NODE_ID_BASE        node.id = this + POD_INDEX (the pod's ordinal)
#   TLS_RELOAD_LISTENERS           this node's TLS listeners, space-separated, lowercase
#   TLS_RELOAD_TOOL_TIMEOUT        seconds one tool run may take
set -uo pipefail
bin=${KAFKA_HOME:-/opt/kafka}/bin
keystore=$KAFKA_SSL_KEYSTORE_LOCATION
candidate=$keystore.next
client=$TLS_RELOAD_STATE/tls-reload-client.properties
output=$TLS_RELOAD_STATE/tls-reload.out
tool=
# bash is the container's PID 1, which the kernel sends no signal it has no handler for: without this trap
# a pod deletion would wait out terminationGracePeriodSeconds for the SIGKILL.
trap '[[ -n $tool ]] && kill "$tool" 2>/dev/null; exit 0' TERM INT
read -r -a listeners <<<"$TLS_RELOAD_LISTENERS"
settings=
for listener in "${listeners[@]}"; do settings+="${settings:+,}listener.name.$listener.ssl.keystore.location=$keystore"; done
read -r -a bootstrap <<<"$TLS_RELOAD_BOOTSTRAP"
node_id=$((TLS_RELOAD_NODE_ID_BASE + POD_INDEX))

log() { echo "$(date -u +%FT%TZ) $*"; }
digest() { cat "$@" 2>/dev/null | sha256sum; }

# kafka-configs.sh on this node's certificate listener, presenting the keystore $1 (the node's own principal).
configs() {
  local presented=$1
  shift
  printf '%s\n' 'security.protocol=SSL' 'ssl.keystore.type=PEM' "ssl.keystore.location=$presented" 'ssl.truststore.type=PEM' \
    "ssl.truststore.location=$TLS_DIR/ca.crt" 'request.timeout.ms=10000' 'default.api.timeout.ms=20000' >"$client"
  # A controller is reached again at the endpoint it registered, which its launcher cannot set (the host of an
  # unnamed listener, not a name of the certificate): the chain is still verified against the CA, on the pod's own
  # address; only the host-name match is left out.
  [[ ${bootstrap[0]} == --bootstrap-controller ]] && echo 'ssl.endpoint.identification.algorithm=' >>"$client"
  timeout "$TLS_RELOAD_TOOL_TIMEOUT" "$bin/kafka-configs.sh" "${bootstrap[@]}" --command-config "$client" --entity-type brokers --entity-name "$node_id" "$@" >"$output" 2>&1 &
  tool=$!
  wait "$tool"
  local status=$?
  tool=
  return "$status"
}
# The tool's reason: its first exception line (a Java stack trace follows it), else its last line.
last_words() { grep -m 1 -E 'Exception|Error' "$output" || tail -n 1 "$output"; }

# A file, not a variable: a restarted sidecar still knows that Kafka has not reloaded the keystore it rebuilt.
pending=$TLS_RELOAD_STATE/tls-reload.pending
rejected=
truststore=$(digest "$TLS_DIR/ca.crt")
while :; do
  printf '%s\n' "$EPOCHREALTIME" >"$TLS_RELOAD_STATE/tls-reload.alive"
  # The Kafka container writes the keystore when it starts: until then there is nothing to compare.
  if [[ -s $keystore ]] && wanted=$(digest "$TLS_DIR/tls.key" "$TLS_DIR/tls.crt") && [[ $wanted != "$(digest "$keystore")" && $wanted != "$rejected" ]]; then
    (umask 077 && cat "$TLS_DIR/tls.key" "$TLS_DIR/tls.crt" >"$candidate")
    if configs "$candidate" --describe; then
      : >"$pending"
      mv -f "$candidate" "$keystore"
      log "the certificate in $TLS_DIR changed: keystore $keystore rebuilt"
    elif configs "$keystore" --describe; then
      # The node admits its current keystore but not the new pair: the pair is at fault, not the node.
      rm -f "$candidate"
      rejected=$wanted
      log "the certificate in $TLS_DIR changed but node $node_id refuses it (a key that does not belong to the certificate, or a CA it does not trust): it keeps serving the last good keystore" >&2
    else
      rm -f "$candidate"
      log "could not reach node $node_id to try the renewed certificate, trying again in ${TLS_RELOAD_INTERVAL} s: $(last_words)" >&2
    fi
  fi
  current_truststore=$(digest "$TLS_DIR/ca.crt")
  [[ $current_truststore != "$truststore" ]] && : >"$pending"
  if [[ -e $pending ]]; then
    if configs "$keystore" --alter --add-config "$settings"; then
      rm -f "$pending"
      truststore=$current_truststore
      log "node $node_id reloaded its keystore and truststore on listeners ${listeners[*]}"
    else
      log "could not have node $node_id reload its certificate, trying again in ${TLS_RELOAD_INTERVAL} s: $(last_words)" >&2
    fi
  fi
  sleep "$TLS_RELOAD_INTERVAL" &
  wait $!
done
