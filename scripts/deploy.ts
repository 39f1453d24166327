import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../lib/config/load';
import { parseQuantity } from '../lib/config/quantity';
import { LearnflowStack } from '../lib/learnflow-stack';
import { DAPR_CONTROL_PLANE, DAPR_CRDS } from '../verify/checks/cluster';
import { referencesIn } from '../verify/checks/references';
import { type Dist, DistError, loadDist } from '../verify/dist';
import type { DistObject, K8sObject } from '../verify/model';
import { APPLY_TIMEOUT_MS, firstLines, formatDuration, GET_TIMEOUT_MS, Kubectl, KUBECTL_MISSING, REQUEST_TIMEOUT } from './kubectl';
import { describeObject, FIELD_MANAGER, formatChange, planStatefulSets, readLive, type StatefulSetPlan } from './live-changes';

const EXIT = {
  ok: 0,
  // 1 and 2 are the verifier's own codes, passed through unchanged.
  verifyFindings: 1,
  verifyCouldNotCheck: 2,
  usage: 3,
  preflight: 4,
  apply: 5,
  wait: 6,
} as const;

const HELP_AFTER = `
Steps:
  1. preflight: cluster reachable, Kubernetes >= 1.28, a default StorageClass, the Dapr CRDs and control
     plane in dapr-system, allocatable CPU and memory >= what dist/ requests, and no change of a live
     StatefulSet that cannot be carried out safely (all checks, one list)
  2. namespaces and network policies (server-side apply), then \`npm run secrets\` (missing Secrets only)
  3. the other dist/ files in name order; after each, wait for its StatefulSets to roll out and its Jobs
     to complete (a failed Job stops the deploy and shows its logs). Before the file of a live StatefulSet
     whose claim templates grow (the API refuses that in place): its claims are expanded, then it is
     deleted with --cascade=orphan (its pods keep running) and re-created by the apply
  4. \`npm run verify -- --live\`

Exit codes:
  0  deployed and verified healthy (or: --skip-verify and deployed; --dry-run and preflight passed)
  1  deployed, but the verifier reported findings
  2  deployed, but the verifier could not check
  3  invalid arguments
  4  preflight failed: nothing was applied (also: a StatefulSet change that cannot be carried out safely,
     such as smaller or differently classed storage or another selector)
  5  applying a file, creating the Secrets, expanding a claim or re-creating a StatefulSet failed (also: any
     unexpected error)
  6  a StatefulSet did not roll out or a Job failed or did not complete within --timeout`;

interface DeployOptions {
  readonly profile: string;
  readonly config?: string;
  readonly dist: string;
  readonly context?: string;
  readonly timeout: number;
  readonly skipVerify?: boolean;
  readonly dryRun?: boolean;
}

/** A Go-style duration as kubectl takes it (90s, 10m, 1h30m) or plain seconds, in milliseconds. */
function duration(value: string): number {
  if (!/^(?:\d+|(?:\d+[hms])+)$/.test(value)) throw new InvalidArgumentError('must be a duration such as 90s, 10m or 1h30m');
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const unit = { h: 3_600_000, m: 60_000, s: 1000 } as const;
  let total = 0;
  for (const [, amount, suffix] of value.matchAll(/(\d+)([hms])/g)) total += Number(amount) * unit[suffix as keyof typeof unit];
  if (total === 0) throw new InvalidArgumentError('must be longer than 0s');
  return total;
}

// ---------------------------------------------------------------------------------------------
// output

interface Failure {
  readonly what: string;
  readonly why: string;
  readonly fix: string;
}

// Failures are part of the progress report (stdout, in order with the ✓ lines); only the one-line
// summary that ends a failed deploy goes to stderr.
function printFailure(failure: Failure, indent = ''): void {
  console.log(`${indent}✗ ${failure.what}`);
  console.log(`${indent}    why: ${failure.why}`);
  console.log(`${indent}    fix: ${failure.fix}`);
}

function step(number: number, title: string): void {
  console.log(`[${number}/4] ${title}`);
}

// ---------------------------------------------------------------------------------------------
// preflight

interface CheckOutcome {
  readonly name: string;
  /** What was found, for the ✓ line. */
  readonly found?: string;
  readonly failure?: Failure;
  readonly skipped?: string;
}

const MINIMUM_SERVER = { major: 1, minor: 28 };
// The same prerequisites the verifier's live checks judge afterwards.
const DAPR_NAMESPACE = DAPR_CONTROL_PLANE.namespace;
const DAPR_WORKLOADS = [
  ...DAPR_CONTROL_PLANE.deployments.map((name) => ({ kind: 'Deployment', name })),
  ...DAPR_CONTROL_PLANE.statefulSets.map((name) => ({ kind: 'StatefulSet', name })),
];
const INSTALL_DAPR =
  '`dapr init -k --wait --set dapr_sidecar_injector.sidecarDropALLCapabilities=true` (restricted Pod Security for the sidecars; README), ' +
  'or the same --set with `helm upgrade --install dapr dapr/dapr --namespace dapr-system --create-namespace --wait`';
const DEFAULT_CLASS_ANNOTATIONS = ['storageclass.kubernetes.io/is-default-class', 'storageclass.beta.kubernetes.io/is-default-class'];

