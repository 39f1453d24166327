import { Construct } from 'constructs';
import { type PostgresCronJob, type PostgresJob, postgresObjectNames } from '../config/object-names';
import type { PostgresConfig } from '../config/schema';
import { HashedJob, type HashedJobProps, ScheduledJob, SECRETS_MOUNT, type SecretFile } from '../platform/hashed-job';
import type * as k8s from '../platform/k8s';
import { appLabels } from '../platform/labels';
import { readProjectFile } from '../platform/project-files';
import { POSTGRES_UID, type PostgresServer } from './postgres-server';

/** Where the Job's ConfigMap (script and SQL) is mounted. */
export const SCRIPT_MOUNT = '/etc/learnflow/postgres';

/** Label on every pod that talks to PostgreSQL, for the NetworkPolicy that admits them. */
export const POSTGRES_CLIENT_LABEL = 'learnflow.dev/postgres-client';

// Memory-backed, like the Secret volume the password comes from: the pgpass copy never touches the node's disk.
const PGPASS_DIR = '/run/learnflow';

/** A file of the Job's mount: its path under SCRIPT_MOUNT and its content, shipped verbatim. */
export interface ScriptFile {
  readonly path: string;
  readonly content: string;
}

export interface ScriptJobProps {
  readonly server: PostgresServer;
  readonly config: PostgresConfig;
  /** Name prefix and app.kubernetes.io/component of the Job, e.g. 'migrations'. */
  readonly component: PostgresJob | PostgresCronJob;
  /** Path (under the mount) of the bash script the Job runs. */
  readonly script: string;
  readonly files: readonly ScriptFile[];
  /** Plain settings; never a secret (those are passwordFiles). */
  readonly env: readonly k8s.EnvVar[];
  /** Secret keys the script reads as files of CREDENTIALS_DIR (`path` is the file's name); login-password is PGUSER's. */
  readonly passwordFiles: readonly SecretFile[];
  readonly argoCdHooks: boolean;
  /** Run on this cron schedule (a CronJob named `<postgres.name>-<component>`), not once. @default - a one-shot Job */
  readonly schedule?: string;
  /** @default - config.jobs.activeDeadlineSeconds */
  readonly activeDeadlineSeconds?: number;
  /** @default - none */
  readonly extraVolumes?: HashedJobProps['extraVolumes'];
  /** @default - none */
  readonly affinity?: HashedJobProps['affinity'];
}

/**
 * A Job that runs a bash script from its ConfigMap on the stock postgres image (psql, pg_isready, sha256sum).
 * Passwords are files of one directory, CREDENTIALS_DIR (a variable named for a directory, not a password:
 * manifest linters take *PASSWORD* variables with a value for passwords); credentials.sh, shipped beside
 * the script, turns the login password into a pgpass file (PGPASSFILE) for libpq.
 */
export class ScriptJob extends Construct {
  public readonly jobName: string;
  public readonly podLabels: Record<string, string>;

  constructor(scope: Construct, id: string, props: ScriptJobProps) {
    super(scope, id);
    const { server, config } = props;
    this.podLabels = { ...appLabels(config.name, props.component), [POSTGRES_CLIENT_LABEL]: 'true' };
    // ConfigMap keys cannot contain '/': flatten paths into keys, and project them back with items.
    const shipped = [...props.files, { path: 'credentials.sh', content: readProjectFile('lib/postgres/credentials.sh') }];
    const files = shipped.map((file) => ({ ...file, key: file.path.replace(/\//g, '.') }));
    // With TLS on, libpq verifies the server against the CA of its certificate Secret, and its name (verify-full).
    const caFile = server.tls.secretName ? { path: 'ca.crt', secretName: server.tls.secretName, key: 'ca.crt' } : undefined;
    const tlsEnv = caFile
      ? [
          { name: 'PGSSLMODE', value: 'verify-full' },
          { name: 'PGSSLROOTCERT', value: `${SECRETS_MOUNT}/${caFile.path}` },
        ]
      : [];
    const jobProps = {
      namespace: server.namespace,
      labels: this.podLabels,
      settings: { ...config.jobs, activeDeadlineSeconds: props.activeDeadlineSeconds ?? config.jobs.activeDeadlineSeconds },
      identity: { uid: POSTGRES_UID, gid: POSTGRES_UID },
      files: Object.fromEntries(files.map((file) => [file.key, file.content])),
      mountPath: SCRIPT_MOUNT,
      items: files.map((file) => ({ key: file.key, path: file.path })),
      container: {
        name: props.component,
        image: server.image,
        imagePullPolicy: 'IfNotPresent',
        // Not the image's entrypoint: that would try to initialise a server.
        command: ['/bin/bash', `${SCRIPT_MOUNT}/${props.script}`],
        env: [
          ...props.env,
          { name: 'CREDENTIALS_DIR', value: SECRETS_MOUNT },
          { name: 'PGPASSFILE', value: `${PGPASS_DIR}/pgpass` },
          ...tlsEnv,
        ],
      },
      secretFiles: caFile ? [...props.passwordFiles, caFile] : props.passwordFiles,
      writablePaths: [
        { name: 'tmp', mountPath: '/tmp', sizeLimit: '64Mi' },
        { name: 'pgpass', mountPath: PGPASS_DIR, memory: true, sizeLimit: '1Mi' },
      ],
      extraVolumes: props.extraVolumes,
      affinity: props.affinity,
    };
    const names = postgresObjectNames(config.name);
    if (props.schedule !== undefined) {
      this.jobName = names.cronJob(props.component as PostgresCronJob);
      new ScheduledJob(this, 'CronJob', { ...jobProps, name: this.jobName, schedule: props.schedule });
    } else {
      this.jobName = new HashedJob(this, 'Job', { ...jobProps, namePrefix: names.jobPrefix(props.component as PostgresJob), argoCdHooks: props.argoCdHooks }).jobName;
    }
  }
}
