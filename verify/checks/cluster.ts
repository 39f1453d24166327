import { scheduleWindow } from '../../lib/config/cron';
import type { ClusterKind } from '../cluster/cluster-reader';
import type { LiveContext } from '../context';
import { type Check, type CheckResult, type DistObject, fail, formatRef, type K8sObject, pass, refOf, skip, warn } from '../model';
import { objectsOfKind, replicasOf } from '../workloads';

/** The Dapr control plane that `dapr init -k` / the Helm chart installs (PRODUCT.md: a prerequisite). */
export const DAPR_CONTROL_PLANE = {
  namespace: 'dapr-system',
  deployments: ['dapr-operator', 'dapr-sidecar-injector', 'dapr-sentry'],
  statefulSets: ['dapr-placement-server', 'dapr-scheduler-server'],
};

export const DAPR_CRDS = ['components.dapr.io', 'configurations.dapr.io', 'subscriptions.dapr.io', 'resiliencies.dapr.io'];

const INSTALL_DAPR =
  '`dapr init -k --wait --set dapr_sidecar_injector.sidecarDropALLCapabilities=true` (restricted Pod Security for the sidecars; README), ' +
  'or the same --set with `helm upgrade --install dapr dapr/dapr --namespace dapr-system --create-namespace --wait`';

/** For every dist/ object of a kind, its live counterpart (same namespace and name), or undefined. */
async function withLive(context: LiveContext, kind: ClusterKind, judge: (item: DistObject, live: K8sObject | undefined) => CheckResult): Promise<CheckResult[]> {
  const declared = objectsOfKind(context.dist, kind);
  if (declared.length === 0) return [skip(`no ${kind} in dist/`)];
  const live = await context.cluster.list(kind);
  return declared.map((item) =>
    judge(
      item,
      live.find((object) => object.metadata.name === item.object.metadata.name && object.metadata.namespace === item.object.metadata.namespace),
    ),
  );
}

const missing = (item: DistObject) => fail([refOf(item)], `${formatRef(refOf(item))} is not in the cluster`, 'kubectl apply -f dist/ (or npm run deploy)');

function conditionTrue(object: K8sObject, type: string): boolean {
  return ((object.status?.conditions ?? []) as { type?: string; status?: string }[]).some((c) => c.type === type && c.status === 'True');
}

export const liveNamespaces: Check<LiveContext> = {
  id: 'live-namespaces',
  description: 'every Namespace of dist/ exists and is Active',
  component: 'cluster',
  remediation: 'kubectl apply -f dist/00-namespaces.yaml',
  run: (context) =>
    withLive(context, 'Namespace', (item, live) => {
      if (!live) return missing(item);
      const phase = live.status?.phase ?? 'Active';
      return phase === 'Active' ? pass([refOf(item)], `${formatRef(refOf(item))} is Active`) : fail([refOf(item)], `${formatRef(refOf(item))} is ${phase}`);
    }),
};

export const liveStatefulSetsReady: Check<LiveContext> = {
  id: 'live-statefulsets-ready',
  description: 'every StatefulSet of dist/ has all its replicas ready and on the current revision',
  component: 'cluster',
  remediation: 'kubectl -n <ns> describe statefulset <name>; kubectl -n <ns> logs <pod> (look for pods not Ready)',
  run: (context) =>
    withLive(context, 'StatefulSet', (item, live) => {
      if (!live) return missing(item);
      const ref = refOf(item);
      const wanted = live.spec?.replicas ?? replicasOf(item);
      const ready = live.status?.readyReplicas ?? 0;
      if (ready < wanted) return fail([ref], `${formatRef(ref)}: ${ready}/${wanted} replicas ready`);
      if (live.status?.updateRevision && live.status.currentRevision !== live.status.updateRevision) {
        return warn([ref], `${formatRef(ref)}: ${ready}/${wanted} ready, a rolling update is in progress`);
      }
      return pass([ref], `${formatRef(ref)}: ${ready}/${wanted} replicas ready`);
    }),
};