/** A read the preflight needs failed although the API server answered: usually RBAC. */
function cannotRead(kubectl: Kubectl, name: string, what: string, reason: string, canI: readonly string[]): CheckOutcome {
  return {
    name,
    failure: { what: `cannot ${what}`, why: reason || 'kubectl printed nothing', fix: `check access: \`${kubectl.display(['auth', 'can-i', ...canI])}\`` },
  };
}

interface KubeList<T> {
  readonly items?: T[];
}

interface Preflight {
  readonly checks: CheckOutcome[];
  readonly dist?: Dist;
  /** Live StatefulSets whose claims grow: carried out in step 3, before their files are applied. */
  readonly recreations: StatefulSetPlan[];
}

function preflight(kubectl: Kubectl, options: DeployOptions): Preflight {
  const checks: CheckOutcome[] = [];
  let dist: Dist | undefined;
  let distUsable = false;
  try {
    dist = loadDist(options.dist);
    const distCheck = checkDist(dist, options);
    distUsable = !distCheck.failure;
    checks.push(distCheck);
  } catch (error) {
    if (!(error instanceof DistError)) throw error;
    checks.push({ name: 'dist/', failure: { what: `${options.dist} cannot be read`, why: error.message, fix: '`npm run synth`' } });
  }

  const version = kubectl.run(['version', '-o', 'json', REQUEST_TIMEOUT], GET_TIMEOUT_MS);
  const serverVersion = version.ok ? parseServerVersion(version.stdout) : undefined;
  if (!serverVersion) {
    checks.push({
      name: 'cluster reachable',
      failure: {
        what: `no Kubernetes API server answered (${options.context ? `context ${options.context}` : 'current context'})`,
        why: version.reason || 'kubectl printed no server version',
        fix:
          version.reason === KUBECTL_MISSING
            ? 'install kubectl (https://kubernetes.io/docs/tasks/tools/) and put it on PATH'
            : 'start the cluster (`minikube start --cpus 4 --memory 8g --cni calico`) or pick another: ' +
              '`kubectl config get-contexts`, then --context <name>',
      },
    });
    const skipped = 'the cluster is unreachable';
    for (const name of ['server version', 'default StorageClass', 'Dapr CRDs', 'Dapr control plane', CERTIFICATE_SOURCES, 'capacity', STATEFULSET_CHANGES]) checks.push({ name, skipped });
    return { checks, dist, recreations: [] };
  }
  checks.push({ name: 'cluster reachable', found: `${options.context ? `context ${options.context}` : 'current context'} answers` });
  checks.push(checkServerVersion(serverVersion));
  checks.push(dist ? checkStorageClasses(kubectl, dist) : { name: 'default StorageClass', skipped: 'dist/ cannot be read' });
  checks.push(checkDaprCrds(kubectl));
  checks.push(checkDaprControlPlane(kubectl));
  // The Secrets a pod mounts are judged against what --profile creates: only for a dist/ of that profile.
  checks.push(dist && distUsable ? checkCertificateSources(kubectl, dist, options) : { name: CERTIFICATE_SOURCES, skipped: 'dist/ is unusable (above)' });
  checks.push(dist ? checkCapacity(kubectl, dist) : { name: 'capacity', skipped: 'dist/ cannot be read' });
  if (!dist) {
    checks.push({ name: STATEFULSET_CHANGES, skipped: 'dist/ cannot be read' });
    return { checks, dist, recreations: [] };
  }
  const { check, recreations } = checkStatefulSetChanges(kubectl, dist);
  checks.push(check);
  return { checks, dist, recreations };
}

function checkDist(dist: Dist, options: DeployOptions): CheckOutcome {
  const name = 'dist/';
  if (dist.malformed.length > 0) {
    const first = dist.malformed[0];
    return {
      name,
      failure: {
        what: `${dist.dir} holds documents that are not Kubernetes objects`,
        why: `${first.file}: ${first.reason}`,
        fix: '`npm run synth` (and `npm run verify -- --offline`)',
      },
    };
  }
  if (dist.objects.length === 0) {
    return { name, failure: { what: `${dist.dir} holds no manifests`, why: 'there is nothing to apply', fix: '`npm run synth`' } };
  }
  // The Secrets created in step 2 follow --profile; a dist/ of another profile would run Jobs that
  // read Secrets nobody created (the seed users exist only in development profiles).
  const synthesizedWith = /^# profile: (\S+)$/m.exec(dist.documents['infra-endpoints.txt'] ?? '')?.[1];
  if (synthesizedWith && synthesizedWith !== options.profile) {
    return {
      name,
      failure: {
        what: `${dist.dir} was synthesized with profile ${synthesizedWith}, the deploy runs with --profile ${options.profile}`,
        why: 'the Secrets are created for --profile, the Jobs of dist/ read the Secrets of their own profile',
        fix: `\`npm run synth -- --profile ${options.profile}\`, or \`npm run deploy -- --profile ${synthesizedWith}\``,
      },
    };
  }
  const files = new Set(dist.objects.map((item) => item.file)).size;
  return { name, found: `${dist.objects.length} objects in ${files} files${synthesizedWith ? ` (profile ${synthesizedWith})` : ''}` };
}

function parseServerVersion(output: string): ServerVersion | undefined {
  try {
    return (JSON.parse(output) as { serverVersion?: ServerVersion }).serverVersion;
  } catch {
    return undefined;
  }
}

interface ServerVersion {
  readonly major?: string;
  readonly minor?: string;
  readonly gitVersion?: string;
}

