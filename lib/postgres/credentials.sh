# Sourced by the PostgreSQL Jobs' scripts (migrate, seed, monitoring-role, base-backup, dump): passwords are files
# of the Job's Secret volume, in CREDENTIALS_DIR, never environment variables. login-password is PGUSER's.
# Uses the caller's log() and fail().

# Fails unless each named file of CREDENTIALS_DIR is readable and not empty.
require_password_files() {
  local name
  : "${CREDENTIALS_DIR:?}"
  for name in "$@"; do
    [[ -r "$CREDENTIALS_DIR/$name" && -s "$CREDENTIALS_DIR/$name" ]] ||
      fail "$CREDENTIALS_DIR/$name must be a readable, non-empty file (a key of the Job's Secret volume)"
  done
}

# libpq takes the login password from PGPASSFILE, and ignores a file that its group or others may read:
# the Secret's files are group-readable (the pod's fsGroup), so PGUSER's password is copied into a
# pgpass file of mode 0600. Its fields escape ':' and '\'.
write_pgpass() {
  local user password
  require_password_files login-password
  : "${PGUSER:?}" "${PGPASSFILE:?}"
  user="$(pgpass_escape "$PGUSER")"
  password="$(pgpass_escape "$(< "$CREDENTIALS_DIR/login-password")")"
  (umask 077 && printf '*:*:*:%s:%s\n' "$user" "$password" > "$PGPASSFILE")
}

pgpass_escape() {
  local value="${1//\\/\\\\}"
  printf '%s' "${value//:/\\:}"
}

# Waits until the server at PGHOST:PGPORT accepts connections, at most WAIT_TIMEOUT_SECONDS (default 300).
wait_for_server() {
  local deadline=$((SECONDS + ${WAIT_TIMEOUT_SECONDS:-300}))
  until pg_isready -q -d postgres -t 5; do
    ((SECONDS < deadline)) || fail "PostgreSQL at $PGHOST:$PGPORT did not accept connections within ${WAIT_TIMEOUT_SECONDS:-300}s"
    log "waiting for PostgreSQL at $PGHOST:$PGPORT ..."
    sleep 2
  done
}
