#!/bin/bash
# Raises the cluster's finalized feature levels (metadata.version first of all) to those of the release the
# Kafka image runs, with Kafka's own kafka-features.sh, once every broker and controller runs that release;
# a cluster already there is left alone.
#
# Why it waits: a node still on the old release cannot read records of the new metadata.version. The active
# controller refuses such an update itself: FeatureControlManager.reasonNotSupported (apache/kafka,
# metadata/src/main/java/org/apache/kafka/controller/FeatureControlManager.java) checks the level against its
# own software, every registered broker's supported range (a broker being replaced keeps its old
# registration, fenced, until it registers again on the new release) and every voter's controller
# registration ("controller N has not registered, and may not support this feature"). This script asks that
# same validation first (`upgrade --dry-run`, validateOnly) and waits while it refuses; the real update is
# one UpdateFeatures request, which the controller applies atomically (ControllerResult.atomicOf): all of
# the features or none.
#
# kraft.version is left where it is: the voters are static (controller.quorum.voters), and raising
# kraft.version would turn the quorum dynamic (KIP-853), which these manifests do not run (README,
# "Kafka operations").
#
# Environment:
#   BOOTSTRAP_SERVERS      host:port[,host:port...] of the brokers
#   RELEASE_VERSION        the image's Kafka release, major.minor (kafka-features.sh version-mapping --release-version)
#   WAIT_TIMEOUT_SECONDS   how long to wait for the brokers and for every node to run the release (default 900)
#   KAFKA_HOME             the Kafka installation (default /opt/kafka, as in the apache/kafka image)
#   KAFKA_CLIENT_TLS_DIR   with kafka.security: the admin certificate's files, for client-tls.sh
set -euo pipefail

: "${BOOTSTRAP_SERVERS:?must be set}"
: "${RELEASE_VERSION:?must be set}"
# shellcheck source=tool-common.sh
source "$(dirname "$0")/tool-common.sh" features 900
features() { # <args...>: kafka-features.sh against the cluster
  "$bin/kafka-features.sh" --bootstrap-server "$BOOTSTRAP_SERVERS" --command-config "$client_config" "$@"
}

# --- the release's feature levels, as this image's own tools define them ---------------------------------
# version-mapping is answered by the tool itself (no request to the cluster); it refuses a release it does not know.
features version-mapping --release-version "$RELEASE_VERSION" >"$work/mapping.out" 2>&1 ||
  fail "this image's kafka-features.sh does not know release $RELEASE_VERSION: $(grep -v WARN "$work/mapping.out" | head -3)"
declare -A target
while IFS='=' read -r name rest; do
  if [[ $name =~ ^[a-z][a-z.]*$ && $rest =~ ^([0-9]+) ]]; then target[$name]=${BASH_REMATCH[1]}; fi
done <"$work/mapping.out"
[[ -n ${target[metadata.version]-} ]] || fail "no metadata.version in the release mapping: $(cat "$work/mapping.out")"
log "release $RELEASE_VERSION: metadata.version level ${target[metadata.version]}"

# --- what the cluster has finalized --------------------------------------------------------------------
# describe prints metadata.version by name (4.2-IV1) and every other feature as a number.
describe() {
  while ! features describe >"$work/describe.out" 2>&1; do
    log "the brokers at $BOOTSTRAP_SERVERS do not answer yet: $(grep -v WARN "$work/describe.out" | tail -1)"
    ((SECONDS < deadline)) || fail "the brokers did not answer within ${wait_timeout}s"
    sleep 5
  done
}
finalized() { # <feature>: its FinalizedVersionLevel in the last describe
  awk -v feature="$1" '$1 == "Feature:" && $2 == feature { for (i = 3; i < NF; i++) if ($i == "FinalizedVersionLevel:") print $(i + 1) }' "$work/describe.out"
}
describe
current_metadata=$(finalized metadata.version)
[[ -n $current_metadata ]] || fail "describe shows no finalized metadata.version: $(cat "$work/describe.out")"
metadata_level() { # <metadata.version name, e.g. 4.2-IV1>: its feature level, by this image's own mapping
  features version-mapping --release-version "$1" >"$work/level.out" 2>&1 ||
    fail "the cluster runs metadata.version $1, which this image's tools do not know: is the image older than the cluster?"
  sed -n 's/^metadata\.version=\([0-9]*\).*/\1/p' "$work/level.out"
}
current_level=$(metadata_level "$current_metadata")

updates=()
for name in "${!target[@]}"; do
  if [[ $name == kraft.version ]]; then continue; fi
  if [[ $name == metadata.version ]]; then
    have=$current_level
  else
    have=$(finalized "$name")
    have=${have:-0}
  fi
  if ((have > target[$name])); then
    log "$name is finalized at $have, above release $RELEASE_VERSION's ${target[$name]}: left alone (a downgrade is not this Job's)"
  elif ((have < target[$name])); then
    updates+=(--feature "$name=${target[$name]}")
  fi
done
if ((${#updates[@]} == 0)); then
  log "already at release $RELEASE_VERSION (metadata.version $current_metadata): nothing to do"
  log "summary: raised=0 metadata.version=$current_metadata"
  exit 0
fi
log "metadata.version $current_metadata (level $current_level) -> level ${target[metadata.version]}; to raise: ${updates[*]}"

# --- every broker and controller must support the new levels: the controller's own validation -----------
while ! features upgrade "${updates[@]}" --dry-run >"$work/dry-run.out" 2>&1; do
  reason=$(grep -E 'Can not|Invalid|does not support|not registered' "$work/dry-run.out" | head -3 || true)
  if ((SECONDS >= deadline)); then
    log "refusing: not every broker and controller runs release $RELEASE_VERSION yet; nothing was changed."
    log "the controller says: ${reason:-$(tail -3 "$work/dry-run.out")}"
    fail "finish rolling every Kafka pod onto the $RELEASE_VERSION image (kubectl -n <namespace> rollout status statefulset/<name> for the brokers and the controllers), then run this Job again"
  fi
  log "waiting: not every node supports the new levels yet (${reason:-$(tail -1 "$work/dry-run.out")})"
  sleep 5
done

# --- the update, and a check that it is finalized --------------------------------------------------------
features upgrade "${updates[@]}" >"$work/upgrade.out" 2>&1 || fail "kafka-features.sh upgrade failed: $(cat "$work/upgrade.out")"
sed 's/^/  /' "$work/upgrade.out"
# The broker that answers describe learns the new level from the metadata log a moment later.
for ((attempt = 0; attempt < 10; attempt++)); do
  describe
  now=$(finalized metadata.version)
  now_level=$(metadata_level "$now")
  if ((now_level == target[metadata.version])); then break; fi
  sleep 2
done
((now_level == target[metadata.version])) || fail "metadata.version is $now (level $now_level) after the upgrade, not level ${target[metadata.version]}"
log "summary: raised=$((${#updates[@]} / 2)) metadata.version=$now"
