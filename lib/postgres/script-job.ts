import { Construct } from 'constructs';
import { type PostgresJob, postgresObjectNames } from '../config/object-names';
import type { PostgresConfig } from '../config/schema';
import { HashedJob } from '../platform/hashed-job';
import type * as k8s from '../platform/k8s';
import { appLabels } from '../platform/labels';
import { POSTGRES_UID, type PostgresServer } from './postgres-server';

/** Where the Job's ConfigMap (script and SQL) is mounted. */
export const SCRIPT_MOUNT = '/etc/learnflow/postgres';

/** Label on every pod that talks to PostgreSQL, for the NetworkPolicy that admits them. */
export const POSTGRES_CLIENT_LABEL = 'learnflow.dev/postgres-client';

/** A file of the Job's mount: its path under SCRIPT_MOUNT and its content, shipped verbatim. */
export interface ScriptFile {
  readonly path: string;
  readonly content: string;
}

export interface ScriptJobProps {
  readonly server: PostgresServer;
  readonly config: PostgresConfig;
  /** Name prefix and app.kubernetes.io/component of the Job, e.g. 'migrations'. */
  readonly component: PostgresJob;
  /** Path (under the mount) of the bash script the Job runs. */
  readonly script: string;
  readonly files: readonly ScriptFile[];
  readonly env: readonly k8s.EnvVar[];
  readonly argoCdHooks: boolean;
}

/** A Job that runs a bash script from its ConfigMap on the stock postgres image (psql, pg_isready, sha256sum). */
export class ScriptJob extends Construct {
  public readonly jobName: string;
  public readonly podLabels: Record<string, string>;

  constructor(scope: Construct, id: string, props: ScriptJobProps) {
    super(scope, id);
    const { server, config } = props;
    this.podLabels = { ...appLabels(config.name, props.component), [POSTGRES_CLIENT_LABEL]: 'true' };
    // ConfigMap keys cannot contain '/': flatten paths into keys, and project them back with items.
    const files = props.files.map((file) => ({ ...file, key: file.path.replace(/\//g, '.') }));
    const job = new HashedJob(this, 'Job', {
      namePrefix: postgresObjectNames(config.name).jobPrefix(props.component),
      namespace: server.namespace,
      labels: this.podLabels,
      settings: config.jobs,
      identity: { uid: POSTGRES_UID, gid: POSTGRES_UID },
      argoCdHooks: props.argoCdHooks,
      files: Object.fromEntries(files.map((file) => [file.key, file.content])),
      mountPath: SCRIPT_MOUNT,
      items: files.map((file) => ({ key: file.key, path: file.path })),
      container: {
        name: props.component,
        image: server.image,
        imagePullPolicy: 'IfNotPresent',
        // Not the image's entrypoint: that would try to initialise a server.
        command: ['/bin/bash', `${SCRIPT_MOUNT}/${props.script}`],
        env: [...props.env],
      },
      writablePaths: [{ name: 'tmp', mountPath: '/tmp', sizeLimit: '64Mi' }],
    });
    this.jobName = job.jobName;
  }
}

/** An environment variable read from a key of a Secret (never a value in the manifest). */
export function secretEnv(name: string, secretName: string, key: string): k8s.EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secretName, key } } };
}
