# Sourced by base-backup.sh and dump.sh, after they define log() and fail(): the login (credentials.sh),
# the RETENTION setting, and the wait for the server (WAIT_TIMEOUT_SECONDS).
# shellcheck source=credentials.sh
source "$here/credentials.sh"
write_pgpass
: "${PGHOST:?}" "${PGPORT:?}" "${PGUSER:?}" "${BACKUP_ROOT:?}" "${RETENTION:?}"
[[ "$RETENTION" =~ ^[1-9][0-9]*$ ]] || fail "RETENTION must be a whole number >= 1 (got '$RETENTION')"
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"
wait_for_server
