import { ENDPOINTS_DOCUMENT } from '../../lib/platform/endpoints';
import { PROFILE_LABEL } from '../../lib/platform/labels';
import { referenceDir } from '../../lib/platform/project-files';
import { liveCertificateIssuers, liveCertManagerCrds, liveDaprControlPlane, liveDaprCrds, livePrometheusOperatorCrds } from '../../verify/checks/cluster';
import { kafkaLiveRemovedBrokersEmpty } from '../../verify/checks/kafka-live';
import { ClusterUnavailableError } from '../../verify/cluster/cluster-reader';
import { selectKubeContext } from '../../verify/cluster/kube-cluster-reader';
import { type LiveContext, ReferenceData } from '../../verify/context';
import type { DataPlane } from '../../verify/data-plane/data-plane';
import { portForwardedDataPlane } from '../../verify/data-plane/port-forward';
import { type Dist, DistError, loadDist } from '../../verify/dist';
import { type Check, type CheckResult, fail, type K8sObject, pass, warn } from '../../verify/model';
import { profileOf } from '../../verify/profile';
import { kafkaBrokerStatefulSets } from '../../verify/workloads';
import { formatCheck } from '../../verify/report';
import { blocked, type CheckReport, runCheck } from '../../verify/runner';
import { GET_TIMEOUT_MS, KUBECTL_MISSING, type Kubectl, REQUEST_TIMEOUT } from '../kubectl';
import { describeObject, formatChange, objectKey, planStatefulSets, readLive, type StatefulSetPlan } from '../live-changes';
import { capacityCheck } from './capacity';
import { certificateSecretsCheck } from './certificates';
import { KubectlClusterReader } from './kubectl-cluster-reader';
import { storageClassCheck } from './storage';

// Deploy's step 1: checks in the verifier's model (id, description, remediation; the verifier's report
// lines), run against the cluster through kubectl, before anything is applied. Where the verifier has the
// check already (the Dapr prerequisites), the preflight runs the verifier's own.

export interface KubeList<T> {
  readonly items?: T[];
}

export interface PreflightOptions {
  readonly dist: string;
  readonly profile: string;
  /** The override file of the deploy: the Secrets step 2 creates follow it. */
  readonly config?: string;
  readonly context?: string;
}

interface ServerVersion {
  readonly major?: string;
  readonly minor?: string;
  readonly gitVersion?: string;
}

/** What the preflight checks read. Each cluster read happens once, however many checks use it. */
export class PreflightContext {
  readonly dist?: Dist;
  /** Why dist/ cannot be read, when it cannot. */
  readonly distError?: string;
  private version?: { server?: ServerVersion; reason: string };
  private plans?: { plans?: StatefulSetPlan[]; reason: string; what: string; canI: readonly string[] };
  private liveSets?: { live?: Map<string, K8sObject>; reason: string };
  private live?: LiveContext;

  constructor(
    readonly kubectl: Kubectl,
    readonly options: PreflightOptions,
  ) {
    try {
      this.dist = loadDist(options.dist);
    } catch (error) {
      if (!(error instanceof DistError)) throw error;
      this.distError = error.message;
    }
  }

  /** The kubectl context, as the report names it. */
  get target(): string {
    return this.options.context ? `context ${this.options.context}` : 'current context';
  }

  /** dist/, for the checks that need it: the runner runs them only after preflight-dist passed. */
  get readDist(): Dist {
    if (!this.dist) throw new Error('dist/ was not read: the check should have been blocked by preflight-dist');
    return this.dist;
  }

  /** What the verifier's live checks read: dist/ and the cluster, through the same kubectl. */
  liveContext(): LiveContext {
    this.live ??= { dist: this.readDist, reference: new ReferenceData(referenceDir()), cluster: new KubectlClusterReader(this.kubectl, this.target) };
    return this.live;
  }

  serverVersion(): { server?: ServerVersion; reason: string } {
    if (!this.version) {
      const result = this.kubectl.run(['version', '-o', 'json', REQUEST_TIMEOUT], GET_TIMEOUT_MS);
      this.version = { server: result.ok ? parseServerVersion(result.stdout) : undefined, reason: result.reason || 'kubectl printed no server version' };
    }
    return this.version;
  }

