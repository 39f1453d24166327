#!/bin/bash
# Lays a base backup into an empty data directory for point-in-time recovery: the init container of a
# restore StatefulSet (npm run restore), or an operator by hand (README, "Restore").
#   restore-data.sh <backup root> <PGDATA> <target: latest | RFC 3339 time> [<backup name>]
# Picks the newest backup that became consistent before the target (or the named one, which must have),
# copies it, and writes recovery.signal. The server then replays archived WAL (restore_command) up to
# the target and promotes. A data directory that already holds a cluster is left alone (a re-run of the
# init container after the copy, or a mistake): nothing is ever overwritten.
set -euo pipefail

root="$1" pgdata="$2" target="$3" chosen="${4:-}"
log() { echo "restore-data: $*"; }
fail() { echo "restore-data: error: $*" >&2; exit 1; }

if [[ -e "$pgdata/PG_VERSION" ]]; then
  log "$pgdata already holds a cluster; leaving it as it is"
  exit 0
fi
[[ -z "$(ls -A "$pgdata" 2>/dev/null)" ]] || fail "$pgdata is not empty and holds no cluster; refusing to write into it"

base="$root/base"
mapfile -t backups < <(find "$base" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*Z' -printf '%f\n' 2>/dev/null | sort)
((${#backups[@]} > 0)) || fail "no base backup in $base"

if [[ "$target" == latest ]]; then
  # Every backup ends before "latest": even one that finished this very second.
  target_epoch="$(($(date +%s) + 1))"
else
  target_epoch="$(date -d "$target" +%s 2>/dev/null)" || fail "target '$target' is not a time (RFC 3339, e.g. 2026-12-01T10:15:00Z) or 'latest'"
fi
end_epoch() { date -d "$(cat "$base/$1/learnflow-backup-end")" +%s; }

if [[ -n "$chosen" ]]; then
  [[ -d "$base/$chosen" ]] || fail "no backup named $chosen (there are: ${backups[*]})"
  (($(end_epoch "$chosen") < target_epoch)) || fail "backup $chosen became consistent at $(cat "$base/$chosen/learnflow-backup-end"), not before the target $target"
else
  for name in "${backups[@]}"; do
    (($(end_epoch "$name") < target_epoch)) && chosen="$name"
  done
  [[ -n "$chosen" ]] || fail "target $target is before the oldest backup's end ($(cat "$base/${backups[0]}/learnflow-backup-end")): nothing to restore it from"
fi

log "verifying backup $chosen (pg_verifybackup: manifest checksums and its WAL)"
pg_verifybackup --quiet --ignore learnflow-backup-end "$base/$chosen" || fail "backup $chosen is damaged; choose another with --from"
log "restoring backup $chosen into $pgdata (target $target)"
mkdir -p "$pgdata"
chmod 0700 "$pgdata"
cp -a "$base/$chosen/." "$pgdata/"
rm -f "$pgdata/backup_manifest" "$pgdata/learnflow-backup-end"
touch "$pgdata/recovery.signal"
sync -f "$pgdata"
log "done: the server replays archived WAL from $root/wal up to $target, then promotes"