function checkServerVersion(version: ServerVersion): CheckOutcome {
  // Managed clusters report minor versions like "28+"; parseInt reads the number in front.
  const major = parseInt(version.major ?? '', 10);
  const minor = parseInt(version.minor ?? '', 10);
  const shown = version.gitVersion ?? `${version.major}.${version.minor}`;
  const recent = major > MINIMUM_SERVER.major || (major === MINIMUM_SERVER.major && minor >= MINIMUM_SERVER.minor);
  if (recent) return { name: 'server version', found: `${shown} (>= 1.28)` };
  return {
    name: 'server version',
    failure: {
      what: `the API server runs Kubernetes ${shown}, older than 1.28`,
      why: 'the manifests rely on the apps.kubernetes.io/pod-index label (1.28) and the restricted Pod Security profile of 1.28',
      fix: 'upgrade the cluster, e.g. `minikube start --kubernetes-version=stable` (minikube upgrades in place)',
    },
  };
}

interface StorageClass {
  readonly metadata: { readonly name: string; readonly annotations?: Record<string, string> };
}

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

/** One failed check listing every problem it found. */
function failedWith(name: string, problems: readonly Failure[]): CheckOutcome {
  return { name, failure: { what: problems.map((p) => p.what).join('; '), why: problems.map((p) => p.why).join('; '), fix: problems.map((p) => p.fix).join('; ') } };
}

function checkStorageClasses(kubectl: Kubectl, dist: Dist): CheckOutcome {
  const name = 'default StorageClass';
  const listed = kubectl.json<KubeList<StorageClass>>(['get', 'storageclasses', REQUEST_TIMEOUT], GET_TIMEOUT_MS);
  if (!listed.value) return cannotRead(kubectl, name, 'list StorageClasses', listed.reason, ['list', 'storageclasses']);
  const classes = listed.value.items ?? [];
  const defaults = classes.filter((storageClass) => DEFAULT_CLASS_ANNOTATIONS.some((key) => storageClass.metadata.annotations?.[key] === 'true'));
  const needs = storageNeeds(dist);
  const problems: Failure[] = [];
  if (needs.unnamed.length > 0 && defaults.length === 0) {
    const candidate = classes[0]?.metadata.name;
    problems.push({
      what: classes.length === 0 ? 'the cluster has no StorageClass' : `none of the StorageClasses (${classes.map((c) => c.metadata.name).join(', ')}) is the default`,
      why: `${needs.unnamed.join(', ')} claim volumes without a storageClassName; without a default class the claims stay Pending and the pods never start`,
      fix: candidate
        ? `\`kubectl patch storageclass ${candidate} -p '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}}'\``
        : '`minikube addons enable storage-provisioner && minikube addons enable default-storageclass`, or install a provisioner and mark its class default',
    });
  }
  for (const [className, owners] of needs.named) {
    if (classes.some((storageClass) => storageClass.metadata.name === className)) continue;
    problems.push({
      what: `StorageClass ${className} does not exist`,
      why: `${owners.join(', ')} ask for it by name; their claims would stay Pending`,
      fix: `create it, or set storage.storageClassName in the config to one of: ${classes.map((c) => c.metadata.name).join(', ') || '(none)'}, then \`npm run synth\``,
    });
  }
  if (problems.length > 0) return failedWith(name, problems);
  return { name, found: defaults.map((c) => c.metadata.name).join(', ') || `named classes only (${[...needs.named.keys()].join(', ')})` };
}

interface Condition {
  readonly type?: string;
  readonly status?: string;
}

function hasCondition(object: K8sObject, type: string): boolean {
  return ((object.status?.conditions ?? []) as Condition[]).some((condition) => condition.type === type && condition.status === 'True');
}

function checkDaprCrds(kubectl: Kubectl): CheckOutcome {
  const name = 'Dapr CRDs';
  const listed = kubectl.json<KubeList<K8sObject> & Partial<K8sObject>>(
    ['get', 'customresourcedefinitions', ...DAPR_CRDS, '--ignore-not-found', REQUEST_TIMEOUT],
    GET_TIMEOUT_MS,
  );
  if (listed.reason) return cannotRead(kubectl, name, 'read the Dapr CRDs', listed.reason, ['get', 'customresourcedefinitions']);
  // One name found prints the object itself, several print a List.
  const found = listed.value ? (listed.value.items ?? [listed.value as K8sObject]) : [];
  const established = new Set(found.filter((crd) => hasCondition(crd, 'Established')).map((crd) => crd.metadata.name));
  const missing = DAPR_CRDS.filter((crd) => !established.has(crd));
  if (missing.length === 0) return { name, found: DAPR_CRDS.join(', ') };
  return {
    name,
    failure: {
      what: `Dapr CRD${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not installed (or not established)`,
      why: '30-dapr.yaml holds Dapr Components; without their CRDs the apply fails with "resource mapping not found"',
      fix: INSTALL_DAPR,
    },
  };
}

const CERTIFICATE_SOURCES = 'certificate sources';
const CERT_MANAGER_CRDS = ['certificates.cert-manager.io', 'issuers.cert-manager.io', 'clusterissuers.cert-manager.io'];
const INSTALL_CERT_MANAGER = '`helm upgrade --install cert-manager oci://quay.io/jetstack/charts/cert-manager --namespace cert-manager --create-namespace --set crds.enabled=true --wait` (README, Security)';

