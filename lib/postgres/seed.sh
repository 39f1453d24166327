#!/bin/bash
# Loads the seed data into the LearnFlow database, as the seed Job does.
#
# Layout (the Job's ConfigMap mount): seed.sh  data/NN_name.sql
# Environment: PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD (the application role: seeds are plain DML),
# SCHEMA_VERSION (the migration the data needs), WAIT_TIMEOUT_SECONDS, and with SEED_TEST_USERS=true
# the test users' passwords SEED_ADMIN_PASSWORD SEED_TEACHER_PASSWORD SEED_STUDENT_PASSWORD.
#
# Every file runs in one transaction and inserts only missing rows, so re-runs change nothing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${PGHOST:?}" "${PGPORT:?}" "${PGDATABASE:?}" "${PGUSER:?}" "${PGPASSWORD:?}" "${SCHEMA_VERSION:?}"
wait_timeout="${WAIT_TIMEOUT_SECONDS:-300}"
export PGAPPNAME="${PGAPPNAME:-learnflow-seed}" PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

log() { echo "seed: $*"; }
fail() { echo "seed: error: $*" >&2; exit 1; }

if [[ "${SEED_TEST_USERS:-false}" == true ]]; then
  for name in SEED_ADMIN_PASSWORD SEED_TEACHER_PASSWORD SEED_STUDENT_PASSWORD; do
    value="${!name:-}"
    # Even a test account is reachable through port-forwards; short passwords are a liability.
    ((${#value} >= 12)) || fail "$name must hold at least 12 characters (from the seed-users Secret)"
  done
fi

# Applied with kubectl apply -f dist/, this Job starts alongside the migrations Job: it waits until
# the role can log in and the schema has reached the version its data was written for.
wait_for_schema() {
  local deadline=$((SECONDS + wait_timeout)) version problem
  while true; do
    if version="$(psql -X -qAt -c "SELECT coalesce(max(version), '') FROM public.schema_migrations" 2>&1)"; then
      [[ "$version" > "$SCHEMA_VERSION" || "$version" == "$SCHEMA_VERSION" ]] && return 0
      problem="schema is at version '${version:-none}', the seed needs $SCHEMA_VERSION"
    else
      problem="${version##*FATAL:  }"
    fi
    if ((SECONDS >= deadline)); then
      fail "gave up after ${wait_timeout}s waiting for $PGDATABASE at $PGHOST:$PGPORT: $problem (has the migrations Job run?)"
    fi
    log "waiting: $problem"
    sleep 2
  done
}

shopt -s nullglob
files=("$here"/data/*.sql)
((${#files[@]} > 0)) || fail "no seed files found in $here/data"

wait_for_schema
for file in "${files[@]}"; do
  log "loading $(basename "$file")"
  psql -X -q -v ON_ERROR_STOP=1 --single-transaction --output=/dev/null -f "$file"
done
log "done"
