import { DAPR_CONTROL_PLANE, DAPR_CRDS } from '../../verify/checks/cluster';
import type { Dist } from '../../verify/dist';
import { type CheckResult, fail, type K8sObject, pass } from '../../verify/model';
import { GET_TIMEOUT_MS, REQUEST_TIMEOUT } from '../kubectl';
import type { PreflightCheck } from './preflight';

// What the cluster must have before dist/ is applied: storage for the claims and Dapr. The same
// prerequisites the verifier's live checks judge afterwards (verify/checks/cluster.ts).

export interface KubeList<T> {
  readonly items?: T[];
}

interface Condition {
  readonly type?: string;
  readonly status?: string;
}

export function hasCondition(object: K8sObject, type: string): boolean {
  return ((object.status?.conditions ?? []) as Condition[]).some((condition) => condition.type === type && condition.status === 'True');
}

interface StorageClass {
  readonly metadata: { readonly name: string; readonly annotations?: Record<string, string> };
}

const DEFAULT_CLASS_ANNOTATIONS = ['storageclass.kubernetes.io/is-default-class', 'storageclass.beta.kubernetes.io/is-default-class'];

/** The StorageClasses dist/ asks for by name, and the claims that name none (they need the default). */
function storageNeeds(dist: Dist): { named: Map<string, string[]>; unnamed: string[] } {
  const named = new Map<string, string[]>();
  const unnamed: string[] = [];
  const need = (claimSpec: Record<string, any> | undefined, owner: string) => {
    const className = claimSpec?.storageClassName;
    // "" asks for no class at all (pre-provisioned volumes): neither a default nor a named class.
    if (className === '') return;
    if (typeof className === 'string') named.set(className, [...(named.get(className) ?? []), owner]);
    else unnamed.push(owner);
  };
  for (const { object } of dist.objects) {
    const owner = `${object.kind.toLowerCase()}/${object.metadata.name}`;
    if (object.kind === 'PersistentVolumeClaim') need(object.spec, owner);
    if (object.kind === 'StatefulSet') for (const template of object.spec?.volumeClaimTemplates ?? []) need(template?.spec, owner);
  }
  return { named, unnamed: [...new Set(unnamed)] };
}

export const storageClassCheck: PreflightCheck = {
  id: 'preflight-storage-class',
  description: 'a default StorageClass for the claims that name none, and every StorageClass the claims name',
  component: 'cluster',
  remediation: 'install a provisioner and mark its class default',
  needs: ['dist', 'cluster'],
  run: (context) => {
    const listed = context.kubectl.json<KubeList<StorageClass>>(['get', 'storageclasses', REQUEST_TIMEOUT], GET_TIMEOUT_MS);
    if (!listed.value) return [context.cannotRead('list StorageClasses', listed.reason, ['list', 'storageclasses'])];
    const classes = listed.value.items ?? [];
    const names = classes.map((storageClass) => storageClass.metadata.name);
    const defaults = classes.filter((storageClass) => DEFAULT_CLASS_ANNOTATIONS.some((key) => storageClass.metadata.annotations?.[key] === 'true'));
    const needs = storageNeeds(context.readDist);
    const results: CheckResult[] = [];
    if (needs.unnamed.length > 0 && defaults.length === 0) {
      results.push(
        fail(
          [],
          `${classes.length === 0 ? 'the cluster has no StorageClass' : `none of the StorageClasses (${names.join(', ')}) is the default`}: ` +
            `${needs.unnamed.join(', ')} claim volumes without a storageClassName; without a default class the claims stay Pending and the pods never start`,
          names[0]
            ? `\`kubectl patch storageclass ${names[0]} -p '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}}'\``
            : '`minikube addons enable storage-provisioner && minikube addons enable default-storageclass`, or install a provisioner and mark its class default',
        ),
      );
    }
    for (const [className, owners] of needs.named) {
      if (names.includes(className)) continue;
      results.push(
        fail(
          [],
          `StorageClass ${className} does not exist: ${owners.join(', ')} ask for it by name; their claims would stay Pending`,
          `create it, or set storage.storageClassName in the config to one of: ${names.join(', ') || '(none)'}, then \`npm run synth\``,
        ),
      );
    }
    if (results.length > 0) return results;
    return [pass([], defaults.map((c) => c.metadata.name).join(', ') || `named classes only (${[...needs.named.keys()].join(', ')})`)];
  },
};

