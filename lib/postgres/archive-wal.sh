#!/bin/bash
# PostgreSQL's archive_command: archive-wal.sh %p %f <archive directory>, run by the server's archiver
# in the data directory. Exit 0 only when the segment is safely in the archive; anything else makes the
# archiver keep the segment in pg_wal and retry (PostgreSQL 16 docs, 26.3.1 "Setting Up WAL Archiving"):
# a full or missing backup volume never loses WAL, it only grows pg_wal and shows in pg_stat_archiver.
#
# Atomic: the copy is written beside its final name, flushed, then linked into place, so a crash never
# leaves a truncated segment under a segment's name. Never overwrites: a file of the same name with the
# same content is success (the archiver retries a segment whose copy succeeded but whose report was lost,
# as the docs require), one with different content is an error that stays until an operator looks.
set -euo pipefail

segment="$1" name="$2" archive="$3"
fail() { echo "archive-wal: $name: $*" >&2; exit 1; }

[[ -f "$segment" ]] || fail "no such file: $segment"
[[ "$name" =~ ^[0-9A-F]{8,24}(\.[0-9A-F]{8}\.backup|\.history|\.partial)?$ ]] || fail "not a WAL file name: $name"
mkdir -p "$archive" || fail "cannot create $archive"
target="$archive/$name"

if [[ -e "$target" ]]; then
  cmp -s "$segment" "$target" && exit 0
  fail "$target already exists with different content; refusing to overwrite it (compare them, then move the archived one aside)"
fi

partial="$archive/.$name.partial.$$"
trap 'rm -f "$partial"' EXIT
cp "$segment" "$partial" || fail "copy to $archive failed (is the backup volume full?)"
sync "$partial" || fail "fsync of $partial failed"
# link(2) never replaces an existing name: a concurrent copy of the same segment wins, and is compared.
if ! ln "$partial" "$target" 2>/dev/null; then
  [[ -e "$target" ]] && cmp -s "$segment" "$target" && exit 0
  fail "could not link $partial to $target"
fi
# The new directory entry must survive a crash too.
sync "$archive" || fail "fsync of $archive failed"
