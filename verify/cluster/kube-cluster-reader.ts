import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { KubernetesObjectApi } from '@kubernetes/client-node';
import type { K8sObject } from '../model';
import { CLUSTER_KINDS, type ClusterKind, type ClusterReader, ClusterUnavailableError, withTimeout } from './cluster-reader';

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

/** Where a kubeconfig would come from, without loading the (slow to import) client library. */
function kubeconfigSource(): string | undefined {
  const fromEnv = (process.env.KUBECONFIG ?? '').split(path.delimiter).filter((file) => file && fs.existsSync(file));
  if (fromEnv.length > 0) return fromEnv.join(path.delimiter);
  const home = path.join(os.homedir(), '.kube', 'config');
  if (fs.existsSync(home)) return home;
  if (process.env.KUBERNETES_SERVICE_HOST && fs.existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) return 'in-cluster service account';
  return undefined;
}

let selectedContext: string | undefined;

/** Use this kubeconfig context instead of the current one (`--context`), for the API and for kubectl. */
export function selectKubeContext(context: string | undefined): void {
  selectedContext = context;
}

/** `--context <name>` for kubectl commands, when one was selected. */
export function kubectlContextArgs(): string[] {
  return selectedContext ? ['--context', selectedContext] : [];
}

/** The selected (or current) kubeconfig context, or a ClusterUnavailableError saying why there is none. */
async function loadKubeconfig() {
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
  if (selectedContext) {
    if (!config.getContexts().some((c) => c.name === selectedContext)) {
      throw new ClusterUnavailableError(`kubeconfig ${source} has no context '${selectedContext}' (kubectl config get-contexts)`);
    }
    config.setCurrentContext(selectedContext);
  }
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new ClusterUnavailableError(`kubeconfig ${source} has no current context`);
  return { k8s, config, cluster };
}

/**
 * One key of a Secret, read through the current kubeconfig. The value is for a connection only: callers
 * never print it, and errors name the Secret and key, never the value.
 */
export async function readSecretKey(namespace: string, name: string, key: string, timeoutMs: number): Promise<string> {
  const { k8s, config } = await loadKubeconfig();
  const what = `reading key ${key} of Secret ${namespace}/${name}`;
  let secret: Awaited<ReturnType<InstanceType<typeof k8s.CoreV1Api>['readNamespacedSecret']>>;
  try {
    secret = await withTimeout(config.makeApiClient(k8s.CoreV1Api).readNamespacedSecret({ name, namespace }), timeoutMs, what);
  } catch (error) {
    if (error instanceof ClusterUnavailableError) throw error;
    const code = (error as { code?: number }).code;
    throw new ClusterUnavailableError(`${what}: ${code ? `HTTP ${code}` : (error as Error).message}`);
  }
  const encoded = secret.data?.[key];
  if (encoded === undefined) throw new ClusterUnavailableError(`${what}: the Secret has no such key (npm run secrets creates it)`);
  return Buffer.from(encoded, 'base64').toString('utf8');
}

/**
 * Connects through the current kubeconfig and proves the API server answers (one bounded list of
 * Namespaces). Throws ClusterUnavailableError with the reason otherwise.
 */
export async function connectToCluster(timeoutMs: number): Promise<ClusterReader> {
  const { k8s, config, cluster } = await loadKubeconfig();
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