  /** The live counterparts of dist/'s StatefulSets (by objectKey), read once. */
  liveStatefulSets(): { live?: Map<string, K8sObject>; reason: string } {
    this.liveSets ??= readLive(this.kubectl, this.readDist.objects.map((item) => item.object).filter((object) => object.kind === 'StatefulSet'));
    return this.liveSets;
  }

  /** The live StatefulSets of dist/ that change in a way the API refuses in place, each with its plan. */
  statefulSetPlans(): { plans?: StatefulSetPlan[]; reason: string; what: string; canI: readonly string[] } {
    if (!this.plans) {
      const statefulSets = this.readDist.objects.map((item) => item.object).filter((object) => object.kind === 'StatefulSet');
      const { live, reason } = this.liveStatefulSets();
      if (!live) this.plans = { reason, what: 'read the live StatefulSets', canI: ['get', 'statefulsets'] };
      else {
        const planned = planStatefulSets(this.kubectl, statefulSets, live);
        this.plans = planned.reason
          ? { reason: planned.reason, what: 'read the claims', canI: ['list', 'persistentvolumeclaims'] }
          : { plans: planned.plans, reason: '', what: '', canI: [] };
      }
    }
    return this.plans;
  }

  /** A read the preflight needs failed although the API server answered: usually RBAC. */
  cannotRead(what: string, reason: string, canI: readonly string[]): CheckResult {
    return { status: 'error', objects: [], message: `could not check: cannot ${what}: ${reason || 'kubectl printed nothing'} (check access: \`${this.kubectl.display(['auth', 'can-i', ...canI])}\`)` };
  }
}

function parseServerVersion(output: string): ServerVersion | undefined {
  try {
    return (JSON.parse(output) as { serverVersion?: ServerVersion }).serverVersion;
  } catch {
    return undefined;
  }
}

/** What a check needs: an earlier check provides it, and when that one does not pass this one is not run. */
type Need = 'dist' | 'cluster';

export interface PreflightCheck extends Check<PreflightContext> {
  readonly needs: readonly Need[];
  readonly provides?: Need;
}

const NEED_MISSING: Readonly<Record<Need, string>> = { dist: 'dist/ cannot be used', cluster: 'the cluster is unreachable' };

const distCheck: PreflightCheck = {
  id: 'preflight-dist',
  description: 'dist/ holds Kubernetes manifests, synthesized with the --profile the Secrets are created for',
  component: 'platform',
  remediation: '`npm run synth` (and `npm run verify -- --offline`)',
  needs: [],
  provides: 'dist',
  run: ({ dist, distError, options }) => {
    if (!dist) return [fail([], `${options.dist} cannot be read: ${distError}`, '`npm run synth`')];
    if (dist.malformed.length > 0) {
      const first = dist.malformed[0];
      return [fail([], `${dist.dir} holds documents that are not Kubernetes objects: ${first.file}: ${first.reason}`)];
    }
    if (dist.objects.length === 0) return [fail([], `${dist.dir} holds no manifests: there is nothing to apply`, '`npm run synth`')];
    // The Secrets created in step 2 follow --profile; a dist/ of another profile would run Jobs that
    // read Secrets nobody created (the seed users exist only in development profiles).
    const synthesizedWith = profileOf(dist).name;
    if (synthesizedWith && synthesizedWith !== options.profile) {
      return [
        fail(
          [],
          `${dist.dir} was synthesized with profile ${synthesizedWith}, the deploy runs with --profile ${options.profile}: ` +
            'the Secrets are created for --profile, the Jobs of dist/ read the Secrets of their own profile',
          `\`npm run synth -- --profile ${options.profile}\`, or \`npm run deploy -- --profile ${synthesizedWith}\``,
        ),
      ];
    }
    const files = new Set(dist.objects.map((item) => item.file)).size;
    const counted = pass([], `${dist.objects.length} objects in ${files} files${synthesizedWith ? ` (profile ${synthesizedWith})` : ''}`);
    if (synthesizedWith) return [counted];
    return [counted, warn([], `${dist.dir} states no profile (no ${PROFILE_LABEL} label on its Namespaces, no '# profile:' line in ${ENDPOINTS_DOCUMENT}): cannot check it was synthesized for --profile ${options.profile}`, '`npm run synth`')];
  },
};