const INSTALL_DAPR =
  '`dapr init -k --wait --set dapr_sidecar_injector.sidecarDropALLCapabilities=true` (restricted Pod Security for the sidecars; README), ' +
  'or the same --set with `helm upgrade --install dapr dapr/dapr --namespace dapr-system --create-namespace --wait`';

export const daprCrdsCheck: PreflightCheck = {
  id: 'preflight-dapr-crds',
  description: `the Dapr CRDs (${DAPR_CRDS.join(', ')}) are installed and established`,
  component: 'dapr',
  remediation: INSTALL_DAPR,
  needs: ['cluster'],
  run: (context) => {
    const listed = context.kubectl.json<KubeList<K8sObject> & Partial<K8sObject>>(
      ['get', 'customresourcedefinitions', ...DAPR_CRDS, '--ignore-not-found', REQUEST_TIMEOUT],
      GET_TIMEOUT_MS,
    );
    if (listed.reason) return [context.cannotRead('read the Dapr CRDs', listed.reason, ['get', 'customresourcedefinitions'])];
    // One name found prints the object itself, several print a List.
    const found = listed.value ? (listed.value.items ?? [listed.value as K8sObject]) : [];
    const established = new Set(found.filter((crd) => hasCondition(crd, 'Established')).map((crd) => crd.metadata.name));
    const missing = DAPR_CRDS.filter((crd) => !established.has(crd));
    if (missing.length === 0) return [pass([], DAPR_CRDS.join(', '))];
    return [
      fail(
        [],
        `Dapr CRD${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not installed (or not established): ` +
          '30-dapr.yaml holds Dapr Components; without their CRDs the apply fails with "resource mapping not found"',
      ),
    ];
  },
};

const DAPR_NAMESPACE = DAPR_CONTROL_PLANE.namespace;
const DAPR_WORKLOADS = [
  ...DAPR_CONTROL_PLANE.deployments.map((name) => ({ kind: 'Deployment', name })),
  ...DAPR_CONTROL_PLANE.statefulSets.map((name) => ({ kind: 'StatefulSet', name })),
];

function isAvailable(workload: K8sObject): boolean {
  if (workload.kind === 'Deployment') return hasCondition(workload, 'Available');
  const wanted = typeof workload.spec?.replicas === 'number' ? workload.spec.replicas : 1;
  return (workload.status?.readyReplicas ?? 0) >= Math.max(wanted, 1);
}

export const daprControlPlaneCheck: PreflightCheck = {
  id: 'preflight-dapr-control-plane',
  description: `the Dapr control plane in ${DAPR_NAMESPACE} is available (operator, sidecar injector, sentry, placement, scheduler)`,
  component: 'dapr',
  remediation: INSTALL_DAPR,
  needs: ['cluster'],
  run: (context) => {
    const { kubectl } = context;
    const listed = kubectl.json<KubeList<K8sObject>>(['get', 'deployments,statefulsets', '-n', DAPR_NAMESPACE, REQUEST_TIMEOUT], GET_TIMEOUT_MS);
    if (!listed.value) return [context.cannotRead(`list the workloads of ${DAPR_NAMESPACE}`, listed.reason, ['list', 'deployments', '-n', DAPR_NAMESPACE])];
    const workloads = listed.value.items ?? [];
    const missing: string[] = [];
    const unavailable: string[] = [];
    for (const wanted of DAPR_WORKLOADS) {
      const workload = workloads.find((item) => item.kind === wanted.kind && item.metadata.name === wanted.name);
      const ref = `${wanted.kind.toLowerCase()}/${wanted.name}`;
      if (!workload) missing.push(ref);
      else if (!isAvailable(workload)) unavailable.push(ref);
    }
    if (missing.length > 0) {
      return [
        fail(
          [],
          `not installed in ${DAPR_NAMESPACE}: ${missing.join(', ')}: the Dapr sidecars of the LearnFlow services need the operator, sidecar injector, sentry, placement and scheduler`,
        ),
      ];
    }
    if (unavailable.length > 0) {
      return [
        fail(
          [],
          `not available in ${DAPR_NAMESPACE}: ${unavailable.join(', ')}: installed, but no ready replica yet (starting, crash-looping or unschedulable)`,
          `\`${kubectl.display(['get', 'pods', '-n', DAPR_NAMESPACE])}\` to see why, or wait: ` +
            `\`${kubectl.display(['rollout', 'status', unavailable[0], '-n', DAPR_NAMESPACE, '--timeout=5m'])}\``,
        ),
      ];
    }
    return [pass([], `${DAPR_WORKLOADS.length} workloads available in ${DAPR_NAMESPACE}`)];
  },
};