export const livePvcsBound: Check<LiveContext> = {
  id: 'live-pvcs-bound',
  description: 'every PVC of dist/ StatefulSets (and every PVC in dist/) exists and is Bound',
  component: 'cluster',
  remediation: 'kubectl -n <ns> describe pvc <name> (is there a default StorageClass? kubectl get storageclass)',
  run: async (context) => {
    const expected: { namespace: string; name: string; owner: DistObject }[] = [];
    for (const item of objectsOfKind(context.dist, 'StatefulSet')) {
      for (const claim of (item.object.spec?.volumeClaimTemplates ?? []) as { metadata?: { name?: string } }[]) {
        for (let ordinal = 0; ordinal < replicasOf(item); ordinal++) {
          expected.push({ namespace: item.object.metadata.namespace ?? 'default', name: `${claim.metadata?.name}-${item.object.metadata.name}-${ordinal}`, owner: item });
        }
      }
    }
    for (const item of objectsOfKind(context.dist, 'PersistentVolumeClaim')) {
      expected.push({ namespace: item.object.metadata.namespace ?? 'default', name: item.object.metadata.name, owner: item });
    }
    if (expected.length === 0) return [skip('no PVCs expected from dist/')];
    const live = await context.cluster.list('PersistentVolumeClaim');
    return expected.map(({ namespace, name, owner }) => {
      const claim = live.find((object) => object.metadata.namespace === namespace && object.metadata.name === name);
      const ref = { kind: 'PersistentVolumeClaim', namespace, name };
      const refs = [ref, refOf(owner)];
      if (!claim) return fail(refs, `${formatRef(ref)} (of ${formatRef(refOf(owner))}) does not exist`);
      const phase = claim.status?.phase ?? 'Unknown';
      return phase === 'Bound' ? pass(refs, `${formatRef(ref)} is Bound`) : fail(refs, `${formatRef(ref)} is ${phase}`);
    });
  },
};

export const liveServiceEndpoints: Check<LiveContext> = {
  id: 'live-service-endpoints',
  description: 'every Service of dist/ with a selector has endpoints',
  component: 'cluster',
  remediation: 'kubectl -n <ns> get pods -l <selector>: the pods behind the Service are missing or not ready',
  run: async (context) => {
    const services = objectsOfKind(context.dist, 'Service').filter((item) => Object.keys(item.object.spec?.selector ?? {}).length > 0);
    if (services.length === 0) return [skip('no Services with selectors in dist/')];
    const [liveServices, endpoints] = await Promise.all([context.cluster.list('Service'), context.cluster.list('Endpoints')]);
    return services.map((item) => {
      const ref = refOf(item);
      const same = (object: K8sObject) => object.metadata.name === item.object.metadata.name && object.metadata.namespace === item.object.metadata.namespace;
      if (!liveServices.some(same)) return missing(item);
      const subsets = (endpoints.find(same)?.subsets ?? []) as { addresses?: unknown[] }[];
      const addresses = subsets.reduce((sum, subset) => sum + (subset.addresses?.length ?? 0), 0);
      return addresses > 0 ? pass([ref], `${formatRef(ref)}: ${addresses} ready endpoint(s)`) : fail([ref], `${formatRef(ref)} has no ready endpoints`);
    });
  },
};

