#!/bin/bash
# Loads the seed data into the LearnFlow database, as the seed Job does.
#
# Layout (the Job's ConfigMap mount): seed.sh  data/NN_name.sql
# Environment: PGHOST PGPORT PGDATABASE PGUSER (the application role: seeds are plain DML), PGPASSWORD_FILE
# (its password, copied into the pgpass file PGPASSFILE), SCHEMA_VERSION (the migration the data needs),
# WAIT_TIMEOUT_SECONDS, and with SEED_TEST_USERS=true the files holding the test users' passwords
# SEED_ADMIN_PASSWORD_FILE SEED_TEACHER_PASSWORD_FILE SEED_STUDENT_PASSWORD_FILE.
#
# Every file runs in one transaction and inserts only missing rows, so re-runs change nothing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${PGHOST:?}" "${PGPORT:?}" "${PGDATABASE:?}" "${PGUSER:?}" "${SCHEMA_VERSION:?}"
wait_timeout="${WAIT_TIMEOUT_SECONDS:-300}"
export PGAPPNAME="${PGAPPNAME:-learnflow-seed}" PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

log() { echo "seed: $*"; }
fail() { echo "seed: error: $*" >&2; exit 1; }
# shellcheck source=credentials.sh
source "$here/credentials.sh"
write_pgpass

if [[ "${SEED_TEST_USERS:-false}" == true ]]; then
  for name in SEED_ADMIN_PASSWORD_FILE SEED_TEACHER_PASSWORD_FILE SEED_STUDENT_PASSWORD_FILE; do
    require_password_files "$name"
    value="$(< "${!name}")"
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
      # libpq adds a line naming the pgpass file when a password from it is refused: keep the reason.
      problem="${version##*FATAL:  }" problem="${problem%%$'\n'*}"
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
