import { Construct } from 'constructs';
import { PostgresConfig } from '../config/schema';
import { contentHash } from '../platform/content-hash';
import { jobHookAnnotations } from '../platform/gitops';
import * as k8s from '../platform/k8s';
import { appLabels } from '../platform/labels';
import {
  resourceRequirements,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  writableVolumes,
} from '../platform/pod-security';
import { POSTGRES_UID, PostgresServer } from './postgres-server';

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
  readonly component: string;
  /** Path (under the mount) of the bash script the Job runs. */
  readonly script: string;
  readonly files: readonly ScriptFile[];
  readonly env: readonly k8s.EnvVar[];
  readonly argoCdHooks: boolean;
}

/**
 * A Job that runs a bash script from a ConfigMap on the stock postgres image (psql, pg_isready and
 * sha256sum are all there). The ConfigMap and Job share a name carrying a hash of everything the pod
 * runs, so changed SQL is a new Job rather than an update the API server rejects as immutable.
 */
export class ScriptJob extends Construct {
  public readonly jobName: string;
  public readonly podLabels: Record<string, string>;

  constructor(scope: Construct, id: string, props: ScriptJobProps) {
    super(scope, id);
    const { server, config } = props;
    // ConfigMap keys cannot contain '/': flatten paths into keys, and project them back with items.
    const files = props.files.map((file) => ({ ...file, key: file.path.replace(/\//g, '.') }));
    const hash = contentHash(
      server.image,
      JSON.stringify(files),
      JSON.stringify(props.env),
      JSON.stringify(config.jobs),
    );
    this.jobName = `${config.name}-${props.component}-${hash}`;
    this.podLabels = { ...appLabels(config.name, props.component), [POSTGRES_CLIENT_LABEL]: 'true' };
    const metadata = { name: this.jobName, namespace: server.namespace, labels: this.podLabels };

    new k8s.KubeConfigMap(this, 'Files', {
      metadata,
      data: Object.fromEntries(files.map((file) => [file.key, file.content])),
    });

    const writable = writableVolumes([{ name: 'tmp', mountPath: '/tmp', sizeLimit: '64Mi' }]);

    new k8s.KubeJob(this, 'Resource', {
      metadata: { ...metadata, annotations: jobHookAnnotations(props.argoCdHooks) },
      spec: {
        backoffLimit: config.jobs.backoffLimit,
        ttlSecondsAfterFinished: config.jobs.ttlSecondsAfterFinished,
        template: {
          metadata: { labels: this.podLabels },
          spec: {
            restartPolicy: 'Never',
            enableServiceLinks: false,
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurityContext({ uid: POSTGRES_UID, gid: POSTGRES_UID }),
            containers: [
              {
                name: props.component,
                image: server.image,
                imagePullPolicy: 'IfNotPresent',
                // Not the image's entrypoint: that would try to initialise a server.
                command: ['/bin/bash', `${SCRIPT_MOUNT}/${props.script}`],
                env: [...props.env],
                resources: resourceRequirements(config.jobs.resources),
                securityContext: restrictedContainerSecurityContext(),
                volumeMounts: [{ name: 'files', mountPath: SCRIPT_MOUNT, readOnly: true }, ...writable.mounts],
              },
            ],
            volumes: [
              {
                name: 'files',
                configMap: { name: this.jobName, items: files.map((file) => ({ key: file.key, path: file.path })) },
              },
              ...writable.volumes,
            ],
          },
        },
      },
    });
  }
}

/** An environment variable read from a key of a Secret (never a value in the manifest). */
export function secretEnv(name: string, secretName: string, key: string): k8s.EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secretName, key } } };
}