export const liveJobsComplete: Check<LiveContext> = {
  id: 'live-jobs-complete',
  description: 'every Job of dist/ has completed',
  component: 'cluster',
  remediation: 'kubectl -n <ns> logs job/<name> to see why it failed; fix, re-synth (new hash, new Job) and apply',
  run: (context) =>
    withLive(context, 'Job', (item, live) => {
      const ref = refOf(item);
      if (!live) {
        // A finished Job is garbage-collected after ttlSecondsAfterFinished: absence alone is not failure.
        return item.object.spec?.ttlSecondsAfterFinished !== undefined
          ? warn([ref], `${formatRef(ref)} is not in the cluster (not applied yet, or removed ${item.object.spec.ttlSecondsAfterFinished} s after finishing)`)
          : missing(item);
      }
      if (conditionTrue(live, 'Complete')) return pass([ref], `${formatRef(ref)} completed`);
      if (conditionTrue(live, 'Failed')) return fail([ref], `${formatRef(ref)} failed (${live.status?.failed ?? '?'} failed pod(s))`);
      return warn([ref], `${formatRef(ref)} has not finished (${live.status?.active ?? 0} active pod(s))`);
    }),
};

/** Each named CRD is installed and established. */
async function crdsInstalled(context: LiveContext, names: readonly string[]): Promise<CheckResult[]> {
  const crds = await context.cluster.list('CustomResourceDefinition');
  return names.map((name) => {
    const ref = { kind: 'CustomResourceDefinition', name };
    const crd = crds.find((object) => object.metadata.name === name);
    if (!crd) return fail([ref], `CRD ${name} is not installed`);
    return crd.status && !conditionTrue(crd, 'Established') ? fail([ref], `CRD ${name} is not established`) : pass([ref], `CRD ${name} is installed`);
  });
}

const hours = (ms: number) => `${(ms / 3_600_000).toFixed(1)} h`;

export const liveCronJobsRecent: Check<LiveContext> = {
  id: 'live-cronjobs-recent',
  description: "every CronJob of dist/ (the base backups, the dump) last succeeded within its schedule's interval plus its run time",
  component: 'cluster',
  remediation: 'kubectl -n <ns> get jobs -l app.kubernetes.io/component=<component>; kubectl -n <ns> logs job/<last job>; run one now: kubectl -n <ns> create job --from=cronjob/<name> <name>-manual',
  run: (context) =>
    withLive(context, 'CronJob', (item, live) => {
      if (!live) return missing(item);
      const ref = refOf(item);
      const schedule = String(live.spec?.schedule ?? item.object.spec?.schedule);
      if (live.spec?.suspend) return warn([ref], `${formatRef(ref)} is suspended: no backup is taken`);
      const now = new Date();
      let window: { previous: Date; intervalMs: number };
      try {
        window = scheduleWindow(schedule, now);
      } catch (error) {
        return fail([ref], `${formatRef(ref)}: schedule '${schedule}' cannot be evaluated (${(error as Error).message})`);
      }
      // A run may take up to its deadline after it was due; older than interval + deadline means runs were missed or failed.
      const deadlineMs = 1000 * Number(live.spec?.jobTemplate?.spec?.activeDeadlineSeconds ?? 0);
      const allowedMs = window.intervalMs + deadlineMs;
      const lastSuccess = live.status?.lastSuccessfulTime ? new Date(live.status.lastSuccessfulTime) : undefined;
      const createdAt = (live.metadata as { creationTimestamp?: string }).creationTimestamp;
      const created = createdAt ? new Date(createdAt) : undefined;
      if (!lastSuccess) {
        if (created && now.getTime() - created.getTime() <= allowedMs) {
          return warn([ref], `${formatRef(ref)} has not succeeded yet (created ${hours(now.getTime() - created.getTime())} ago; schedule '${schedule}')`);
        }
        return fail([ref], `${formatRef(ref)} has never succeeded (schedule '${schedule}', one run every ${hours(window.intervalMs)} at most)`);
      }
      const ageMs = now.getTime() - lastSuccess.getTime();
      if (ageMs > allowedMs) {
        return fail(
          [ref],
          `${formatRef(ref)}: the newest successful run is ${hours(ageMs)} old; schedule '${schedule}' expects one every ${hours(window.intervalMs)} (allowing ${hours(deadlineMs)} to run)`,
        );
      }
      return pass([ref], `${formatRef(ref)}: newest successful run ${hours(ageMs)} ago (schedule '${schedule}')`);
    }),
};

