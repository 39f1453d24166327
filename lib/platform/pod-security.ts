import { mebibytes, type Resources } from '../config/quantity';
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
  /** Backed by RAM (e.g. /dev/shm): counted against the memory limit, not ephemeral storage. @default false */
  readonly memory?: boolean;
  /** @default '256Mi' */
  readonly sizeLimit?: string;
}

export interface WritableVolumes {
  readonly volumes: k8s.Volume[];
  readonly mounts: k8s.VolumeMount[];
  /** Node disk the container may fill: every disk-backed emptyDir full, plus its logs (MiB). */
  readonly ephemeralStorageMiB: number;
}

// The kubelet keeps up to containerLogMaxFiles (5) x containerLogMaxSize (10Mi) of a container's
// stdout/stderr by default and rotates every 10 s; this covers them, a burst between rotations and
// what the runtime writes beside a read-only root filesystem. The logs count against the limit too.
export const CONTAINER_LOG_MARGIN_MIB = 128;

export function writableVolumes(paths: readonly WritablePath[]): WritableVolumes {
  const sized = paths.map((p) => ({ ...p, sizeLimit: p.sizeLimit ?? '256Mi' }));
  return {
    volumes: sized.map((p) => ({
      name: p.name,
      emptyDir: { sizeLimit: Quantity.fromString(p.sizeLimit), ...(p.memory ? { medium: 'Memory' } : {}) },
    })),
    mounts: sized.map((p) => ({ name: p.name, mountPath: p.mountPath })),
    ephemeralStorageMiB: sized.filter((p) => !p.memory).reduce((sum, p) => sum + mebibytes(p.sizeLimit), CONTAINER_LOG_MARGIN_MIB),
  };
}

/**
 * CPU and memory as configured; ephemeral storage from the container's writable volumes. The scheduler
 * sees only requests, never emptyDir size limits: without a request, a node's disk is overcommitted and
 * the kubelet evicts pods when it fills. Request equals limit, so what the pod may fill is reserved.
 * (A pod's first container accounts for all of the pod's emptyDirs; a sidecar that writes into them, Kafka's
 * readiness or PostgreSQL's tls-reload, reserves only its own logs: writableVolumes([]).)
 */
export function resourceRequirements(resources: Resources, writable: WritableVolumes): k8s.ResourceRequirements {
  const ephemeralStorage = Quantity.fromString(`${writable.ephemeralStorageMiB}Mi`);
  return {
    requests: {
      cpu: Quantity.fromString(resources.requests.cpu),
      memory: Quantity.fromString(resources.requests.memory),
      'ephemeral-storage': ephemeralStorage,
    },
    limits: {
      cpu: Quantity.fromString(resources.limits.cpu),
      memory: Quantity.fromString(resources.limits.memory),
      'ephemeral-storage': ephemeralStorage,
    },
  };
}
