#!/bin/bash
# The base backup CronJob: takes a base backup of the whole server into the backup volume, verifies it,
# keeps the RETENTION newest and removes the archived WAL that no kept backup needs.
#
# Layout of BACKUP_ROOT (the backup volume; restore-data.sh reads the same):
#   wal/<segment>                 archived WAL (archive-wal.sh, the server's archive_command)
#   base/<YYYYmmddTHHMMSSZ>/      a verified base backup: plain format, its own WAL (-X stream), backup_manifest
#                                 with SHA-256 checksums, and learnflow-backup-end (when it became consistent)
#   base/.partial-<stamp>/        a backup being taken or checked; never read, removed if it fails
# Environment: PGHOST PGPORT PGUSER (the backup role), BACKUP_ROOT, RETENTION, WAIT_TIMEOUT_SECONDS,
# PGPASSFILE and CREDENTIALS_DIR/login-password (credentials.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PGAPPNAME="${PGAPPNAME:-learnflow-base-backup}"
log() { echo "base-backup: $*"; }
fail() { echo "base-backup: error: $*" >&2; exit 1; }
# shellcheck source=backup-start.sh
source "$here/backup-start.sh"

base="$BACKUP_ROOT/base" wal="$BACKUP_ROOT/wal"
mkdir -p "$base" "$wal"
# What a run killed mid-copy left behind (SIGKILL at the deadline, an eviction) is never a backup: removed
# before the free space is judged, so that it cannot block every later run.
rm -rf "$base"/.partial-*

# A backup that cannot fit fails before it starts, and touches no existing backup: the size of every
# database (what pg_basebackup copies, WAL aside) against the free space of the volume.
needed="$(psql -X -A -t -v ON_ERROR_STOP=1 -d postgres -c "SELECT coalesce(sum(pg_database_size(oid)), 0)::bigint FROM pg_database WHERE has_database_privilege(oid, 'CONNECT')")"
available="$(($(df -P -k "$BACKUP_ROOT" | awk 'NR == 2 { print $4 }') * 1024))"
# 64 MiB for the WAL streamed during the backup and the manifest.
if ((needed + 64 * 1024 * 1024 > available)); then
  fail "the backup volume has $((available / 1048576)) MiB free, a base backup needs about $((needed / 1048576 + 64)) MiB: grow postgres.backup.storage.size or lower postgres.backup.retention"
fi

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
partial="$base/.partial-$stamp"
[[ ! -e "$base/$stamp" ]] || fail "a backup named $stamp exists already (two runs within a second)"
# A failed or damaged backup is removed at once: left behind, it would fill the volume the archiver writes to.
trap 'rm -rf "$partial"' EXIT
log "taking base backup $stamp ($((needed / 1048576)) MiB of databases)"
# -c fast: an immediate checkpoint, not a spread one. Page checksums are verified while copying
# (the cluster was initialised with --data-checksums); the manifest records a SHA-256 of every file.
pg_basebackup -D "$partial" -F plain -X stream -c fast --manifest-checksums=SHA256 --no-password -l "learnflow $stamp"
date -u +%Y-%m-%dT%H:%M:%SZ > "$partial/learnflow-backup-end"
log "verifying $stamp with pg_verifybackup"
pg_verifybackup --quiet --ignore learnflow-backup-end "$partial" || fail "pg_verifybackup found the new backup damaged (removed; the earlier backups are untouched)"
mv "$partial" "$base/$stamp"
sync "$base"
log "backup $stamp verified ($(du -s -m "$base/$stamp" | cut -f1) MiB)"

# Retention: the newest RETENTION backups stay; names sort by time.
mapfile -t backups < <(find "$base" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*Z' -printf '%f\n' | sort)
for old in "${backups[@]:0:$((${#backups[@]} > RETENTION ? ${#backups[@]} - RETENTION : 0))}"; do
  log "removing backup $old (retention $RETENTION)"
  rm -rf "${base:?}/$old"
done
oldest="$(find "$base" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*Z' -printf '%f\n' | sort | head -n 1)"
# The oldest kept backup's first WAL segment: every archived segment before it serves no kept backup.
first_segment="$(sed -n 's/^START WAL LOCATION: .* (file \([0-9A-F]\{24\}\))$/\1/p' "$base/$oldest/backup_label")"
[[ -n "$first_segment" ]] || fail "no START WAL LOCATION in $base/$oldest/backup_label"
pg_archivecleanup "$wal" "$first_segment"
log "kept ${#backups[@]} -> $(find "$base" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*Z' | wc -l) backups; archived WAL from $first_segment on"
