#!/bin/bash
# Applies the versioned migrations to the LearnFlow database, as the migrations Job does.
#
# Layout (the Job's ConfigMap mount; any directory with the same layout works):
#   migrate.sh  cluster.sql  privileges.sql  migrations/NNN_name.sql
# Environment: PGHOST PGPORT PGUSER (a superuser), APP_DATABASE OWNER_ROLE APP_ROLE DAPR_ROLE DAPR_SCHEMA,
# APP_ROLE_TWIN DAPR_ROLE_TWIN (the roles' second logins, for rotation: see cluster.sql),
# APP_CONNECTION_LIMIT DAPR_CONNECTION_LIMIT (the roles' CONNECTION LIMITs),
# WAIT_TIMEOUT_SECONDS, PGPASSFILE (where the pgpass file goes), CREDENTIALS_DIR with the password files
# login-password (PGUSER's), app-role-password and dapr-role-password (set by cluster.sql on the logins that
# app-role-username and dapr-role-username name);
# with backups on, BACKUP_ROLE, BACKUP_CONNECTION_LIMIT and the file backup-role-password.
#
# Each pending migration runs in its own transaction as OWNER_ROLE and is recorded in
# public.schema_migrations with the sha256 of its file. A session advisory lock serialises
# concurrent runs. An applied migration whose file has changed fails the run before anything is applied.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}"
: "${APP_DATABASE:?}" "${OWNER_ROLE:?}" "${APP_ROLE:?}" "${APP_ROLE_TWIN:?}" "${DAPR_ROLE:?}" "${DAPR_ROLE_TWIN:?}" "${DAPR_SCHEMA:?}"
wait_timeout="${WAIT_TIMEOUT_SECONDS:-300}"
export PGAPPNAME="${PGAPPNAME:-learnflow-migrations}" PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"
# IF NOT EXISTS notices on every re-run would bury the lines that matter. lock_timeout bounds the
# wait for a concurrent run's advisory lock like the server wait (the session lowers it once it holds it).
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning -c lock_timeout=${wait_timeout}s"

log() { echo "migrate: $*"; }
fail() { echo "migrate: error: $*" >&2; exit 1; }
[[ "${APP_CONNECTION_LIMIT:?}" =~ ^[0-9]+$ && "${DAPR_CONNECTION_LIMIT:?}" =~ ^[0-9]+$ ]] || fail "APP_CONNECTION_LIMIT and DAPR_CONNECTION_LIMIT must be whole numbers"
# shellcheck source=credentials.sh
source "$here/credentials.sh"
require_password_files app-role-password dapr-role-password app-role-username dapr-role-username
write_pgpass
backup_role=()
if [[ -n "${BACKUP_ROLE:-}" ]]; then
  require_password_files backup-role-password
  [[ "${BACKUP_CONNECTION_LIMIT:?}" =~ ^[0-9]+$ ]] || fail "BACKUP_CONNECTION_LIMIT must be a whole number"
  backup_role=(-v backup_role="$BACKUP_ROLE" -v backup_connection_limit="$BACKUP_CONNECTION_LIMIT")
fi

# -X: no ~/.psqlrc; query results go to /dev/null, \echo lines (progress) to stdout.
run_psql() {
  psql -X -q -v ON_ERROR_STOP=1 --output=/dev/null \
    -v database="$APP_DATABASE" -v owner_role="$OWNER_ROLE" -v app_role="$APP_ROLE" -v app_role_twin="$APP_ROLE_TWIN" \
    -v dapr_role="$DAPR_ROLE" -v dapr_role_twin="$DAPR_ROLE_TWIN" -v dapr_schema="$DAPR_SCHEMA" \
    -v app_connection_limit="$APP_CONNECTION_LIMIT" -v dapr_connection_limit="$DAPR_CONNECTION_LIMIT" "$@"
}

