import { Construct } from 'constructs';
import type { PostgresConfig } from '../config/schema';
import { readProjectFile } from '../platform/project-files';
import type { PostgresServer } from './postgres-server';
import { ScriptJob } from './script-job';
import { TEST_USERS } from './secrets';

/** Seed files, loaded in name order; the test users only where the contract has their Secret. */
const CURRICULUM_FILE = '10_curriculum.sql';
const TEST_USERS_FILE = '20_test_users.sql';

export interface SeedJobProps {
  readonly server: PostgresServer;
  readonly config: PostgresConfig;
  /** The migration version the seed data needs (the seed waits for it). */
  readonly schemaVersion: string;
  /** Emit the Job as an Argo CD Sync hook. @default false */
  readonly argoCdHooks?: boolean;
}

/**
 * Loads the curriculum and, in development profiles, the test users. Runs as the application role:
 * seeding is plain DML, and every insert skips rows that exist, so re-runs change nothing.
 */
export class SeedJob extends Construct {
  public readonly jobName: string;
  public readonly podLabels: Record<string, string>;

  constructor(scope: Construct, id: string, props: SeedJobProps) {
    super(scope, id);
    const { server, config } = props;
    const { secrets } = server;
    const seedUsers = secrets.seedUsers;
    const dataFiles = [CURRICULUM_FILE, ...(seedUsers ? [TEST_USERS_FILE] : [])];
    const job = new ScriptJob(this, 'Job', {
      server,
      config,
      component: 'seed',
      script: 'seed.sh',
      files: [
        { path: 'seed.sh', content: readProjectFile('lib/postgres/seed.sh') },
        ...dataFiles.map((file) => ({ path: `data/${file}`, content: readProjectFile(`seed/data/${file}`) })),
      ],
      env: [
        { name: 'PGHOST', value: server.host },
        { name: 'PGPORT', value: String(server.port) },
        { name: 'PGDATABASE', value: server.database },
        { name: 'SCHEMA_VERSION', value: props.schemaVersion },
        { name: 'WAIT_TIMEOUT_SECONDS', value: String(config.jobs.waitTimeoutSeconds) },
        { name: 'SEED_TEST_USERS', value: String(seedUsers !== undefined) },
      ],
      passwordFiles: [
        // The login in use: the application role, or its twin after `npm run secrets -- --rotate app`.
        { path: 'login-username', secretName: secrets.app.name, key: 'username' },
        { path: 'login-password', secretName: secrets.app.name, key: 'password' },
        ...(seedUsers ? TEST_USERS.map((user) => ({ path: `${user.role}-password`, secretName: seedUsers.name, key: user.passwordKey })) : []),
      ],
      argoCdHooks: props.argoCdHooks ?? false,
    });
    this.jobName = job.jobName;
    this.podLabels = job.podLabels;
  }
}