/**
 * Where the certificates come from must exist before anything is applied: cert-manager's CRDs and the issuers
 * named by the Certificates of dist/ (unless dist/ creates them), and every Secret a pod mounts that neither
 * `npm run secrets` creates nor a Certificate of dist/ writes (a user-provided TLS Secret). A pod whose Secret
 * is missing never starts, and says so only in its events.
 */
function checkCertificateSources(kubectl: Kubectl, dist: Dist, options: DeployOptions): CheckOutcome {
  const name = CERTIFICATE_SOURCES;
  const objects = dist.objects.map((item) => item.object);
  const certificates = objects.filter((object) => object.kind === 'Certificate' && object.apiVersion.startsWith('cert-manager.io/'));
  const problems: Failure[] = [];
  const found: string[] = [];
  if (certificates.length > 0) {
    // Names and the Established condition only: the Issuer CRDs (ACME solvers) are megabytes of JSON.
    const columns = 'custom-columns=NAME:.metadata.name,ESTABLISHED:.status.conditions[?(@.type=="Established")].status';
    const listed = kubectl.run(['get', 'customresourcedefinitions', ...CERT_MANAGER_CRDS, '--ignore-not-found', '--no-headers', '-o', columns, REQUEST_TIMEOUT], GET_TIMEOUT_MS);
    if (!listed.ok) return cannotRead(kubectl, name, 'read the cert-manager CRDs', listed.reason, ['get', 'customresourcedefinitions']);
    const established = new Set(listed.stdout.split('\n').flatMap((line) => (/^(\S+)\s+True$/.exec(line.trim()) ? [line.trim().split(/\s+/)[0]] : [])));
    const missing = CERT_MANAGER_CRDS.filter((crd) => !established.has(crd));
    if (missing.length > 0) {
      problems.push({
        what: `cert-manager CRD${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not installed (or not established)`,
        why: `dist/ holds cert-manager Certificates (${certificates.map((c) => `${c.metadata.namespace}/${c.metadata.name}`).join(', ')}): PostgreSQL's TLS certificate is issued by cert-manager`,
        fix: `${INSTALL_CERT_MANAGER}, or postgres.tls.source: secret with a Secret you create`,
      });
    } else {
      for (const certificate of certificates) {
        const issuer = certificate.spec?.issuerRef ?? {};
        const kind: string = issuer.kind ?? 'Issuer';
        const inDist = objects.some((object) => object.kind === kind && object.metadata.name === issuer.name && (kind === 'ClusterIssuer' || object.metadata.namespace === certificate.metadata.namespace));
        if (inDist) continue;
        const scope = kind === 'ClusterIssuer' ? [] : ['-n', certificate.metadata.namespace ?? 'default'];
        const read = kubectl.run(['get', kind.toLowerCase(), issuer.name, ...scope, '-o', 'name', '--ignore-not-found', REQUEST_TIMEOUT], GET_TIMEOUT_MS);
        if (!read.ok) return cannotRead(kubectl, name, `read ${kind} ${issuer.name}`, read.reason, ['get', kind.toLowerCase()]);
        if (read.stdout.trim() === '') {
          problems.push({
            what: `${kind} ${issuer.name}${scope.length ? ` in ${certificate.metadata.namespace}` : ''} does not exist`,
            why: `Certificate ${certificate.metadata.namespace}/${certificate.metadata.name} is to be signed by it (postgres.tls.issuer); it would never be issued and PostgreSQL never start`,
            fix: `create the ${kind}, or remove postgres.tls.issuer to have a self-signed CA created in dist/, then \`npm run synth\``,
          });
        } else {
          found.push(`${kind} ${issuer.name}`);
        }
      }
    }
  }
  let created: Set<string>;
  try {
    // What step 2 creates: the Secret contract of --profile and --config, as `npm run secrets` makes it.
    created = new Set(new LearnflowStack(loadConfig({ profile: options.profile, overrideFile: options.config })).postgres.secrets.all.map((secret) => secret.name));
  } catch (error) {
    return { name, failure: { what: 'the configuration cannot be loaded', why: (error as Error).message, fix: 'fix --profile/--config (`npm run synth` shows the same errors)' } };
  }
  const written = new Set(certificates.map((certificate) => `${certificate.metadata.namespace}/${certificate.spec?.secretName}`));
  const provided = new Map<string, Set<string>>();
  for (const reference of referencesIn(dist)) {
    const key = `${reference.namespace}/${reference.name}`;
    if (reference.kind !== 'Secret' || created.has(reference.name) || written.has(key)) continue;
    provided.set(key, (provided.get(key) ?? new Set()).add(`${reference.from.kind.toLowerCase()}/${reference.from.name}`));
  }
  for (const [key, readers] of provided) {
    const reader = [...readers].join(', ');
    const [namespace, secret] = key.split('/');
    const read = kubectl.run(['get', 'secret', secret, '-n', namespace, '-o', 'name', '--ignore-not-found', REQUEST_TIMEOUT], GET_TIMEOUT_MS);
    if (!read.ok) return cannotRead(kubectl, name, `read Secret ${key}`, read.reason, ['get', 'secrets', '-n', namespace]);
    if (read.stdout.trim() === '') {
      problems.push({
        what: `Secret ${secret} in ${namespace} does not exist`,
        why: `${reader} mount${readers.size > 1 ? '' : 's'} it and nothing creates it (postgres.tls.source: secret names your own certificate Secret, with tls.crt, tls.key and ca.crt)`,
        fix: `\`kubectl -n ${namespace} create secret generic ${secret} --from-file=tls.crt --from-file=tls.key --from-file=ca.crt\`, or postgres.tls.source: cert-manager`,
      });
    } else {
      found.push(`Secret ${key}`);
    }
  }
  if (problems.length > 0) return failedWith(name, problems);
  if (certificates.length === 0 && provided.size === 0) return { name, found: 'none needed (TLS off, or nothing to provide)' };
  return { name, found: [...(certificates.length > 0 ? ['cert-manager CRDs'] : []), ...found].join(', ') };
}

