# Sourced by migrate.sh and seed.sh: passwords come from files (the Job's Secret volume), never from the
# environment. Uses the caller's fail().

# Fails unless each variable names a readable, non-empty file.
require_password_files() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" && -r "${!name}" && -s "${!name}" ]] ||
      fail "$name must name a readable, non-empty file (a key of the Job's Secret volume; got '${!name:-}')"
  done
}

# libpq takes the login password from PGPASSFILE, and ignores a file that its group or others may read:
# the Secret's files are group-readable (the pod's fsGroup), so PGUSER's password from PGPASSWORD_FILE is
# copied into a pgpass file of mode 0600. Its fields escape ':' and '\'.
write_pgpass() {
  local user password
  require_password_files PGPASSWORD_FILE
  : "${PGUSER:?}" "${PGPASSFILE:?}"
  user="$(pgpass_escape "$PGUSER")"
  password="$(pgpass_escape "$(< "$PGPASSWORD_FILE")")"
  (umask 077 && printf '*:*:*:%s:%s\n' "$user" "$password" > "$PGPASSFILE")
}

pgpass_escape() {
  local value="${1//\\/\\\\}"
  printf '%s' "${value//:/\\:}"
}