export const liveDaprCrds: Check<LiveContext> = {
  id: 'live-dapr-crds',
  description: `the Dapr CRDs (${DAPR_CRDS.join(', ')}) are installed and established`,
  component: 'cluster',
  remediation: INSTALL_DAPR,
  run: (context) => crdsInstalled(context, DAPR_CRDS),
};

/** The kinds `40-observability.yaml` holds (only with `observability.enabled`). */
export const PROMETHEUS_OPERATOR_CRDS = ['podmonitors.monitoring.coreos.com', 'prometheusrules.monitoring.coreos.com'];

export const livePrometheusOperatorCrds: Check<LiveContext> = {
  id: 'live-prometheus-operator-crds',
  description: `when dist/ holds PodMonitors or PrometheusRules: prometheus-operator's CRDs (${PROMETHEUS_OPERATOR_CRDS.join(', ')}) are installed and established`,
  component: 'cluster',
  remediation:
    'install prometheus-operator, e.g. `helm install kube-prometheus-stack prometheus-community/kube-prometheus-stack -n monitoring --create-namespace`, ' +
    'or synth with `observability: { enabled: false }`',
  run: (context) =>
    context.dist.objects.some((item) => item.object.apiVersion.startsWith('monitoring.coreos.com/'))
      ? crdsInstalled(context, PROMETHEUS_OPERATOR_CRDS)
      : [pass([], 'not required: dist/ holds no prometheus-operator objects (observability is off)')],
};

/** cert-manager's kinds: the Certificates of PostgreSQL's TLS (postgres.tls.source: cert-manager) and their issuers. */
export const CERT_MANAGER_CRDS = ['certificates.cert-manager.io', 'issuers.cert-manager.io', 'clusterissuers.cert-manager.io'];

const INSTALL_CERT_MANAGER =
  '`helm upgrade --install cert-manager oci://quay.io/jetstack/charts/cert-manager --namespace cert-manager --create-namespace --set crds.enabled=true --wait` (README, Security), ' +
  'or postgres.tls.source: secret with a Secret you create';

const certificatesOf = (context: LiveContext) =>
  context.dist.objects.map((item) => item.object).filter((object) => object.kind === 'Certificate' && object.apiVersion.startsWith('cert-manager.io/'));

const describeCertificates = (certificates: readonly K8sObject[]) => certificates.map((c) => `${c.metadata.namespace}/${c.metadata.name}`).join(', ');

export const liveCertManagerCrds: Check<LiveContext> = {
  id: 'live-cert-manager-crds',
  description: `when dist/ holds cert-manager Certificates (PostgreSQL's TLS): cert-manager's CRDs (${CERT_MANAGER_CRDS.join(', ')}) are installed and established`,
  component: 'cluster',
  remediation: INSTALL_CERT_MANAGER,
  run: async (context) => {
    const certificates = certificatesOf(context);
    if (certificates.length === 0) return [skip('dist/ holds no cert-manager Certificates (PostgreSQL TLS off, or a certificate Secret of your own)')];
    const results = await crdsInstalled(context, CERT_MANAGER_CRDS);
    // The why: without the CRDs, the Certificates are refused and PostgreSQL's certificate Secret never written.
    return results.map((result) =>
      result.status === 'fail' ? { ...result, message: `${result.message}: dist/ holds cert-manager Certificates (${describeCertificates(certificates)})` } : result,
    );
  },
};

