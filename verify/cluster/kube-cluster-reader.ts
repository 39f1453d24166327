import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { KubernetesObjectApi } from '@kubernetes/client-node';
import { K8sObject } from '../model';
import { CLUSTER_KINDS, ClusterKind, ClusterReader, ClusterUnavailableError } from './cluster-reader';

/** The API server of the current kubeconfig context, every call bounded by a timeout. */
class KubeClusterReader implements ClusterReader {
  constructor(
    private readonly api: KubernetesObjectApi,
    readonly description: string,
    private readonly timeoutMs: number,
  ) {}

  async list(kind: ClusterKind, namespace?: string): Promise<K8sObject[]> {
    try {
      const list = await withTimeout(this.api.list(CLUSTER_KINDS[kind], kind, namespace), this.timeoutMs, `listing ${kind}`);
      return list.items as K8sObject[];
    } catch (error) {
      // A kind whose API the cluster does not serve (Dapr not installed) simply has no objects;
      // the checks that need it report its absence.
      if (isNotServed(error)) return [];
      if (error instanceof ClusterUnavailableError) throw error;
      const code = (error as { code?: number }).code;
      throw new ClusterUnavailableError(`listing ${kind}: ${code ? `HTTP ${code}` : (error as Error).message}`);
    }
  }
}

function isNotServed(error: unknown): boolean {
  const message = String((error as Error)?.message ?? '');
  return (error as { code?: number }).code === 404 || /Unrecognized API version and kind|resource .* not found/i.test(message);
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ClusterUnavailableError(`${what}: no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Where a kubeconfig would come from, without loading the (slow to import) client library. */
function kubeconfigSource(): string | undefined {
  const fromEnv = (process.env.KUBECONFIG ?? '').split(path.delimiter).filter((file) => file && fs.existsSync(file));
  if (fromEnv.length > 0) return fromEnv.join(path.delimiter);
  const home = path.join(os.homedir(), '.kube', 'config');
  if (fs.existsSync(home)) return home;
  if (process.env.KUBERNETES_SERVICE_HOST && fs.existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) return 'in-cluster service account';
  return undefined;
}

/**
 * Connects through the current kubeconfig and proves the API server answers (one bounded list of
 * Namespaces). Throws ClusterUnavailableError with the reason otherwise.
 */
export async function connectToCluster(timeoutMs: number): Promise<ClusterReader> {
  const source = kubeconfigSource();
  if (!source) throw new ClusterUnavailableError('no kubeconfig (KUBECONFIG unset or missing, no ~/.kube/config, not in a pod)');
  // Imported here: the client library takes most of a second to load, which static runs never pay.
  const k8s = await import('@kubernetes/client-node');
  const config = new k8s.KubeConfig();
  try {
    config.loadFromDefault();
  } catch (error) {
    throw new ClusterUnavailableError(`cannot read kubeconfig ${source}: ${(error as Error).message}`);
  }
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new ClusterUnavailableError(`kubeconfig ${source} has no current context`);
  const api = k8s.KubernetesObjectApi.makeApiClient(config);
  const description = `context ${config.getCurrentContext()} (${cluster.server})`;
  try {
    // Not through list(): here even a 404 means whatever answered is not a Kubernetes API server.
    await withTimeout(api.list('v1', 'Namespace', undefined, undefined, undefined, undefined, undefined, undefined, 1), timeoutMs, `reaching ${cluster.server}`);
  } catch (error) {
    if (error instanceof ClusterUnavailableError) throw error;
    const code = (error as { code?: number }).code;
    throw new ClusterUnavailableError(`${description}: ${code ? `HTTP ${code}` : (error as Error).message}`);
  }
  return new KubeClusterReader(api, description, timeoutMs);
}
