# The Kafka pod's readiness sidecar. One JVM for the pod's lifetime: Kafka's own JmxTool (the stock image's
# kafka-run-class.sh) reads the node's JMX on pod-local 127.0.0.1 every READINESS_INTERVAL_MS, and this loop
# keeps its column names in $READINESS_DIR/header and only its newest sample in $READINESS_DIR/sample. The
# readiness probe (readiness-check.sh) reads those two files with bash builtins: no JVM per probe. The loop
# writes the time to $READINESS_DIR/alive whenever it starts the tool or keeps a sample: the sidecar's
# liveness probe restarts it when that stops (a JMX call that never returns).
#   JMX_URL               the node's JMX service URL
#   READINESS_OBJECTS     JMX object names to read, one per line (property patterns: JmxTool then counts
#                         only the attributes each object has, and prints nothing while one is missing)
#   READINESS_ATTRIBUTES  attributes to keep, comma-separated
#   READINESS_COLUMNS     the columns the probe needs, one per line: JmxTool starts again until it has them all
set -uo pipefail
bin=${KAFKA_HOME:-/opt/kafka}/bin
# bash is the container's PID 1, which the kernel sends no signal it has no handler for: without this trap
# a pod deletion would wait out terminationGracePeriodSeconds (120 s) for the SIGKILL.
tool=
trap '[[ -n $tool ]] && kill "$tool" 2>/dev/null; exit 0' TERM INT
objects=()
while IFS= read -r name; do [[ -n $name ]] && objects+=(--object-name "$name"); done <<<"$READINESS_OBJECTS"
# The node's JMX port (the URL's RMI registry), which its JVM opens early in its start. Until it accepts a
# connection the loop does not start the tool: JmxTool retries a refused connection every 100 ms for 10 s, a stack
# trace each time, then exits, so each try cost a JVM start (~1 CPU second) beside the node's own starting JVM.
[[ $JMX_URL =~ rmi://([^/:]+):([0-9]+)/ ]] || {
  echo "JMX_URL $JMX_URL names no rmi://<host>:<port>/ registry" >&2
  exit 1
}
jmx_port=/dev/tcp/${BASH_REMATCH[1]}/${BASH_REMATCH[2]}

complete_header() {
  local column
  while IFS= read -r column; do
    [[ -z $column || $1 == *"\"$column\""* ]] || return 1
  done <<<"$READINESS_COLUMNS"
}

while :; do
  printf '%s\n' "$EPOCHREALTIME" >"$READINESS_DIR/alive"
  # bash's own TCP connect (opened and closed at once); refused at once on the pod's loopback.
  if ! { : <>"$jmx_port"; } 2>/dev/null; then
    sleep 1
    continue
  fi
  # JmxTool resolves its objects once, when it starts: a broker that registers one later needs a new run.
  exec 3< <(exec "$bin/kafka-run-class.sh" org.apache.kafka.tools.JmxTool --jmx-url "$JMX_URL" \
    --reporting-interval "$READINESS_INTERVAL_MS" --attributes "$READINESS_ATTRIBUTES" "${objects[@]}")
  tool=$!
  if IFS= read -r -u 3 header && complete_header "$header"; then
    printf '%s\n' "$header" >"$READINESS_DIR/header"
    while IFS= read -r -u 3 sample; do
      printf '%s\n' "$sample" >"$READINESS_DIR/sample.next" && mv -f "$READINESS_DIR/sample.next" "$READINESS_DIR/sample"
      printf '%s\n' "$EPOCHREALTIME" >"$READINESS_DIR/alive"
    done
  fi
  kill "$tool" 2>/dev/null
  exec 3<&-
  rm -f "$READINESS_DIR/sample"
  sleep 2
done