const clusterReachableCheck: PreflightCheck = {
  id: 'preflight-cluster-reachable',
  description: 'the Kubernetes API server of the kubectl context answers (`kubectl version`)',
  component: 'cluster',
  remediation:
    'start the cluster (`minikube start --cpus 4 --memory 8g --cni calico`) or pick another: `kubectl config get-contexts`, then --context <name>',
  needs: [],
  provides: 'cluster',
  run: (context) => {
    const { server, reason } = context.serverVersion();
    if (server) return [pass([], `${context.target} answers`)];
    const message = `no Kubernetes API server answered (${context.target}): ${reason}`;
    return [fail([], message, reason === KUBECTL_MISSING ? 'install kubectl (https://kubernetes.io/docs/tasks/tools/) and put it on PATH' : undefined)];
  },
};

const MINIMUM_SERVER = { major: 1, minor: 28 };

const serverVersionCheck: PreflightCheck = {
  id: 'preflight-server-version',
  description: 'the API server runs Kubernetes >= 1.28 (the pod-index label and the restricted Pod Security profile of 1.28)',
  component: 'cluster',
  remediation: 'upgrade the cluster, e.g. `minikube start --kubernetes-version=stable` (minikube upgrades in place)',
  needs: ['cluster'],
  run: (context) => {
    const version = context.serverVersion().server ?? {};
    // Managed clusters report minor versions like "28+"; parseInt reads the number in front.
    const major = parseInt(version.major ?? '', 10);
    const minor = parseInt(version.minor ?? '', 10);
    const shown = version.gitVersion ?? `${version.major}.${version.minor}`;
    const recent = major > MINIMUM_SERVER.major || (major === MINIMUM_SERVER.major && minor >= MINIMUM_SERVER.minor);
    return recent ? [pass([], `${shown} (>= 1.28)`)] : [fail([], `the API server runs Kubernetes ${shown}, older than 1.28`)];
  },
};

const statefulSetChangesCheck: PreflightCheck = {
  id: 'preflight-statefulset-changes',
  description: 'no change of a live StatefulSet that the API refuses in place and deploy cannot carry out safely',
  component: 'cluster',
  remediation: '`npm run diff` lists the change with its remedy',
  needs: ['dist', 'cluster'],
  run: (context) => {
    const { plans, reason, what, canI } = context.statefulSetPlans();
    if (!plans) return [context.cannotRead(what, reason, canI)];
    const refused = plans.flatMap((plan) => plan.changes.filter((change) => !change.carriedOut).map((change) => ({ plan, change })));
    if (refused.length > 0) {
      return refused.map(({ plan, change }) =>
        fail([], `${describeObject(plan.desired)}: ${formatChange(change)} (refused in place, and no safe way to carry it out): ${change.why}`, change.remedy),
      );
    }
    if (plans.length === 0) return [pass([], 'none that the API refuses in place')];
    return plans.map((plan) =>
      pass([], `${describeObject(plan.desired)}: claim templates grow; the claims are expanded and the StatefulSet re-created with --cascade=orphan in step 3`),
    );
  },
};

/**
 * A scale-in (dist/'s broker StatefulSet has fewer replicas than the live one) takes the highest ordinals'
 * pods away: the verifier's kafka-live-removed-brokers-empty, through the port-forwards of dist/, must find
 * no replica on them first. Without a scale-in the brokers are not contacted.
 */
