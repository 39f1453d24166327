import type { Resources } from '../config/quantity';
import type * as k8s from './k8s';
import { Quantity } from './k8s';

/** The user every container of a pod runs as; images decide it (apache/kafka 1000, postgres 999). */
export interface PodIdentity {
  readonly uid: number;
  readonly gid: number;
  /** Group that owns mounted volumes. @default - the gid */
  readonly fsGroup?: number;
}

/**
 * Pod-level half of Pod Security "restricted": non-root with a fixed uid, seccomp RuntimeDefault.
 * OnRootMismatch keeps kubelet from re-chmodding a large volume on every start (and from breaking
 * PostgreSQL's 0700 data directory).
 */
export function restrictedPodSecurityContext(identity: PodIdentity): k8s.PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: identity.uid,
    runAsGroup: identity.gid,
    fsGroup: identity.fsGroup ?? identity.gid,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Container-level half of Pod Security "restricted", with a read-only root filesystem. */
export function restrictedContainerSecurityContext(): k8s.SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** A path the image writes to, given a fresh emptyDir because the root filesystem is read-only. */
export interface WritablePath {
  readonly name: string;
  readonly mountPath: string;
  /** Backed by RAM (e.g. /dev/shm). @default false */
  readonly memory?: boolean;
  /** @default '256Mi' */
  readonly sizeLimit?: string;
}

export interface WritableVolumes {
  readonly volumes: k8s.Volume[];
  readonly mounts: k8s.VolumeMount[];
}

export function writableVolumes(paths: readonly WritablePath[]): WritableVolumes {
  return {
    volumes: paths.map((p) => ({
      name: p.name,
      emptyDir: { sizeLimit: Quantity.fromString(p.sizeLimit ?? '256Mi'), ...(p.memory ? { medium: 'Memory' } : {}) },
    })),
    mounts: paths.map((p) => ({ name: p.name, mountPath: p.mountPath })),
  };
}

export function resourceRequirements(resources: Resources): k8s.ResourceRequirements {
  return {
    requests: { cpu: Quantity.fromString(resources.requests.cpu), memory: Quantity.fromString(resources.requests.memory) },
    limits: { cpu: Quantity.fromString(resources.limits.cpu), memory: Quantity.fromString(resources.limits.memory) },
  };
}
