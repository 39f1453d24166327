import { type ClusterKind, type ClusterReader, ClusterUnavailableError } from '../../verify/cluster/cluster-reader';
import type { K8sObject } from '../../verify/model';
import { GET_TIMEOUT_MS, type Kubectl, REQUEST_TIMEOUT } from '../kubectl';

// The verifier's view of a cluster through deploy's kubectl (deploy's one way to the cluster, and the seam
// its tests replace), so that the preflight runs the verifier's own live checks before anything is applied.

const RESOURCES: Readonly<Record<ClusterKind, string>> = {
  Namespace: 'namespaces',
  Service: 'services',
  Endpoints: 'endpoints',
  PersistentVolumeClaim: 'persistentvolumeclaims',
  StatefulSet: 'statefulsets',
  Deployment: 'deployments',
  Job: 'jobs',
  CronJob: 'cronjobs',
  CustomResourceDefinition: 'customresourcedefinitions',
  Component: 'components.dapr.io',
  Issuer: 'issuers.cert-manager.io',
  ClusterIssuer: 'clusterissuers.cert-manager.io',
};

export class KubectlClusterReader implements ClusterReader {
  constructor(
    private readonly kubectl: Kubectl,
    readonly description: string,
  ) {}

  async list(kind: ClusterKind, namespace?: string): Promise<K8sObject[]> {
    const resource = RESOURCES[kind];
    const scope = namespace ? ['-n', namespace] : ['--all-namespaces'];
    const listed = this.kubectl.json<{ items?: K8sObject[] }>(['get', resource, ...scope, REQUEST_TIMEOUT], GET_TIMEOUT_MS);
    if (!listed.value) {
      const canI = this.kubectl.display(['auth', 'can-i', 'list', resource, ...scope]);
      throw new ClusterUnavailableError(`cannot list ${resource}: ${listed.reason || 'kubectl printed nothing'} (check access: \`${canI}\`)`);
    }
    return listed.value.items ?? [];
  }
}
