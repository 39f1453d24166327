import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIVE_CHECKS } from '../verify/checks';
import { CERT_MANAGER_CRDS, PROMETHEUS_OPERATOR_CRDS } from '../verify/checks/cluster';
import { CLUSTER_KINDS, ClusterUnavailableError } from '../verify/cluster/cluster-reader';
import { FileClusterReader } from '../verify/cluster/file-cluster-reader';
import { connectToCluster, selectKubeContext } from '../verify/cluster/kube-cluster-reader';
import type { K8sObject } from '../verify/model';
import { checkOf, healthyClusterState, synthesizeDist, verify, writeClusterState } from './fixtures/verify/helpers';
import { kubeconfigFor } from './fixtures/verify/live-cli';
import { tempDir } from './support/synth';

type Edit = (state: K8sObject[]) => K8sObject[];
const find = (state: K8sObject[], kind: string, name: string | RegExp) => {
  const found = state.find((o) => o.kind === kind && (typeof name === 'string' ? o.metadata.name === name : name.test(o.metadata.name)));
  if (!found) throw new Error(`no ${kind} ${name} in the cluster state`);
  return found;
};
const mutate = (kind: string, name: string | RegExp, change: (object: K8sObject) => void): Edit => (state) => {
  change(find(state, kind, name));
  return state;
};
const remove = (kind: string, name: string): Edit => (state) => state.filter((o) => !(o.kind === kind && o.metadata.name === name));

interface LiveCase {
  readonly check: string;
  readonly breaks: string;
  readonly edit: Edit;
  readonly says: string;
}

// The dist/ of these tests holds every kind a live check judges: observability's PodMonitors and PrometheusRule,
// PostgreSQL's TLS with a cert-manager Certificate signed by a ClusterIssuer of the cluster, and backups (the
// base backup and dump CronJobs, the backup volume).
const OVERRIDE = {
  observability: { enabled: true },
  postgres: {
    tls: { enabled: true, source: 'cert-manager', issuer: { kind: 'ClusterIssuer', name: 'corp-ca' } },
    backup: { enabled: true, dump: { enabled: true } },
  },
};
const established = (name: string): K8sObject => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name },
  status: { conditions: [{ type: 'Established', status: 'True' }] },
});
/** What prometheus-operator and cert-manager install, and the ClusterIssuer OVERRIDE names. */
const PREREQUISITES: K8sObject[] = [
  ...[...PROMETHEUS_OPERATOR_CRDS, ...CERT_MANAGER_CRDS].map(established),
  { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: 'corp-ca' }, spec: { ca: { secretName: 'corp-ca' } } },
];

function synthesizeObservedDist(): string {
  const override = path.join(tempDir('verify-live-override'), 'override.yaml');
  fs.writeFileSync(override, JSON.stringify(OVERRIDE));
  return synthesizeDist(['--config', override]);
}

