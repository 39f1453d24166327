import { Construct } from 'constructs';
import { rotationTwin } from '../config/postgres';
import { backupRoleConnectionLimit } from '../config/postgres-security';
import type { PostgresConfig } from '../config/schema';
import { readProjectFile } from '../platform/project-files';
import { loadMigrations, type Migration } from './migrations';
import type { PostgresServer } from './postgres-server';
import { ScriptJob } from './script-job';
import { SUPERUSER } from './secrets';

export interface MigrationsJobProps {
  readonly server: PostgresServer;
  readonly config: PostgresConfig;
  /** CONNECTION LIMIT of the Dapr role: every state-store sidecar's pool (lib/config/postgres-security.ts). */
  readonly daprRoleConnectionLimit: number;
  /** Emit the Job as an Argo CD Sync hook. @default false */
  readonly argoCdHooks?: boolean;
  /** @default - the files of seed/migrations, checked by loadMigrations */
  readonly migrations?: readonly Migration[];
}

/**
 * Creates the roles and the database, applies the versioned migrations in order (each in its own
 * transaction, recorded with a checksum) and grants the application role its privileges.
 * Runs as the superuser: roles and databases are cluster-level objects.
 */
export class MigrationsJob extends Construct {
  public readonly jobName: string;
  public readonly podLabels: Record<string, string>;
  /** The newest migration's version: the schema the seed data is written for. */
  public readonly schemaVersion: string;

  constructor(scope: Construct, id: string, props: MigrationsJobProps) {
    super(scope, id);
    const { server, config } = props;
    const migrations = props.migrations ?? loadMigrations();
    this.schemaVersion = migrations[migrations.length - 1].version;
    const { secrets } = server;
    const job = new ScriptJob(this, 'Job', {
      server,
      config,
      component: 'migrations',
      script: 'migrate.sh',
      files: [
        { path: 'migrate.sh', content: readProjectFile('lib/postgres/migrate.sh') },
        { path: 'cluster.sql', content: readProjectFile('seed/cluster.sql') },
        { path: 'privileges.sql', content: readProjectFile('seed/privileges.sql') },
        ...migrations.map((migration) => ({ path: `migrations/${migration.fileName}`, content: migration.sql })),
      ],
      env: [
        { name: 'PGHOST', value: server.host },
        { name: 'PGPORT', value: String(server.port) },
        { name: 'PGUSER', value: SUPERUSER },
        { name: 'APP_DATABASE', value: server.database },
        { name: 'OWNER_ROLE', value: server.ownerRole },
        { name: 'APP_ROLE', value: server.appRole },
        { name: 'APP_ROLE_TWIN', value: rotationTwin(server.appRole) },
        { name: 'DAPR_ROLE', value: server.daprRole },
        { name: 'DAPR_ROLE_TWIN', value: rotationTwin(server.daprRole) },
        { name: 'DAPR_SCHEMA', value: server.daprSchema },
        { name: 'APP_CONNECTION_LIMIT', value: String(config.connectionLimits.appRole) },
        { name: 'DAPR_CONNECTION_LIMIT', value: String(props.daprRoleConnectionLimit) },
        { name: 'WAIT_TIMEOUT_SECONDS', value: String(config.jobs.waitTimeoutSeconds) },
        ...(secrets.backup
          ? [
              { name: 'BACKUP_ROLE', value: config.backup.role },
              { name: 'BACKUP_CONNECTION_LIMIT', value: String(backupRoleConnectionLimit(config.backup)) },
            ]
          : []),
      ],
      passwordFiles: [
        { path: 'login-password', secretName: secrets.superuser.name, key: 'password' },
        { path: 'app-role-username', secretName: secrets.app.name, key: 'username' },
        { path: 'app-role-password', secretName: secrets.app.name, key: 'password' },
        { path: 'dapr-role-username', secretName: secrets.dapr.name, key: 'username' },
        { path: 'dapr-role-password', secretName: secrets.dapr.name, key: 'password' },
        ...(secrets.backup ? [{ path: 'backup-role-password', secretName: secrets.backup.name, key: 'password' }] : []),
      ],
      argoCdHooks: props.argoCdHooks ?? false,
    });
    this.jobName = job.jobName;
    this.podLabels = job.podLabels;
  }
}