const kafkaScaleInCheck: PreflightCheck = {
  ...kafkaLiveRemovedBrokersEmpty,
  needs: ['dist', 'cluster'],
  run: async (context) => {
    const dist = context.readDist;
    const statefulSets = kafkaBrokerStatefulSets(dist).map((item) => item.object);
    if (statefulSets.length === 0) return [pass([], 'no Kafka brokers in dist/')];
    const { live, reason } = context.liveStatefulSets();
    if (!live) return [context.cannotRead('read the live StatefulSets', reason, ['get', 'statefulsets'])];
    const shrinking = statefulSets
      .map((desired) => ({ desired, running: live.get(objectKey(desired))?.spec?.replicas as number | undefined }))
      .filter(({ desired, running }) => running !== undefined && running > (desired.spec?.replicas ?? 1));
    if (shrinking.length === 0) return [pass([], 'dist/ removes no broker of a running install')];
    const what = shrinking.map(({ desired, running }) => `${describeObject(desired)}: ${running} -> ${desired.spec?.replicas ?? 1} brokers`).join(', ');
    selectKubeContext(context.options.context);
    let plane: DataPlane | undefined;
    try {
      plane = await portForwardedDataPlane(PREFLIGHT_KAFKA_TIMEOUT_MS)({ dist, clusterReached: true });
      if (!plane.kafka) throw new ClusterUnavailableError(`${ENDPOINTS_DOCUMENT} of dist/ names no Kafka port-forward`);
      const results = await kafkaLiveRemovedBrokersEmpty.run({ dist, reference: context.liveContext().reference, kafka: plane.kafka });
      return results.map((result) => ({ ...result, message: `${what}: ${result.message}` }));
    } catch (error) {
      if (!(error instanceof ClusterUnavailableError)) throw error;
      return [{ status: 'error', objects: [], message: `could not check: ${what}, and the brokers could not be asked which replicas they hold: ${error.message}` }];
    } finally {
      await plane?.close();
    }
  },
};

// The port-forwards and one metadata read of the brokers.
const PREFLIGHT_KAFKA_TIMEOUT_MS = 20_000;

/** One of the verifier's live checks, under its own id (`npm run verify -- --check <id>` runs it again later). */
function verifierCheck(check: Check<LiveContext>): PreflightCheck {
  const { id, description, component, remediation } = check;
  return { id, description, component, remediation, needs: ['dist', 'cluster'], run: (context) => check.run(context.liveContext()) };
}

/** In order: what later checks need comes first. */
export const PREFLIGHT_CHECKS: readonly PreflightCheck[] = [
  distCheck,
  clusterReachableCheck,
  serverVersionCheck,
  storageClassCheck,
  verifierCheck(liveDaprCrds),
  verifierCheck(livePrometheusOperatorCrds),
  verifierCheck(liveDaprControlPlane),
  verifierCheck(liveCertManagerCrds),
  verifierCheck(liveCertificateIssuers),
  certificateSecretsCheck,
  capacityCheck,
  statefulSetChangesCheck,
  kafkaScaleInCheck,
];

export interface PreflightOutcome {
  readonly reports: readonly CheckReport[];
  /** Checks that failed or could not check on their own (not those blocked by another). */
  readonly problems: number;
  readonly dist?: Dist;
  /** Live StatefulSets whose claims grow: carried out in step 3, before their files are applied. */
  readonly recreations: readonly StatefulSetPlan[];
}

/** Runs every preflight check (one list, every problem at once) and prints them as the verifier does. */
export async function runPreflight(kubectl: Kubectl, options: PreflightOptions): Promise<PreflightOutcome> {
  const context = new PreflightContext(kubectl, options);
  const unmet = new Map<Need, string>();
  const reports: CheckReport[] = [];
  for (const check of PREFLIGHT_CHECKS) {
    const need = check.needs.find((candidate) => unmet.has(candidate));
    const report = need ? blocked(check, 'live', NEED_MISSING[need], unmet.get(need)!) : await runCheck(check, 'live', context);
    if (check.provides && report.status !== 'pass' && report.status !== 'warn') unmet.set(check.provides, check.id);
    reports.push(report);
  }
  const width = Math.max(...reports.map((report) => report.id.length));
  for (const report of reports) for (const line of formatCheck(report, width, true)) console.log(line);
  const problems = reports.filter((report) => (report.status === 'fail' || report.status === 'error') && !report.blockedBy).length;
  const failed = reports.some((report) => report.status === 'fail' || report.status === 'error');
  const recreations = failed ? [] : (context.statefulSetPlans().plans ?? []);
  return { reports, problems: failed ? Math.max(problems, 1) : 0, dist: context.dist, recreations };
}
