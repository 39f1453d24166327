#!/bin/bash
# The logical dump CronJob: pg_dump of the application database (custom format, portable across major
# versions and machines) into BACKUP_ROOT/dump/<database>-<YYYYmmddTHHMMSSZ>.dump, keeping RETENTION.
# Environment: PGHOST PGPORT PGUSER (the backup role) PGDATABASE, BACKUP_ROOT, RETENTION,
# WAIT_TIMEOUT_SECONDS, PGPASSFILE and CREDENTIALS_DIR/login-password (credentials.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${PGDATABASE:?}"
export PGAPPNAME="${PGAPPNAME:-learnflow-dump}"
log() { echo "dump: $*"; }
fail() { echo "dump: error: $*" >&2; exit 1; }
# shellcheck source=backup-start.sh
source "$here/backup-start.sh"

dir="$BACKUP_ROOT/dump"
mkdir -p "$dir"

name="$PGDATABASE-$(date -u +%Y%m%dT%H%M%SZ).dump"
rm -f "$dir"/.*.partial
pg_dump -F custom --no-password -f "$dir/.$name.partial" || fail "pg_dump failed; earlier dumps are untouched"
# A dump that pg_restore cannot read is no dump.
pg_restore --list "$dir/.$name.partial" > /dev/null || fail "pg_restore cannot read the new dump"
mv "$dir/.$name.partial" "$dir/$name"
sync "$dir"
log "wrote $name ($(du -k "$dir/$name" | cut -f1) KiB)"
mapfile -t dumps < <(find "$dir" -mindepth 1 -maxdepth 1 -name "$PGDATABASE-*.dump" -printf '%f\n' | sort)
for old in "${dumps[@]:0:$((${#dumps[@]} > RETENTION ? ${#dumps[@]} - RETENTION : 0))}"; do
  log "removing $old (retention $RETENTION)"
  rm -f "${dir:?}/$old"
done
