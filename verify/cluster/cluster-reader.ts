import type { K8sObject } from '../model';

/** The kinds live checks read, with the apiVersion the API serves them under. */
export const CLUSTER_KINDS = {
  Namespace: 'v1',
  Service: 'v1',
  Endpoints: 'v1',
  PersistentVolumeClaim: 'v1',
  StatefulSet: 'apps/v1',
  Deployment: 'apps/v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
  CustomResourceDefinition: 'apiextensions.k8s.io/v1',
  Component: 'dapr.io/v1alpha1',
  Issuer: 'cert-manager.io/v1',
  ClusterIssuer: 'cert-manager.io/v1',
} as const;

export type ClusterKind = keyof typeof CLUSTER_KINDS;

/**
 * Read access to a cluster, the only thing live checks see. Two implementations: the API server through
 * the current kubeconfig, and YAML files (tests, or a saved `kubectl get -o yaml` of a cluster).
 */
export interface ClusterReader {
  /** Where the objects come from, for the report (context name, or the directory). */
  readonly description: string;
  /** Objects of a kind; across all namespaces when namespace is undefined. Throws ClusterUnavailableError. */
  list(kind: ClusterKind, namespace?: string): Promise<K8sObject[]>;
}

/** The cluster could not be asked (no kubeconfig, refused, timed out, forbidden): "could not check". */
export class ClusterUnavailableError extends Error {}

/** The promise, or a ClusterUnavailableError naming what did not answer within timeoutMs. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ClusterUnavailableError(`${what}: no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
