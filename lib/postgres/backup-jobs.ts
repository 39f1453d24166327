import { Construct } from 'constructs';
import type { PostgresConfig } from '../config/schema';
import type * as k8s from '../platform/k8s';
import { readProjectFile } from '../platform/project-files';
import { BACKUP_MOUNT } from './backup-layout';
import type { PostgresServer } from './postgres-server';
import { ScriptJob } from './script-job';

export interface PostgresBackupJobsProps {
  readonly server: PostgresServer;
  readonly config: PostgresConfig;
}

/**
 * The scheduled backups on the stock image: pg_basebackup (verified with pg_verifybackup, kept N, old WAL
 * pruned) and, optionally, pg_dump. Both log in as the backup role, and write to the backup volume.
 */
export class PostgresBackupJobs extends Construct {
  constructor(scope: Construct, id: string, props: PostgresBackupJobsProps) {
    super(scope, id);
    const { server, config } = props;
    const { backup } = config;
    if (!backup.enabled || !server.backupClaimName || !server.secrets.backup) {
      throw new Error('PostgresBackupJobs needs postgres.backup.enabled and a server with a backup volume');
    }
    const extraVolumes = [
      { volume: { name: 'backup', persistentVolumeClaim: { claimName: server.backupClaimName } }, mount: { name: 'backup', mountPath: BACKUP_MOUNT } },
    ];
    // A ReadWriteOnce volume is attached to one node: the Jobs run beside the server pod, which mounts it.
    const affinity: k8s.Affinity | undefined =
      backup.storage.accessMode === 'ReadWriteOnce'
        ? {
            podAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                { labelSelector: { matchLabels: server.podSelector }, namespaces: [server.namespace], topologyKey: 'kubernetes.io/hostname' },
              ],
            },
          }
        : undefined;
    const common = (retention: number): k8s.EnvVar[] => [
      { name: 'PGHOST', value: server.host },
      { name: 'PGPORT', value: String(server.port) },
      { name: 'PGUSER', value: backup.role },
      { name: 'BACKUP_ROOT', value: BACKUP_MOUNT },
      { name: 'RETENTION', value: String(retention) },
      { name: 'WAIT_TIMEOUT_SECONDS', value: String(config.jobs.waitTimeoutSeconds) },
    ];
    const start = { path: 'backup-start.sh', content: readProjectFile('lib/postgres/backup-start.sh') };
    const passwordFiles = [{ path: 'login-password', secretName: server.secrets.backup.name, key: 'password' }];

    new ScriptJob(this, 'BaseBackup', {
      server,
      config,
      component: 'basebackup',
      schedule: backup.schedule,
      activeDeadlineSeconds: backup.activeDeadlineSeconds,
      script: 'base-backup.sh',
      files: [{ path: 'base-backup.sh', content: readProjectFile('lib/postgres/base-backup.sh') }, start],
      env: common(backup.retention),
      passwordFiles,
      argoCdHooks: false,
      extraVolumes,
      affinity,
    });

    if (backup.dump.enabled) {
      new ScriptJob(this, 'Dump', {
        server,
        config,
        component: 'dump',
        schedule: backup.dump.schedule,
        activeDeadlineSeconds: backup.activeDeadlineSeconds,
        script: 'dump.sh',
        files: [{ path: 'dump.sh', content: readProjectFile('lib/postgres/dump.sh') }, start],
        env: [...common(backup.dump.retention), { name: 'PGDATABASE', value: server.database }],
        passwordFiles,
        argoCdHooks: false,
        extraVolumes,
        affinity,
      });
    }
  }
}