// One broken cluster state per case; each live check has at least one.
const CASES: LiveCase[] = [
  { check: 'live-namespaces', breaks: 'a namespace missing', edit: remove('Namespace', 'kafka'), says: 'Namespace kafka is not in the cluster' },
  { check: 'live-namespaces', breaks: 'a namespace terminating', edit: mutate('Namespace', 'postgres', (o) => void (o.status.phase = 'Terminating')), says: 'Terminating' },
  { check: 'live-statefulsets-ready', breaks: 'no broker ready', edit: mutate('StatefulSet', 'kafka', (o) => void (o.status.readyReplicas = 0)), says: '0/1 replicas ready' },
  { check: 'live-pvcs-bound', breaks: 'a pending PVC', edit: mutate('PersistentVolumeClaim', 'data-kafka-0', (o) => void (o.status.phase = 'Pending')), says: 'data-kafka-0 is Pending' },
  { check: 'live-pvcs-bound', breaks: 'a missing PVC', edit: remove('PersistentVolumeClaim', 'data-kafka-0'), says: 'does not exist' },
  { check: 'live-service-endpoints', breaks: 'a Service without endpoints', edit: mutate('Endpoints', 'kafka-bootstrap', (o) => void (o.subsets = [])), says: 'kafka-bootstrap has no ready endpoints' },
  { check: 'live-jobs-complete', breaks: 'a failed Job', edit: mutate('Job', /^kafka-topics-/, (o) => void (o.status = { failed: 7, conditions: [{ type: 'Failed', status: 'True' }] })), says: 'failed (7 failed pod(s))' },
  {
    check: 'live-cronjobs-recent',
    breaks: 'a base backup that last succeeded three days ago',
    edit: mutate('CronJob', 'postgres-basebackup', (o) => void (o.status.lastSuccessfulTime = new Date(Date.now() - 3 * 86_400_000).toISOString())),
    says: "newest successful run is 72.0 h old; schedule '0 2 * * *' expects one every 24.0 h",
  },
  {
    check: 'live-cronjobs-recent',
    breaks: 'a dump that never succeeded',
    edit: mutate('CronJob', 'postgres-dump', (o) => void delete o.status.lastSuccessfulTime),
    says: 'CronJob postgres/postgres-dump has never succeeded',
  },
  { check: 'live-cronjobs-recent', breaks: 'the base backup CronJob missing', edit: remove('CronJob', 'postgres-basebackup'), says: 'is not in the cluster' },
  { check: 'live-pvcs-bound', breaks: 'a pending backup volume', edit: mutate('PersistentVolumeClaim', 'postgres-backup', (o) => void (o.status.phase = 'Pending')), says: 'postgres-backup is Pending' },
  { check: 'live-dapr-crds', breaks: 'the Component CRD missing', edit: remove('CustomResourceDefinition', 'components.dapr.io'), says: 'CRD components.dapr.io is not installed' },
  { check: 'live-dapr-control-plane', breaks: 'sentry not ready', edit: mutate('Deployment', 'dapr-sentry', (o) => void (o.status.readyReplicas = 0)), says: 'dapr-sentry: 0/1 ready' },
  { check: 'live-dapr-control-plane', breaks: 'the scheduler missing', edit: remove('StatefulSet', 'dapr-scheduler-server'), says: 'dapr-scheduler-server is not installed' },
  { check: 'live-prometheus-operator-crds', breaks: 'the PodMonitor CRD missing', edit: remove('CustomResourceDefinition', 'podmonitors.monitoring.coreos.com'), says: 'CRD podmonitors.monitoring.coreos.com is not installed' },
  {
    check: 'live-cert-manager-crds',
    breaks: 'the Certificate CRD not established',
    edit: mutate('CustomResourceDefinition', 'certificates.cert-manager.io', (o) => void (o.status.conditions[0].status = 'False')),
    says: 'CRD certificates.cert-manager.io is not established: dist/ holds cert-manager Certificates (postgres/postgres)',
  },
  { check: 'live-certificate-issuers', breaks: 'the ClusterIssuer the config names missing', edit: remove('ClusterIssuer', 'corp-ca'), says: 'ClusterIssuer corp-ca does not exist: Certificate postgres/postgres is to be signed by it' },
  {
    check: 'live-dapr-components',
    breaks: 'a Component edited in the cluster',
    edit: (state) => {
      const component = state.find((o) => o.kind === 'Component' && o.spec?.type === 'pubsub.kafka');
      if (!component) throw new Error('no pubsub.kafka Component in the cluster state');
      component.spec.metadata.push({ name: 'saslPassword', value: 'hunter2-do-not-print' });
      return state;
    },
    says: 'drifted from dist/ in spec',
  },
];

