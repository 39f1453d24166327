#!/bin/bash
# Reconciles Kafka's SCRAM users and ACLs with the ones declared in $USERS_FILE and $ACLS_FILE, for the
# principals whose name starts with $OWNED_PREFIX only (kafka.security; lib/kafka/users-job.ts):
#   - every declared user gets its SCRAM-SHA-512 credential set to the password in its file (an upsert: a
#     changed password in the Secret takes effect when the Job runs again);
#   - a SCRAM user with the prefix that is not declared is deleted;
#   - a declared ACL that is missing is added; an ACL of a principal with the prefix that is not declared is
#     removed. Users and ACLs of any other principal are never touched. A re-run adds and removes no ACL.
# No password is ever on a command line or in the log: kafka-configs.sh reads it from --add-config-file, a
# file on a RAM-backed emptyDir that lives only for that call.
#
# $USERS_FILE: one user a line, `<principal> <password file in $CREDENTIALS_DIR>`.
# $ACLS_FILE:  one binding a line, `<principal> <TOPIC|GROUP> <literal name> <operation>`: ALLOW from any host.
#
# Environment:
#   BOOTSTRAP_SERVERS     host:port[,host:port...] of the brokers (the admin listener)
#   USERS_FILE, ACLS_FILE the declarations above
#   CREDENTIALS_DIR       the mounted passwords (the `password` keys of the credentials Secrets)
#   OWNED_PREFIX          the principals this Job owns (learnflow.)
#   SCRAM_WORK_DIR        a RAM-backed directory for the credential files
#   WAIT_TIMEOUT_SECONDS  how long to wait for the brokers (default 300)
#   KAFKA_HOME            the Kafka installation (default /opt/kafka, as in the apache/kafka image)
#   KAFKA_CLIENT_TLS_DIR  with kafka.security: the admin certificate's files, for client-tls.sh
set -euo pipefail

: "${BOOTSTRAP_SERVERS:?must be set}"
: "${USERS_FILE:?must be set}"
: "${ACLS_FILE:?must be set}"
: "${OWNED_PREFIX:?must be set}"
: "${SCRAM_WORK_DIR:?must be set}"
: "${CREDENTIALS_DIR:?must be set}"
# shellcheck source=tool-common.sh
source "$(dirname "$0")/tool-common.sh" kafka-users 300
# The SCRAM-SHA-512 iterations of every credential (Kafka's minimum for the mechanism is 4096).
iterations=8192
# The credential files, written only for a moment, go too.
trap 'rm -rf "$work" "$SCRAM_WORK_DIR"/credential.*' EXIT
configs() { "$bin/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP_SERVERS" --command-config "$client_config" "$@"; }
acls() { "$bin/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP_SERVERS" --command-config "$client_config" "$@"; }
owned() { [[ $1 == "$OWNED_PREFIX"* ]]; }

