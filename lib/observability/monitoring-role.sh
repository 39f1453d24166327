#!/bin/bash
# Creates (or updates) postgres_exporter's monitoring role, as the monitoring-role Job does.
# Layout (the Job's ConfigMap mount): monitoring-role.sh  monitoring-role.sql  credentials.sh
# Environment: PGHOST PGPORT PGUSER (a superuser), MONITOR_ROLE, MONITOR_ROLE_TWIN (its second login, for
# rotation), WAIT_TIMEOUT_SECONDS, PGPASSFILE, CREDENTIALS_DIR with login-password (PGUSER's),
# monitor-role-username and monitor-role-password.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${MONITOR_ROLE:?}" "${MONITOR_ROLE_TWIN:?}"
export PGAPPNAME="${PGAPPNAME:-learnflow-monitoring-role}" PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

log() { echo "monitoring-role: $*"; }
fail() { echo "monitoring-role: error: $*" >&2; exit 1; }
# shellcheck source=../postgres/credentials.sh
source "$here/credentials.sh"
require_password_files monitor-role-username monitor-role-password
write_pgpass

wait_for_server

psql -X -q -v ON_ERROR_STOP=1 --output=/dev/null -d postgres -v monitor_role="$MONITOR_ROLE" -v monitor_role_twin="$MONITOR_ROLE_TWIN" -f "$here/monitoring-role.sql"
log "role $MONITOR_ROLE is a member of pg_monitor (and $MONITOR_ROLE_TWIN of it), password of $(< "$CREDENTIALS_DIR/monitor-role-username") from the Secret"
