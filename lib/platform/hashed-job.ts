import { Construct } from 'constructs';
import type { JobSettings } from '../config/job';
import { hashedJobContentHash } from './content-hash';
import { jobHookAnnotations } from './gitops';
import * as k8s from './k8s';
import {
  type PodIdentity,
  resourceRequirements,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  type WritablePath,
  writableVolumes,
} from './pod-security';

export interface HashedJobProps {
  /** The name is `<namePrefix>-<hash>`. */
  readonly namePrefix: string;
  readonly namespace: string;
  /** Labels of the Job, its ConfigMap and its pod. */
  readonly labels: Record<string, string>;
  readonly settings: JobSettings;
  readonly identity: PodIdentity;
  readonly argoCdHooks: boolean;
  /** The ConfigMap's data (scripts, SQL, declarations), shipped verbatim. */
  readonly files: Record<string, string>;
  /** Where the ConfigMap is mounted, read-only. */
  readonly mountPath: string;
  /** Project ConfigMap keys to these paths under the mount. @default - each key as a file of its name */
  readonly items?: readonly k8s.KeyToPath[];
  /** The container, without resources, securityContext and mounts, which this construct sets. */
  readonly container: Omit<k8s.Container, 'resources' | 'securityContext' | 'volumeMounts'>;
  readonly writablePaths: readonly WritablePath[];
  /** Keys of Secrets mounted as files under SECRETS_MOUNT (never environment variables). @default - none */
  readonly secretFiles?: readonly SecretFile[];
  /** Further volumes and where the container mounts them (a data volume). @default - none */
  readonly extraVolumes?: readonly { readonly volume: k8s.Volume; readonly mount: k8s.VolumeMount }[];
  /** @default - none */
  readonly affinity?: k8s.Affinity;
}

/** A key of a Secret, mounted read-only at `path` under SECRETS_MOUNT. */
export interface SecretFile {
  readonly secretName: string;
  readonly key: string;
  readonly path: string;
}

/** Where a Job's secretFiles are mounted. */
export const SECRETS_MOUNT = '/etc/learnflow/secrets';

/**
 * A one-shot Job running files from its own ConfigMap under restricted Pod Security. Job and ConfigMap
 * share a name carrying the hash of the ConfigMap's data and of the whole rendered Job spec: a Job's
 * pod template is immutable, so any change is a new Job, never an update the API server rejects.
 */
export class HashedJob extends Construct {
  public readonly jobName: string;

  constructor(scope: Construct, id: string, props: HashedJobProps) {
    super(scope, id);
    const annotations = jobHookAnnotations(props.argoCdHooks);
    const render = (name: string) => scriptJobSpec(props, name);
    // Hashed as rendered into dist/ (k8s JSON, canonical key order), so the verifier can recompute it.
    const hash = hashedJobContentHash({ files: props.files, spec: k8s.toJson_JobSpec(render('')), labels: props.labels, annotations });
    this.jobName = `${props.namePrefix}-${hash}`;
    const metadata = { name: this.jobName, namespace: props.namespace, labels: props.labels };
    new k8s.KubeConfigMap(this, 'Files', { metadata, data: props.files });
    new k8s.KubeJob(this, 'Resource', { metadata: { ...metadata, annotations }, spec: render(this.jobName) });
  }
}

/**
 * A CronJob whose Jobs run files from its ConfigMap, like HashedJob's. A CronJob is mutable, so it and its
 * ConfigMap keep one name; a changed script is used from the next run on.
 */
export class ScheduledJob extends Construct {
  constructor(scope: Construct, id: string, props: Omit<HashedJobProps, 'namePrefix' | 'argoCdHooks'> & { readonly name: string; readonly schedule: string }) {
    super(scope, id);
    const metadata = { name: props.name, namespace: props.namespace, labels: props.labels };
    new k8s.KubeConfigMap(this, 'Files', { metadata, data: props.files });
    new k8s.KubeCronJob(this, 'Resource', {
      metadata,
      spec: {
        schedule: props.schedule,
        timeZone: 'Etc/UTC',
        // One at a time: a run still going when the next is due is left to finish.
        concurrencyPolicy: 'Forbid',
        // A run missed by more than an hour (controller down, node drained) is skipped, not started late.
        startingDeadlineSeconds: 3600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: { metadata: { labels: props.labels }, spec: scriptJobSpec(props, props.name) },
      },
    });
  }
}

function scriptJobSpec(props: Omit<HashedJobProps, 'namePrefix' | 'argoCdHooks'>, name: string): k8s.JobSpec {
  const writable = writableVolumes(props.writablePaths);
  const { settings } = props;
  const secretFiles = props.secretFiles ?? [];
  const secretNames = [...new Set(secretFiles.map((file) => file.secretName))];
  // Files, not environment variables (CIS Kubernetes Benchmark 5.4.1): the environment is inherited by
  // every child process and dumped by debugging tools; a file is read only by what opens it.
  const secrets: { volumes: k8s.Volume[]; mounts: k8s.VolumeMount[] } =
    secretFiles.length === 0
      ? { volumes: [], mounts: [] }
      : {
          volumes: [
            {
              name: 'secrets',
              projected: {
                // Group-readable: the files belong to root with the pod's fsGroup.
                defaultMode: 0o440,
                sources: secretNames.map((secretName) => ({
                  secret: {
                    name: secretName,
                    items: secretFiles.filter((file) => file.secretName === secretName).map((file) => ({ key: file.key, path: file.path })),
                  },
                })),
              },
            },
          ],
          mounts: [{ name: 'secrets', mountPath: SECRETS_MOUNT, readOnly: true }],
        };
  return {
    backoffLimit: settings.backoffLimit,
    activeDeadlineSeconds: settings.activeDeadlineSeconds,
    ttlSecondsAfterFinished: settings.ttlSecondsAfterFinished,
    template: {
      metadata: { labels: props.labels },
      spec: {
        // A failed attempt's pod stays for its logs; the next attempt is a new pod.
        restartPolicy: 'Never',
        enableServiceLinks: false,
        automountServiceAccountToken: false,
        affinity: props.affinity,
        securityContext: restrictedPodSecurityContext(props.identity),
        containers: [
          {
            ...props.container,
            resources: resourceRequirements(settings.resources, writable),
            securityContext: restrictedContainerSecurityContext(),
            volumeMounts: [
              { name: 'files', mountPath: props.mountPath, readOnly: true },
              ...secrets.mounts,
              ...writable.mounts,
              ...(props.extraVolumes ?? []).map((extra) => extra.mount),
            ],
          },
        ],
        volumes: [
          { name: 'files', configMap: { name, items: props.items ? [...props.items] : undefined } },
          ...secrets.volumes,
          ...writable.volumes,
          ...(props.extraVolumes ?? []).map((extra) => extra.volume),
        ],
      },
    },
  };
}