# --- the declarations -----------------------------------------------------------------------------------
declare -A want_user want_acl
while read -r principal file extra; do
  [[ -z ${principal-} ]] && continue
  [[ -n $file && $file != */* && -z ${extra-} ]] || fail "$USERS_FILE: expected '<principal> <password file name>', got: $principal $file $extra"
  owned "$principal" || fail "$USERS_FILE: $principal does not start with $OWNED_PREFIX, which this Job owns"
  want_user[$principal]=$file
done <"$USERS_FILE"
while read -r principal type name operation extra; do
  [[ -z ${principal-} ]] && continue
  [[ $type =~ ^(TOPIC|GROUP)$ && -n $operation && -z ${extra-} ]] || fail "$ACLS_FILE: expected '<principal> <TOPIC|GROUP> <name> <operation>', got: $principal $type $name $operation $extra"
  owned "$principal" || fail "$ACLS_FILE: $principal does not start with $OWNED_PREFIX, which this Job owns"
  want_acl["User:$principal|ALLOW|*|$type|LITERAL|$name|$operation"]=1
done <"$ACLS_FILE"
log "declared: ${#want_user[@]} users, ${#want_acl[@]} ACLs (principals $OWNED_PREFIX*)"

# --- the ACLs the cluster has (the first call: it waits for the brokers) ----------------------------------
while ! acls --list >"$work/acls.out" 2>"$work/acls.err"; do
  ((SECONDS < deadline)) || fail "the brokers at $BOOTSTRAP_SERVERS did not answer within ${wait_timeout}s: $(grep -v WARN "$work/acls.err" | tail -2)"
  log "waiting for the brokers at $BOOTSTRAP_SERVERS: $(grep -v WARN "$work/acls.err" | tail -1)"
  sleep 5
done
# Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=x, patternType=LITERAL)`:
#   (principal=User:y, host=*, operation=WRITE, permissionType=ALLOW)
declare -A have_acl
resource=''
while IFS= read -r line; do
  if [[ $line =~ resourceType=([A-Z_]+),\ name=(.*),\ patternType=([A-Z]+)\) ]]; then
    resource="${BASH_REMATCH[1]}|${BASH_REMATCH[3]}|${BASH_REMATCH[2]}"
  elif [[ $line =~ \(principal=(.*),\ host=(.*),\ operation=([A-Z_]+),\ permissionType=([A-Z]+)\) ]]; then
    principal=${BASH_REMATCH[1]}
    owned "${principal#User:}" || continue
    IFS='|' read -r type pattern name <<<"$resource"
    have_acl["$principal|${BASH_REMATCH[4]}|${BASH_REMATCH[2]}|$type|$pattern|$name|${BASH_REMATCH[3]}"]=1
  fi
done <"$work/acls.out"

# --- users --------------------------------------------------------------------------------------------
configs --describe --entity-type users >"$work/users.out" 2>"$work/users.err" || fail "kafka-configs.sh --describe --entity-type users: $(grep -v WARN "$work/users.err" | tail -3)"
# SCRAM credential configs for user-principal 'x' are SCRAM-SHA-512=iterations=8192
declare -A have_user
while IFS= read -r line; do
  if [[ $line =~ ^SCRAM\ credential\ configs\ for\ user-principal\ \'(.*)\'\ are\ (.*)$ ]]; then
    have_user[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
  fi
done <"$work/users.out"

upserted=0 removed_users=0
for principal in $(printf '%s\n' "${!want_user[@]}" | sort); do
  file=$CREDENTIALS_DIR/${want_user[$principal]}
  [[ -r $file ]] || fail "no password file $file for $principal: is its Secret mounted?"
  # The file's bytes as they are ($(<file) would drop a trailing newline that Dapr and the verifier then send).
  IFS= read -r -d '' password <"$file" || true
  # A properties line that kafka-configs.sh reads as-is (no escapes, no separators in the value): ConfigCommand
  # matches it against `(?:iterations=(-?[0-9]*),)?password=(.*)` (kafka.admin.ConfigCommand, Kafka 4.x); the
  # brackets of --add-config's 'SCRAM-SHA-512=[...]' are that option's syntax, not the file's.
  [[ $password =~ ^[A-Za-z0-9._~+/=-]{16,}$ ]] || fail "the password of $principal ($file) must be at least 16 characters of [A-Za-z0-9._~+/=-], no newline (Dapr sends the bytes as they are); recreate its Secret with npm run secrets"
  credential=$(umask 077 && mktemp "$SCRAM_WORK_DIR/credential.XXXXXX")
  printf 'SCRAM-SHA-512=iterations=%s,password=%s\n' "$iterations" "$password" >"$credential"
  unset password
  if ! configs --alter --entity-type users --entity-name "$principal" --add-config-file "$credential" >"$work/alter.out" 2>&1; then
    rm -f "$credential"
    # The tool may echo the property it refused: never the password.
    fail "setting the SCRAM credential of $principal failed: $(grep -v WARN "$work/alter.out" | tail -3 | sed -E 's/password=[^],[:space:]]*/password=<redacted>/g')"
  fi
  rm -f "$credential"
  if [[ -n ${have_user[$principal]-} ]]; then log "user $principal: credential set again (SCRAM-SHA-512)"; else log "user $principal: created (SCRAM-SHA-512)"; fi
  upserted=$((upserted + 1))
done
for principal in $(printf '%s\n' "${!have_user[@]}" | sort); do
  owned "$principal" && [[ -z ${want_user[$principal]-} ]] || continue
  # Every mechanism the user has: SCRAM-SHA-512=iterations=8192, SCRAM-SHA-256=...
  mechanisms=$(grep -o 'SCRAM-SHA-[0-9]*' <<<"${have_user[$principal]}" | paste -sd, -)
  configs --alter --entity-type users --entity-name "$principal" --delete-config "$mechanisms" >"$work/alter.out" 2>&1 ||
    fail "deleting the SCRAM user $principal failed: $(grep -v WARN "$work/alter.out" | tail -3)"
  log "user $principal: deleted (not declared)"
  removed_users=$((removed_users + 1))
done

# --- ACLs ---------------------------------------------------------------------------------------------
# One kafka-acls.sh call adds (or removes) every principal x operation x resource it is given: the bindings
# are grouped by principal, permission, host, resource type, pattern and operation set, one call per group.
flag_of() { # <resource type>: kafka-acls.sh's option for it
  case $1 in
    TOPIC) echo --topic ;; GROUP) echo --group ;; CLUSTER) echo --cluster ;; TRANSACTIONAL_ID) echo --transactional-id ;;
    DELEGATION_TOKEN) echo --delegation-token ;; USER) echo --user-principal ;; *) fail "unknown ACL resource type $1" ;;
  esac
}
words() { tr ' ' '\n' <<<"$1" | { grep -v '^$' || true; } | sort | paste -sd' ' -; } # <words>: sorted, one space apart
# kafka-acls.sh --operation takes Kafka's camel-case names (DescribeConfigs); --list prints DESCRIBE_CONFIGS.
camel_case() {
  local word result=''
  for word in ${1//_/ }; do
    word=${word,,}
    result+=${word^}
  done
  echo "$result"
}
apply_acls() { # <--add|--remove> <binding keys...>
  local action=$1
  shift
  declare -A operations_of names_of
  local key principal permission host type pattern name operation group
  for key in "$@"; do
    IFS='|' read -r principal permission host type pattern name operation <<<"$key"
    operations_of["$principal|$permission|$host|$type|$pattern|$name"]+="$operation "
  done
  for key in "${!operations_of[@]}"; do
    IFS='|' read -r principal permission host type pattern name <<<"$key"
    group="$principal|$permission|$host|$type|$pattern|$(words "${operations_of[$key]}")"
    names_of[$group]+="$name"$'\n'
  done
  for group in "${!names_of[@]}"; do
    IFS='|' read -r principal permission host type pattern operations <<<"$group"
    local args=("$action" --force --resource-pattern-type "$pattern")
    if [[ $permission == ALLOW ]]; then args+=(--allow-principal "$principal" --allow-host "$host"); else args+=(--deny-principal "$principal" --deny-host "$host"); fi
    for operation in $operations; do args+=(--operation "$(camel_case "$operation")"); done
    local flag
    flag=$(flag_of "$type")
    while IFS= read -r name; do
      [[ -z $name ]] && continue
      if [[ $flag == --cluster ]]; then args+=(--cluster); else args+=("$flag" "$name"); fi
    done <<<"${names_of[$group]}"
    acls "${args[@]}" >"$work/acl-change.out" 2>&1 || fail "kafka-acls.sh ${args[*]} failed: $(grep -v WARN "$work/acl-change.out" | tail -3)"
    log "ACL ${action#--}: $principal $permission $type $pattern [$(words "${names_of[$group]}")] $operations"
  done
}
missing=() stale=()
for key in "${!want_acl[@]}"; do [[ -n ${have_acl[$key]-} ]] || missing+=("$key"); done
for key in "${!have_acl[@]}"; do [[ -n ${want_acl[$key]-} ]] || stale+=("$key"); done
((${#missing[@]} == 0)) || apply_acls --add "${missing[@]}"
((${#stale[@]} == 0)) || apply_acls --remove "${stale[@]}"
log "summary: users-set=$upserted users-deleted=$removed_users acls-added=${#missing[@]} acls-removed=${#stale[@]} acls-unchanged=$((${#want_acl[@]} - ${#missing[@]}))"