export const liveCertificateIssuers: Check<LiveContext> = {
  id: 'live-certificate-issuers',
  description: 'every issuer a Certificate of dist/ names (postgres.tls.issuer) is in dist/ or in the cluster',
  component: 'cluster',
  remediation: 'create the issuer, or remove postgres.tls.issuer to have a self-signed CA created in dist/, then `npm run synth`',
  run: async (context) => {
    const certificates = certificatesOf(context);
    if (certificates.length === 0) return [skip('dist/ holds no cert-manager Certificates')];
    const objects = context.dist.objects.map((item) => item.object);
    const live = new Map<string, K8sObject[]>();
    const results: CheckResult[] = [];
    for (const certificate of certificates) {
      const issuer = certificate.spec?.issuerRef ?? {};
      const kind: 'Issuer' | 'ClusterIssuer' = issuer.kind === 'ClusterIssuer' ? 'ClusterIssuer' : 'Issuer';
      const namespace = kind === 'ClusterIssuer' ? undefined : certificate.metadata.namespace;
      const ref = { kind, namespace, name: issuer.name };
      const same = (object: K8sObject) => object.kind === kind && object.metadata.name === issuer.name && (kind === 'ClusterIssuer' || object.metadata.namespace === namespace);
      const signs = `Certificate ${certificate.metadata.namespace}/${certificate.metadata.name}`;
      if (objects.some(same)) {
        results.push(pass([ref], `${formatRef(ref)} (signs ${signs}) is in dist/`));
        continue;
      }
      if (!live.has(kind)) live.set(kind, await context.cluster.list(kind));
      results.push(
        live.get(kind)!.some((object) => same({ ...object, kind }))
          ? pass([ref], `${formatRef(ref)} (signs ${signs}) exists`)
          : fail([ref], `${formatRef(ref)} does not exist: ${signs} is to be signed by it; it would never be issued and PostgreSQL never start`),
      );
    }
    return results;
  },
};

export const liveDaprControlPlane: Check<LiveContext> = {
  id: 'live-dapr-control-plane',
  description: `the Dapr control plane in ${DAPR_CONTROL_PLANE.namespace} is available (operator, sidecar injector, sentry, placement, scheduler)`,
  component: 'cluster',
  remediation: INSTALL_DAPR,
  run: async (context) => {
    const { namespace } = DAPR_CONTROL_PLANE;
    const [deployments, statefulSets] = await Promise.all([context.cluster.list('Deployment', namespace), context.cluster.list('StatefulSet', namespace)]);
    const judge = (kind: string, name: string, live: K8sObject[]) => {
      const ref = { kind, namespace, name };
      const object = live.find((o) => o.metadata.name === name);
      if (!object) return fail([ref], `${formatRef(ref)} is not installed`);
      const wanted = object.spec?.replicas ?? 1;
      const ready = object.status?.readyReplicas ?? 0;
      if (ready >= wanted && wanted > 0) return pass([ref], `${formatRef(ref)}: ${ready}/${wanted} ready`);
      const workload = `${kind.toLowerCase()}/${name}`;
      return fail([ref], `${formatRef(ref)}: ${ready}/${wanted} ready`, `kubectl -n ${namespace} get pods to see why, or wait: kubectl rollout status ${workload} -n ${namespace} --timeout=5m`);
    };
    return [
      ...DAPR_CONTROL_PLANE.deployments.map((name) => judge('Deployment', name, deployments)),
      ...DAPR_CONTROL_PLANE.statefulSets.map((name) => judge('StatefulSet', name, statefulSets)),
    ];
  },
};

/** Key-sorted JSON, so that two objects equal up to key order compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export const liveDaprComponents: Check<LiveContext> = {
  id: 'live-dapr-components',
  description: 'every Dapr Component of dist/ is in the cluster, equal to dist/ (no drift)',
  component: 'cluster',
  remediation: 'kubectl apply -f dist/ to restore the Component; edit the config, not the live object',
  run: (context) =>
    withLive(context, 'Component', (item, live) => {
      if (!live) return missing(item);
      const ref = refOf(item);
      // Field names only: a drifted value may be a secret someone inlined.
      const drifted = ['spec', 'scopes', 'auth'].filter((field) => canonical(item.object[field]) !== canonical(live[field]));
      return drifted.length === 0 ? pass([ref], `${formatRef(ref)} matches dist/`) : fail([ref], `${formatRef(ref)} drifted from dist/ in ${drifted.join(', ')}`);
    }),
};
