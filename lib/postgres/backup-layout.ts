import type { PostgresConfig } from '../config/schema';

// Where the backup volume and the server's backup files are, in the server pod and the backup Jobs
// (base-backup.sh describes the volume's layout). One place, so the archive_command, the Jobs and
// `npm run restore` agree.

/** The backup volume's mount, in the server pod and the backup Jobs. */
export const BACKUP_MOUNT = '/var/lib/postgresql/backup';
/** Archived WAL on the backup volume. */
export const WAL_ARCHIVE = `${BACKUP_MOUNT}/wal`;
/** The server's own files (pg_hba.conf; with backups on archive-wal.sh and restore-data.sh), from a ConfigMap. */
export const SERVER_FILES_MOUNT = '/etc/learnflow/postgres-server';

/** postgresql.conf settings of continuous archiving, when backups are on. */
export function archiveSettings(backup: PostgresConfig['backup']): ReadonlyArray<readonly [string, string]> {
  if (!backup.enabled) return [];
  return [
    ['archive_mode', 'on'],
    ['archive_command', `/bin/bash ${SERVER_FILES_MOUNT}/archive-wal.sh %p %f ${WAL_ARCHIVE}`],
    // A segment that holds any write is archived at most this long after it began: the loss window (RPO).
    ['archive_timeout', `${backup.archiveTimeoutSeconds}s`],
  ];
}

/**
 * The settings a restored server adds: fetch archived WAL, stop at the target, promote. It archives
 * nothing while it runs beside the live server: its new timeline's history file in the shared archive
 * would make every later restore to 'latest' follow the restore instead of the live server
 * (recovery_target_timeline defaults to latest).
 */
export function recoverySettings(target: string): ReadonlyArray<readonly [string, string]> {
  return [
    ['archive_mode', 'off'],
    ['restore_command', `cp ${WAL_ARCHIVE}/%f %p`],
    ...(target === 'latest' ? [] : ([['recovery_target_time', target]] as const)),
    // Replay stops at the first commit after the target; everything committed before it is kept.
    ['recovery_target_inclusive', 'false'],
    ['recovery_target_action', 'promote'],
  ];
}
