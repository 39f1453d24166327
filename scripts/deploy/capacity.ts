import { parseQuantity } from '../../lib/config/quantity';
import type { Dist } from '../../verify/dist';
import { fail, type K8sObject, pass } from '../../verify/model';
import { GET_TIMEOUT_MS, REQUEST_TIMEOUT } from '../kubectl';
import type { KubeList, PreflightCheck } from './preflight';

// Whether dist/ fits on the schedulable nodes: requests against allocatable, before anything is applied.

interface Resources {
  cpu: number;
  memory: number;
}

function quantityOrZero(value: unknown): number {
  if (typeof value === 'number') return value;
  return typeof value === 'string' ? parseQuantity(value) : 0;
}

/** A pod's scheduling request: its containers summed, or its largest init container if that is larger. */
function podRequests(podSpec: Record<string, any> | undefined): Resources {
  const requestsOf = (container: Record<string, any>): Resources => ({
    cpu: quantityOrZero(container?.resources?.requests?.cpu),
    memory: quantityOrZero(container?.resources?.requests?.memory),
  });
  const containers = ((podSpec?.containers ?? []) as Record<string, any>[]).map(requestsOf);
  const inits = ((podSpec?.initContainers ?? []) as Record<string, any>[]).map(requestsOf);
  const sum = containers.reduce((total, r) => ({ cpu: total.cpu + r.cpu, memory: total.memory + r.memory }), { cpu: 0, memory: 0 });
  return {
    cpu: Math.max(sum.cpu, ...inits.map((r) => r.cpu)),
    memory: Math.max(sum.memory, ...inits.map((r) => r.memory)),
  };
}

/**
 * What dist/ asks the scheduler for at its peak: every long-running replica, plus the largest Job
 * (the Jobs run one after another, each after the workloads it needs are up).
 */
function requestedByDist(dist: Dist): Resources {
  const total: Resources = { cpu: 0, memory: 0 };
  const largestJob: Resources = { cpu: 0, memory: 0 };
  for (const { object } of dist.objects) {
    if (object.kind === 'StatefulSet' || object.kind === 'Deployment') {
      const replicas = typeof object.spec?.replicas === 'number' ? object.spec.replicas : 1;
      const pod = podRequests(object.spec?.template?.spec);
      total.cpu += pod.cpu * replicas;
      total.memory += pod.memory * replicas;
    } else if (object.kind === 'Job') {
      const parallelism = typeof object.spec?.parallelism === 'number' ? object.spec.parallelism : 1;
      const pod = podRequests(object.spec?.template?.spec);
      largestJob.cpu = Math.max(largestJob.cpu, pod.cpu * parallelism);
      largestJob.memory = Math.max(largestJob.memory, pod.memory * parallelism);
    }
  }
  return { cpu: total.cpu + largestJob.cpu, memory: total.memory + largestJob.memory };
}

function hasCondition(object: K8sObject, type: string): boolean {
  return ((object.status?.conditions ?? []) as { type?: string; status?: string }[]).some((condition) => condition.type === type && condition.status === 'True');
}

/** Nodes our pods can land on: Ready, not cordoned, no taint our pods would have to tolerate. */
function isSchedulable(node: K8sObject): boolean {
  const taints = (node.spec?.taints ?? []) as { effect?: string }[];
  return !node.spec?.unschedulable && hasCondition(node, 'Ready') && !taints.some((taint) => taint.effect === 'NoSchedule' || taint.effect === 'NoExecute');
}

function formatCpu(cores: number): string {
  return cores < 1 ? `${Math.round(cores * 1000)}m` : `${+cores.toFixed(2)}`;
}

function formatMemory(bytes: number): string {
  return bytes >= 2 ** 30 ? `${+(bytes / 2 ** 30).toFixed(2)}Gi` : `${Math.round(bytes / 2 ** 20)}Mi`;
}

export const capacityCheck: PreflightCheck = {
  id: 'preflight-capacity',
  description: 'allocatable CPU and memory of the schedulable nodes >= what dist/ requests (every StatefulSet replica plus the largest Job)',
  component: 'cluster',
  remediation:
    'give the cluster more (`minikube delete && minikube start --cpus 4 --memory 8g --cni calico`, or add nodes), ' +
    'or lower the requests in a --config file and `npm run synth`',
  needs: ['dist', 'cluster'],
  run: (context) => {
    const listed = context.kubectl.json<KubeList<K8sObject>>(['get', 'nodes', REQUEST_TIMEOUT], GET_TIMEOUT_MS);
    if (!listed.value) return [context.cannotRead('list the nodes', listed.reason, ['list', 'nodes'])];
    const nodes = (listed.value.items ?? []).filter(isSchedulable);
    const allocatable = nodes.reduce(
      (total, node) => ({ cpu: total.cpu + quantityOrZero(node.status?.allocatable?.cpu), memory: total.memory + quantityOrZero(node.status?.allocatable?.memory) }),
      { cpu: 0, memory: 0 },
    );
    const requested = requestedByDist(context.readDist);
    const offering = nodes.length === 1 ? '1 schedulable node offers' : `${nodes.length} schedulable nodes offer`;
    const summary =
      `dist/ requests ${formatCpu(requested.cpu)} CPU and ${formatMemory(requested.memory)}; ` +
      `${offering} ${formatCpu(allocatable.cpu)} CPU and ${formatMemory(allocatable.memory)}`;
    const short = [...(requested.cpu > allocatable.cpu ? ['CPU'] : []), ...(requested.memory > allocatable.memory ? ['memory'] : [])];
    if (short.length === 0) return [pass([], summary)];
    return [fail([], `not enough allocatable ${short.join(' and ')}: ${summary}; pods that do not fit stay Pending`)];
  },
};