# Prints the psql script of one session: under the lock, first check every applied migration
# against its file (and refuse a database that is ahead of this Job), then apply the pending
# ones, each in its own transaction. A concurrent run waits on the lock and then finds nothing to do.
migration_session() {
  local file base version name checksum latest
  latest="$(basename "${migrations[-1]}")"
  latest="${latest%%_*}"
  cat <<SQL
SELECT pg_advisory_lock(hashtext('learnflow.schema_migrations'));
-- The long wait was for a concurrent run; a migration's DDL queued behind a long transaction would
-- block every reader of its table meanwhile, so it gives up quickly and the Job retries.
SET lock_timeout = '10s';
SET ROLE :"owner_role";
CREATE TABLE IF NOT EXISTS public.schema_migrations (
  version    text PRIMARY KEY CHECK (version ~ '^[0-9]{3}\$'),
  name       text NOT NULL,
  checksum   text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}\$'),
  applied_at timestamptz NOT NULL DEFAULT now()
);
RESET ROLE;
SELECT count(*) > 0 AS ahead, string_agg(version || '_' || name || '.sql', ', ' ORDER BY version) AS unknown_migrations
  FROM public.schema_migrations WHERE version > '$latest' \\gset
\\if :ahead
  \\warn 'migrate: error: the database has migrations this Job does not ship:' :unknown_migrations
  \\warn 'migrate: this Job is older than the schema; apply the current manifests instead.'
  DO \$\$ BEGIN RAISE EXCEPTION 'the database is ahead of this Job'; END \$\$;
\\endif
SQL
  for file in "${migrations[@]}"; do
    base="$(basename "$file" .sql)" version="${base%%_*}" name="${base#*_}" checksum="${checksums[$file]}"
    cat <<SQL
SELECT coalesce(bool_and(name = '$name' AND checksum = '$checksum'), true) AS unchanged,
       format('migration %s.sql has changed since it was applied as %s_%s.sql (recorded sha256 %s, file sha256 %s)',
              '$base', max(version), max(name), max(checksum), '$checksum') AS problem
  FROM public.schema_migrations WHERE version = '$version' \\gset
\\if :unchanged
\\else
  \\warn 'migrate: error:' :problem
  \\warn 'migrate: applied migrations are immutable: restore the file and put the change in a new migration.'
  DO \$\$ BEGIN RAISE EXCEPTION 'an applied migration has changed'; END \$\$;
\\endif
SQL
  done
  for file in "${migrations[@]}"; do
    base="$(basename "$file" .sql)" version="${base%%_*}" name="${base#*_}" checksum="${checksums[$file]}"
    cat <<SQL
SELECT NOT EXISTS (SELECT FROM public.schema_migrations WHERE version = '$version') AS pending \\gset
\\if :pending
  \\echo 'migrate: applying $base.sql'
  BEGIN;
  SET LOCAL ROLE :"owner_role";
  SET LOCAL search_path = public;
  \\i '$file'
  INSERT INTO public.schema_migrations (version, name, checksum)
    VALUES ('$version', '$name', '$checksum');
  COMMIT;
\\endif
SQL
  done
  cat <<SQL
BEGIN;
\\i '$here/privileges.sql'
COMMIT;
SELECT pg_advisory_unlock(hashtext('learnflow.schema_migrations'));
\\echo 'migrate: schema is at version $latest'
SQL
}

shopt -s nullglob
migrations=("$here"/migrations/[0-9][0-9][0-9]_*.sql)
((${#migrations[@]} > 0)) || fail "no migrations found in $here/migrations"
# The file as mounted is what gets applied, so its bytes are what the checksum covers.
declare -A checksums
for file in "${migrations[@]}"; do
  checksums[$file]="$(sha256sum "$file" | cut -d' ' -f1)"
done

wait_for_server
log "ensuring roles and database $APP_DATABASE"
run_psql -d postgres "${backup_role[@]}" -f "$here/cluster.sql"
migration_session | run_psql -d "$APP_DATABASE" -f -