function checkDaprControlPlane(kubectl: Kubectl): CheckOutcome {
  const name = 'Dapr control plane';
  const listed = kubectl.json<KubeList<K8sObject>>(['get', 'deployments,statefulsets', '-n', DAPR_NAMESPACE, REQUEST_TIMEOUT], GET_TIMEOUT_MS);
  if (!listed.value) {
    return cannotRead(kubectl, name, `list the workloads of ${DAPR_NAMESPACE}`, listed.reason, ['list', 'deployments', '-n', DAPR_NAMESPACE]);
  }
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
    return {
      name,
      failure: {
        what: `not installed in ${DAPR_NAMESPACE}: ${missing.join(', ')}`,
        why: 'the Dapr sidecars of the LearnFlow services need the operator, sidecar injector, sentry, placement and scheduler',
        fix: INSTALL_DAPR,
      },
    };
  }
  if (unavailable.length > 0) {
    return {
      name,
      failure: {
        what: `not available in ${DAPR_NAMESPACE}: ${unavailable.join(', ')}`,
        why: 'installed, but no ready replica yet (starting, crash-looping or unschedulable)',
        fix:
          `\`${kubectl.display(['get', 'pods', '-n', DAPR_NAMESPACE])}\` to see why, or wait: ` +
          `\`${kubectl.display(['rollout', 'status', unavailable[0], '-n', DAPR_NAMESPACE, '--timeout=5m'])}\``,
      },
    };
  }
  return { name, found: `${DAPR_WORKLOADS.length} workloads available in ${DAPR_NAMESPACE}` };
}

function isAvailable(workload: K8sObject): boolean {
  if (workload.kind === 'Deployment') return hasCondition(workload, 'Available');
  const wanted = typeof workload.spec?.replicas === 'number' ? workload.spec.replicas : 1;
  return (workload.status?.readyReplicas ?? 0) >= Math.max(wanted, 1);
}

