# Sourced by base-backup.sh and dump.sh, after they define log() and fail(): the login (credentials.sh),
# the RETENTION setting, and the wait for the server (WAIT_TIMEOUT_SECONDS).
# shellcheck source=credentials.sh
source "$here/credentials.sh"
write_pgpass
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${BACKUP_ROOT:?}" "${RETENTION:?}"
[[ "$RETENTION" =~ ^[1-9][0-9]*$ ]] || fail "RETENTION must be a whole number >= 1 (got '$RETENTION')"
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"

wait_timeout="${WAIT_TIMEOUT_SECONDS:-300}"
deadline=$((SECONDS + wait_timeout))
until pg_isready -q -d postgres -t 5; do
  ((SECONDS < deadline)) || fail "PostgreSQL at $PGHOST:$PGPORT did not accept connections within ${wait_timeout}s"
  log "waiting for PostgreSQL at $PGHOST:$PGPORT ..."
  sleep 2
done