describe('verify: live cluster-state checks through the file ClusterReader', () => {
  let dist: string;
  let healthy: K8sObject[];

  beforeAll(() => {
    dist = synthesizeObservedDist();
    healthy = [...healthyClusterState(dist), ...PREREQUISITES];
  });

  const verifyAgainst = (state: K8sObject[], only?: string[]) =>
    verify(dist, { live: 'required', only, cluster: async () => new FileClusterReader(writeClusterState(state)) });

  it('passes every live check on a healthy cluster state', async () => {
    const report = await verifyAgainst(healthy, LIVE_CHECKS.map((c) => c.id));
    expect(report.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.results.map((r) => r.message).join(' | ')}`)).toEqual([]);
    expect(report.cluster.checked).toBe(true);
    expect(report.exitCode).toBe(0);
  });

  it('has at least one broken-state case for every live check', () => {
    // live-prometheus-operator-crds needs a dist/ with observability on: its own test below.
    const covered = new Set([...CASES.map((c) => c.check), 'live-prometheus-operator-crds']);
    expect(LIVE_CHECKS.map((c) => c.id).filter((id) => !covered.has(id))).toEqual([]);
  });

  it('live-prometheus-operator-crds fails when dist/ holds PodMonitors and the CRDs are missing, passes when installed or not needed', async () => {
    const observed = synthesizeDist(['--profile', 'production']);
    const state = healthyClusterState(observed);
    const judge = async (cluster: K8sObject[], distDir = observed) =>
      checkOf(
        await verify(distDir, { live: 'required', only: ['live-prometheus-operator-crds'], cluster: async () => new FileClusterReader(writeClusterState(cluster)) }),
        'live-prometheus-operator-crds',
      );
    const missing = await judge(state);
    expect(missing.status).toBe('fail');
    expect(missing.results.map((r) => r.message)).toEqual(PROMETHEUS_OPERATOR_CRDS.map((name) => `CRD ${name} is not installed`));
    const crd = (name: string): K8sObject => ({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name },
      status: { conditions: [{ type: 'Established', status: 'True' }] },
    });
    expect((await judge([...state, ...PROMETHEUS_OPERATOR_CRDS.map(crd)])).status).toBe('pass');
    // The minikube profile's default: observability off, no prometheus-operator object in dist/.
    const plainDist = synthesizeDist();
    const plain = await judge(healthyClusterState(plainDist), plainDist);
    expect(plain.status).toBe('pass');
    expect(plain.results[0].message).toContain('not required');
  });

  it.each(CASES)('$check fails when the cluster has $breaks', async ({ check, edit, says }) => {
    const report = await verifyAgainst(edit(structuredClone(healthy)), [check]);
    const result = checkOf(report, check);
    expect(result.status).toBe('fail');
    expect(result.results.filter((r) => r.status === 'fail').map((r) => r.message).join('\n')).toContain(says);
    expect(report.exitCode).toBe(1);
    expect(JSON.stringify(report)).not.toContain('hunter2-do-not-print');
  });

  it('reports a Job still running as a warning, and a garbage-collected finished Job as a warning', async () => {
    const running = mutate('Job', /^kafka-topics-/, (o) => void (o.status = { active: 1 }))(structuredClone(healthy));
    expect(checkOf(await verifyAgainst(running, ['live-jobs-complete']), 'live-jobs-complete').status).toBe('warn');
    const collected = healthy.filter((o) => !(o.kind === 'Job' && /^kafka-topics-/.test(o.metadata.name)));
    const report = await verifyAgainst(collected, ['live-jobs-complete']);
    expect(checkOf(report, 'live-jobs-complete').status).toBe('warn');
    expect(report.exitCode).toBe(0);
  });

  it('unreachable cluster: "could not check" (exit 2) with --live, a notice and static results without it', async () => {
    const unreachable = async () => {
      throw new ClusterUnavailableError('connect ECONNREFUSED 127.0.0.1:6443');
    };
    const required = await verify(dist, { live: 'required', cluster: unreachable, only: ['image-pinned', 'live-namespaces'] });
    expect(checkOf(required, 'live-namespaces').status).toBe('error');
    expect(required.exitCode).toBe(2);
    const auto = await verify(dist, { live: 'auto', cluster: unreachable, only: ['image-pinned', 'live-namespaces'] });
    expect(auto.checks.map((c) => c.id)).toEqual(['image-pinned']);
    expect(auto.notices.join('\n')).toContain('ECONNREFUSED');
    expect(auto.exitCode).toBe(0);
  });
});

describe('verify: connecting to a cluster through a kubeconfig', () => {
  const saved = { KUBECONFIG: process.env.KUBECONFIG, HOME: process.env.HOME };
  let silent: net.Server;
  let silentPort: number;

  beforeAll(async () => {
    // Accepts connections and never answers: the API call must still end, at the timeout.
    silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as net.AddressInfo).port;
  });

  afterAll(() => {
    silent.close();
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });


  /**
   * Serves objects the way the API server's list endpoints and discovery do, over plain HTTP on
   * loopback: enough to prove the client adapter asks for the right paths and reads the answers.
   */
  async function serveListApi(objects: K8sObject[], servedGroups: string[]): Promise<{ url: string; close: () => void }> {
    const plural = (kind: string) => (kind === 'Endpoints' ? 'endpoints' : `${kind.toLowerCase()}s`);
    const server = http.createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const segments = url.pathname.split('/').filter(Boolean);
      const [root, ...rest] = segments;
      const apiVersion = root === 'api' ? rest[0] : `${rest[0]}/${rest[1]}`;
      const tail = root === 'api' ? rest.slice(1) : rest.slice(2);
      const kinds = Object.entries(CLUSTER_KINDS).filter(([, version]) => version === apiVersion).map(([kind]) => kind);
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      if (kinds.length === 0 || !servedGroups.includes(apiVersion)) return send(404, { kind: 'Status', code: 404 });
      if (tail.length === 0) {
        const resources = kinds.map((kind) => ({ name: plural(kind), kind, namespaced: !['Namespace', 'CustomResourceDefinition'].includes(kind), verbs: ['list'] }));
        return send(200, { kind: 'APIResourceList', groupVersion: apiVersion, resources });
      }
      const namespace = tail.length === 3 && tail[0] === 'namespaces' ? tail[1] : undefined;
      const kind = kinds.find((k) => plural(k) === tail[tail.length - 1]);
      const items = objects.filter((o) => o.kind === kind && (namespace === undefined || o.metadata.namespace === namespace));
      return send(200, { kind: `${kind}List`, apiVersion, metadata: {}, items });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, close: () => server.close() };
  }

  it('reads a cluster through the kubeconfig: every live check passes on a healthy API, Dapr CRDs absent when not served', async () => {
    const dist = synthesizeObservedDist();
    const state = [...healthyClusterState(dist), ...PREREQUISITES];
    const api = await serveListApi(state, Object.values(CLUSTER_KINDS));
    const withoutDapr = await serveListApi(state, Object.values(CLUSTER_KINDS).filter((version) => !version.startsWith('dapr.io')));
    try {
      process.env.KUBECONFIG = kubeconfigFor(api.url);
      const report = await verify(dist, { live: 'required', only: LIVE_CHECKS.map((c) => c.id), cluster: () => connectToCluster(3000) });
      expect(report.cluster.description).toContain(api.url);
      expect(report.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.results.map((r) => r.message).join(' | ')}`)).toEqual([]);
      process.env.KUBECONFIG = kubeconfigFor(withoutDapr.url);
      const missingDapr = await verify(dist, { live: 'required', only: ['live-dapr-components'], cluster: () => connectToCluster(3000) });
      expect(checkOf(missingDapr, 'live-dapr-components').status).toBe('fail');
      expect(missingDapr.exitCode).toBe(1);
    } finally {
      api.close();
      withoutDapr.close();
    }
  }, 60_000);

  it('--context selects a context other than the current one, and an unknown one is "could not check"', async () => {
    const dist = synthesizeDist();
    const api = await serveListApi(healthyClusterState(dist), Object.values(CLUSTER_KINDS));
    const file = kubeconfigFor('https://127.0.0.1:1');
    fs.writeFileSync(
      file,
      fs
        .readFileSync(file, 'utf8')
        .replace('clusters: [', `clusters: [{name: target, cluster: {server: "${api.url}", insecure-skip-tls-verify: true}}, `)
        .replace('contexts: [', 'contexts: [{name: target, context: {cluster: target, user: test}}, '),
    );
    process.env.KUBECONFIG = file;
    try {
      selectKubeContext('target');
      const report = await verify(dist, { live: 'required', only: ['live-namespaces'], cluster: () => connectToCluster(3000) });
      expect(report.cluster.description).toContain(api.url);
      expect(checkOf(report, 'live-namespaces').status).toBe('pass');
      selectKubeContext('nope');
      await expect(connectToCluster(1000)).rejects.toThrow(/no context 'nope'/);
    } finally {
      selectKubeContext(undefined);
      api.close();
    }
  });

  it('without any kubeconfig, says so without loading the client', async () => {
    delete process.env.KUBECONFIG;
    process.env.HOME = tempDir('verify-home');
    await expect(connectToCluster(1000)).rejects.toThrow(/no kubeconfig/);
  });

  it('connection refused is "could not check", quickly', async () => {
    process.env.KUBECONFIG = kubeconfigFor('https://127.0.0.1:1');
    const started = Date.now();
    await expect(connectToCluster(5000)).rejects.toBeInstanceOf(ClusterUnavailableError);
    expect(Date.now() - started).toBeLessThan(5000);
  }, 30_000);

  it('a server that never answers is bounded by the timeout', async () => {
    process.env.KUBECONFIG = kubeconfigFor(`https://127.0.0.1:${silentPort}`);
    const started = Date.now();
    await expect(connectToCluster(1500)).rejects.toThrow(/no answer within 1.5 s/);
    expect(Date.now() - started).toBeLessThan(4000);
  }, 30_000);
});