interface Resources {
  cpu: number;
  memory: number;
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

function quantityOrZero(value: unknown): number {
  if (typeof value === 'number') return value;
  return typeof value === 'string' ? parseQuantity(value) : 0;
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

function checkCapacity(kubectl: Kubectl, dist: Dist): CheckOutcome {
  const name = 'capacity';
  const listed = kubectl.json<KubeList<K8sObject>>(['get', 'nodes', REQUEST_TIMEOUT], GET_TIMEOUT_MS);
  if (!listed.value) return cannotRead(kubectl, name, 'list the nodes', listed.reason, ['list', 'nodes']);
  const nodes = (listed.value.items ?? []).filter(isSchedulable);
  const allocatable = nodes.reduce(
    (total, node) => ({ cpu: total.cpu + quantityOrZero(node.status?.allocatable?.cpu), memory: total.memory + quantityOrZero(node.status?.allocatable?.memory) }),
    { cpu: 0, memory: 0 },
  );
  const requested = requestedByDist(dist);
  const offering = nodes.length === 1 ? '1 schedulable node offers' : `${nodes.length} schedulable nodes offer`;
  const summary =
    `dist/ requests ${formatCpu(requested.cpu)} CPU and ${formatMemory(requested.memory)}; ` +
    `${offering} ${formatCpu(allocatable.cpu)} CPU and ${formatMemory(allocatable.memory)}`;
  const short = [
    ...(requested.cpu > allocatable.cpu ? ['CPU'] : []),
    ...(requested.memory > allocatable.memory ? ['memory'] : []),
  ];
  if (short.length === 0) return { name, found: summary };
  return {
    name,
    failure: {
      what: `not enough allocatable ${short.join(' and ')}`,
      why: `${summary}; pods that do not fit stay Pending`,
      fix:
        'give the cluster more (`minikube delete && minikube start --cpus 4 --memory 8g --cni calico`, or add nodes), ' +
        'or lower the requests in a --config file and `npm run synth`',
    },
  };
}

const STATEFULSET_CHANGES = 'StatefulSet changes';

/**
 * The API refuses to change a live StatefulSet's claim templates, selector or service name. Growing
 * claims is carried out in step 3; anything else is refused here, before anything is applied.
 */
function checkStatefulSetChanges(kubectl: Kubectl, dist: Dist): { check: CheckOutcome; recreations: StatefulSetPlan[] } {
  const name = STATEFULSET_CHANGES;
  const statefulSets = dist.objects.map((item) => item.object).filter((object) => object.kind === 'StatefulSet');
  const { live, reason } = readLive(kubectl, statefulSets);
  if (!live) return { check: cannotRead(kubectl, name, 'read the live StatefulSets', reason, ['get', 'statefulsets']), recreations: [] };
  const planned = planStatefulSets(kubectl, statefulSets, live);
  if (planned.reason) return { check: cannotRead(kubectl, name, 'read the claims', planned.reason, ['list', 'persistentvolumeclaims']), recreations: [] };
  const refused = planned.plans.flatMap((plan) => plan.changes.filter((change) => !change.carriedOut).map((change) => ({ plan, change })));
  if (refused.length > 0) {
    const list = (part: (entry: (typeof refused)[number]) => string) => refused.map(part).join('; ');
    return {
      check: {
        name,
        failure: {
          what: `${list(({ plan, change }) => `${describeObject(plan.desired)}: ${formatChange(change)}`)} (refused in place, and no safe way to carry it out)`,
          why: list(({ change }) => change.why),
          fix: list(({ change }) => change.remedy),
        },
      },
      recreations: [],
    };
  }
  if (planned.plans.length === 0) return { check: { name, found: 'none that the API refuses in place' }, recreations: [] };
  const found = `${planned.plans.map((plan) => describeObject(plan.desired)).join(', ')}: claim templates grow; the claims are expanded and the StatefulSet re-created with --cascade=orphan in step 3`;
  return { check: { name, found }, recreations: planned.plans };
}

function printChecks(checks: readonly CheckOutcome[]): void {
  for (const check of checks) {
    if (check.failure) printFailure({ ...check.failure, what: `${check.name}: ${check.failure.what}` }, '  ');
    else if (check.skipped) console.log(`  - ${check.name}: skipped (${check.skipped})`);
    else console.log(`  ✓ ${check.name}: ${check.found}`);
  }
}

// ---------------------------------------------------------------------------------------------
// apply and wait

/** The manifest files of dist/ in apply order, each with its objects. */
function filesInOrder(dist: Dist): { file: string; objects: DistObject[] }[] {
  return dist.fileNames
    .map((file) => ({ file, objects: dist.objects.filter((item) => item.file === file) }))
    .filter((entry) => entry.objects.length > 0);
}

// What must exist before the Secrets: their namespaces, and the policies that guard those namespaces
// before anything runs in them.
const FOUNDATION_KINDS = new Set(['Namespace', 'NetworkPolicy']);

function applyFile(kubectl: Kubectl, dist: Dist, file: string): Failure | undefined {
  const args = ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', path.join(dist.dir, file), REQUEST_TIMEOUT];
  const result = kubectl.run(args, APPLY_TIMEOUT_MS);
  if (result.ok) {
    console.log(`  applied ${file}`);
    for (const line of result.stdout.trim().split('\n').filter(Boolean)) console.log(`    ${line}`);
    return undefined;
  }
  const conflict = /conflict/i.test(result.stderr);
  return {
    what: `applying ${file} failed`,
    why: result.reason,
    fix: conflict
      ? `another field manager owns these fields; to take them over: ` +
        `\`${kubectl.display([...args.slice(0, 2), '--force-conflicts', ...args.slice(2)])}\`, then \`npm run deploy\` again`
      : `fix the cause above, then \`npm run deploy\` again (every step is idempotent); to see it alone: \`${kubectl.display(args)}\``,
  };
}

/**
 * What the API refuses in place, done the safe way: every claim that grows is expanded, then the
 * StatefulSet is deleted with --cascade=orphan, so its pods keep running (and its claims stay); the apply
 * that follows re-creates it, and the new StatefulSet adopts the pods (same selector).
 */
function recreateStatefulSet(kubectl: Kubectl, plan: StatefulSetPlan): Failure | undefined {
  const { name, namespace = 'default' } = plan.live.metadata;
  const again = 'fix the cause above, then `npm run deploy` again (it picks up where this one stopped)';
  console.log(`  re-creating statefulset/${name} in ${namespace} (${plan.changes.map(formatChange).join(', ')})`);
  for (const { claim, from, to } of plan.expansions) {
    const args = ['patch', 'persistentvolumeclaim', claim, '-n', namespace, '-p', JSON.stringify({ spec: { resources: { requests: { storage: to } } } }), REQUEST_TIMEOUT];
    const result = kubectl.run(args, APPLY_TIMEOUT_MS);
    if (!result.ok) return { what: `expanding persistentvolumeclaim/${claim} in ${namespace} to ${to} failed`, why: result.reason, fix: again };
    console.log(`    persistentvolumeclaim/${claim} expanded: ${from} -> ${to}`);
  }
  const orphan = kubectl.run(['delete', 'statefulset', name, '-n', namespace, '--cascade=orphan', '--timeout=60s', REQUEST_TIMEOUT], APPLY_TIMEOUT_MS);
  if (!orphan.ok) return { what: `deleting statefulset/${name} in ${namespace} with --cascade=orphan failed`, why: orphan.reason, fix: again };
  console.log(`    statefulset/${name} deleted with --cascade=orphan: its pods keep running, the apply re-creates it`);
  return undefined;
}

class Deadline {
  private readonly end: number;
  constructor(readonly totalMs: number) {
    this.end = Date.now() + totalMs;
  }
  /** Whole seconds left, at least 1 so that kubectl gets a valid --timeout. */
  secondsLeft(): number {
    return Math.max(1, Math.ceil((this.end - Date.now()) / 1000));
  }
  expired(): boolean {
    return Date.now() >= this.end;
  }
}

// A quiet wait still prints a line this often, so a person can tell waiting from hanging.
const HEARTBEAT_MS = 15_000;

/** Runs `waitFor`, printing kubectl's lines and heartbeats with the elapsed time. */
async function withProgress<T>(what: string, waitFor: (print: (line: string) => void) => Promise<T>): Promise<{ value: T; elapsedMs: number }> {
  const started = Date.now();
  const print = (line: string) => console.log(`    [${formatDuration(Date.now() - started)}] ${line}`);
  const heartbeat = setInterval(() => print(`still waiting for ${what}`), HEARTBEAT_MS);
  try {
    const value = await waitFor(print);
    return { value, elapsedMs: Date.now() - started };
  } finally {
    clearInterval(heartbeat);
  }
}

async function waitForRollout(kubectl: Kubectl, object: K8sObject, deadline: Deadline): Promise<Failure | undefined> {
  const ref = `${object.kind.toLowerCase()}/${object.metadata.name}`;
  const namespace = object.metadata.namespace ?? 'default';
  const seconds = deadline.secondsLeft();
  console.log(`  waiting for ${ref} in ${namespace} to roll out (up to ${formatDuration(seconds * 1000)})`);
  const { value: result, elapsedMs } = await withProgress(ref, (print) =>
    kubectl.start(['rollout', 'status', ref, '-n', namespace, `--timeout=${seconds}s`], seconds * 1000 + 10_000, print).done,
  );
  if (result.ok) {
    console.log(`  ✓ ${ref} rolled out in ${formatDuration(elapsedMs)}`);
    return undefined;
  }
  return {
    what: `${ref} in ${namespace} did not roll out within ${formatDuration(elapsedMs)}`,
    why: result.reason,
    fix:
      `see why: \`${kubectl.display(['describe', ref, '-n', namespace])}\` and ` +
      `\`${kubectl.display(['get', 'events', '-n', namespace, '--sort-by=.lastTimestamp'])}\`; ` +
      'then `npm run deploy` again (a longer --timeout if it was only slow)',
  };
}

async function waitForJob(kubectl: Kubectl, object: K8sObject, deadline: Deadline): Promise<Failure | undefined> {
  const ref = `job/${object.metadata.name}`;
  const namespace = object.metadata.namespace ?? 'default';
  const seconds = deadline.secondsLeft();
  console.log(`  waiting for ${ref} in ${namespace} to complete (up to ${formatDuration(seconds * 1000)})`);
  const waitArgs = (condition: string) => ['wait', `--for=condition=${condition}`, ref, '-n', namespace, `--timeout=${seconds}s`];
  const bound = seconds * 1000 + 10_000;
  const { value: outcome, elapsedMs } = await withProgress(ref, async (print) => {
    const complete = kubectl.start(waitArgs('complete'), bound, print);
    // A failed Job never completes: without this second watch the deploy would sit out the whole timeout.
    const failed = kubectl.start(waitArgs('failed'), bound, () => undefined);
    const failedFirst = failed.done.then((result) => (result.ok ? ('failed' as const) : new Promise<never>(() => undefined)));
    try {
      return await Promise.race([complete.done, failedFirst]);
    } finally {
      complete.stop();
      failed.stop();
    }
  });
  if (outcome !== 'failed' && outcome.ok) {
    console.log(`  ✓ ${ref} completed in ${formatDuration(elapsedMs)}`);
    return undefined;
  }
  const deleteAndRetry = `\`${kubectl.display(['delete', ref, '-n', namespace])}\` (a finished Job of the same name is never re-run), then \`npm run deploy\` again`;
  if (outcome === 'failed') {
    const logsArgs = ['logs', ref, '-n', namespace, '--tail=30'];
    const logs = kubectl.run(logsArgs, GET_TIMEOUT_MS);
    console.log(`  ${ref} failed; the last lines of its logs (\`${kubectl.display(logsArgs)}\`):`);
    const lines = (logs.ok ? logs.stdout : `(no logs: ${logs.reason})`).trimEnd().split('\n');
    for (const line of lines) console.log(`    | ${line}`);
    return {
      what: `${ref} in ${namespace} failed after ${formatDuration(elapsedMs)}`,
      why: 'the Job reached its backoff limit (its logs are above)',
      fix: `fix the cause in the logs, then ${deleteAndRetry}`,
    };
  }
  return {
    what: `${ref} in ${namespace} did not complete within ${formatDuration(elapsedMs)}`,
    why: outcome.reason,
    fix: `see why: \`${kubectl.display(['describe', ref, '-n', namespace])}\`; if it is only slow, \`npm run deploy\` again with a longer --timeout`,
  };
}

const ROLLOUT_KINDS = new Set(['StatefulSet', 'Deployment', 'DaemonSet']);

async function waitForFile(kubectl: Kubectl, objects: readonly DistObject[], deadline: Deadline): Promise<Failure | undefined> {
  for (const { object } of objects) {
    const waiter = ROLLOUT_KINDS.has(object.kind) ? waitForRollout : object.kind === 'Job' ? waitForJob : undefined;
    if (!waiter) continue;
    if (deadline.expired()) {
      return {
        what: `--timeout ${formatDuration(deadline.totalMs)} used up before ${object.kind.toLowerCase()}/${object.metadata.name}`,
        why: 'the earlier waits took the whole budget',
        fix: '`npm run deploy -- --timeout 20m`',
      };
    }
    const failure = await waiter(kubectl, object, deadline);
    if (failure) return failure;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// secrets and verify: the project's own commands, run as they are run by hand

function runSecrets(options: DeployOptions): Failure | undefined {
  const args = ['--profile', options.profile, ...(options.config ? ['--config', options.config] : []), ...(options.context ? ['--context', options.context] : [])];
  const result = spawnSync(process.execPath, [path.join(__dirname, 'secrets.js'), ...args], { encoding: 'utf8', timeout: APPLY_TIMEOUT_MS });
  // The secrets command prints Secret names and keys, never values, so its output is shown as is.
  for (const line of `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').filter(Boolean)) console.log(`    ${line}`);
  if (result.status === 0) return undefined;
  return {
    what: 'creating the missing Secrets failed',
    why: result.error ? result.error.message : firstLines(result.stderr ?? '') || `exit code ${result.status}`,
    fix: `fix the cause above, then \`npm run secrets -- ${args.join(' ')}\` or \`npm run deploy\` again`,
  };
}

function runVerify(options: DeployOptions): number {
  const args = [path.join(__dirname, '..', 'verify', 'main.js'), '--live', '--dist', options.dist];
  if (options.context) args.push('--context', options.context);
  return spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? EXIT.verifyCouldNotCheck;
}

// ---------------------------------------------------------------------------------------------

const program = new Command('deploy')
  .description('Take a cluster from nothing to a verified LearnFlow infrastructure: preflight, Secrets, apply dist/ in order, wait, verify.')
  .option('-p, --profile <name>', 'configuration profile the Secrets are created for (minikube or production); must match dist/', 'minikube')
  .option('-c, --config <file>', 'YAML file merged over the profile (as for synth and secrets)')
  .option('-d, --dist <dir>', 'directory of synthesized manifests', 'dist')
  .option('--context <name>', 'kubectl context to deploy to (default: the current one)')
  .addOption(new Option('--timeout <duration>', 'overall bound on the waits for rollouts and Jobs (e.g. 90s, 10m, 1h)').argParser(duration).default(600_000, '10m'))
  .option('--skip-verify', 'do not run `npm run verify -- --live` at the end')
  .option('--dry-run', 'run the preflight checks only; apply nothing')
  .addHelpText('after', HELP_AFTER)
  .showHelpAfterError()
  .exitOverride();

function parseOptions(): DeployOptions | number {
  try {
    program.parse();
  } catch (error) {
    // --help and --version are "errors" to commander too, with exit code 0.
    return error instanceof CommanderError && error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  return program.opts<DeployOptions>();
}

async function main(): Promise<number> {
  const options = parseOptions();
  if (typeof options === 'number') return options;
  const kubectl = new Kubectl(options.context);
  const target = options.context ? `context ${options.context}` : 'the current kubectl context';
  const mode = options.dryRun ? ' (dry run)' : '';
  console.log(`deploy: ${options.dist} to ${target}, profile ${options.profile}, timeout ${formatDuration(options.timeout)}${mode}`);

  step(1, 'preflight');
  const { checks, dist, recreations } = preflight(kubectl, options);
  printChecks(checks);
  const failed = checks.filter((check) => check.failure);
  if (failed.length > 0 || !dist) {
    console.error(`error: preflight failed (${failed.length} problem${failed.length === 1 ? '' : 's'} above); nothing was applied`);
    return EXIT.preflight;
  }
  const files = filesInOrder(dist);
  const foundationCount = files.findIndex((entry) => !entry.objects.every((item) => FOUNDATION_KINDS.has(item.object.kind)));
  const foundation = files.slice(0, foundationCount < 0 ? files.length : foundationCount);
  const rest = files.slice(foundation.length);
  if (options.dryRun) {
    console.log(`dry run: preflight passed; nothing applied. Would apply: ${files.map((entry) => entry.file).join(', ')}`);
    return EXIT.ok;
  }

  step(2, 'namespaces, network policies and Secrets');
  for (const { file } of foundation) {
    const failure = applyFile(kubectl, dist, file);
    if (failure) return fail(failure, EXIT.apply);
  }
  console.log('  secrets (missing ones are created with random values; existing ones are left unchanged):');
  const secretsFailure = runSecrets(options);
  if (secretsFailure) return fail(secretsFailure, EXIT.apply);

  step(3, `apply the rest of ${options.dist} in order, waiting for each file's workloads`);
  const deadline = new Deadline(options.timeout);
  for (const { file, objects } of rest) {
    for (const plan of recreations.filter((candidate) => objects.some((item) => item.object === candidate.desired))) {
      const recreateFailure = recreateStatefulSet(kubectl, plan);
      if (recreateFailure) return fail(recreateFailure, EXIT.apply);
    }
    const applyFailure = applyFile(kubectl, dist, file);
    if (applyFailure) return fail(applyFailure, EXIT.apply);
    const waitFailure = await waitForFile(kubectl, objects, deadline);
    if (waitFailure) return fail(waitFailure, EXIT.wait);
  }
  if (dist.objects.some(({ object }) => object.kind === 'Certificate')) {
    // Step 2 ran before cert-manager issued PostgreSQL's certificate: now its CA can be copied for the services.
    console.log("  secrets, again (the CA of PostgreSQL's issued certificate for the apps namespace):");
    const caFailure = runSecrets(options);
    if (caFailure) return fail(caFailure, EXIT.apply);
  }

  if (options.skipVerify) {
    step(4, 'verify: skipped (--skip-verify); run `npm run verify -- --live` to check');
    return EXIT.ok;
  }
  step(4, 'verify (npm run verify -- --live)');
  return runVerify(options);
}

function fail(failure: Failure, code: number): number {
  printFailure(failure, '  ');
  console.error(`error: ${failure.what} (exit ${code})`);
  return code;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`error: deploy failed unexpectedly: ${(error as Error).stack ?? error}`);
    process.exitCode = EXIT.apply;
  },
);
