import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane, PREREQUISITE_CRD_DIRS, STORAGE_CLASS } from './harness/control-plane/control-plane';
import { CONTROL_PLANE, locateBuild } from './harness/go-builds';
import { testCertificate, testCertificateAuthority, tlsSecretData } from './harness/kafka/certificates';
import { type ProcessResult, runProcess } from './harness/processes';
import { requireEngine } from './support/engines';
import { ROOT, readDistDir, runSynthCli, tempDir } from './support/synth';

// `npm run deploy` and `npm run verify` (cluster state) against a real control plane whose simulated
// nodes (kwok) run the pods: the StatefulSet and Job controllers, the scheduler and Pod Security are
// real; only the kubelet is simulated (pods turn Running and Ready, Job pods succeed).
const SUITE = 'deploy on the control plane';
const built = locateBuild(CONTROL_PLANE);
const DIST = path.join(ROOT, 'dist');

interface CheckResult {
  readonly id: string;
  readonly status: string;
  readonly results: { readonly status: string; readonly message: string }[];
}

describe.skipIf(!requireEngine(SUITE, built.missing))('npm run deploy and verify --live on a real control plane with simulated nodes', () => {
  let plane: ControlPlane;
  const run = (script: string, args: readonly string[], timeoutMs = 240_000): Promise<ProcessResult> =>
    runProcess(process.execPath, [path.join(ROOT, 'build', script), ...args], plane.env, timeoutMs);
  const deploy = (args: readonly string[] = []) => run('scripts/deploy.js', ['--skip-verify', ...args]);
  /** `npm run verify -- --live` with the cluster-state checks only: no container runs under kwok, so no data plane. */
  const verifyCluster = async () => {
    const result = await run('verify/main.js', ['--live', '--output', 'json', '--check', ...LIVE_CHECKS], 60_000);
    const report = JSON.parse(result.stdout);
    return { exitCode: result.exitCode, checks: report.checks as CheckResult[] };
  };
  const LIVE_CHECKS = [
    'live-namespaces',
    'live-statefulsets-ready',
    'live-pvcs-bound',
    'live-service-endpoints',
    'live-jobs-complete',
    'live-dapr-crds',
    'live-dapr-control-plane',
    'live-dapr-components',
  ];
  const failed = (checks: readonly CheckResult[]) =>
    checks.flatMap((check) => check.results.filter((result) => result.status === 'fail').map((result) => `${check.id}: ${result.message}`));

  beforeAll(async () => {
    // Three nodes: the production profile's brokers require one node each (pod anti-affinity).
    plane = await ControlPlane.start({ crdDirs: PREREQUISITE_CRD_DIRS, nodes: 3 });
    await plane.installDaprStandIn();
  });

  afterAll(async () => {
    await plane?.stop();
  });

  // Each precondition broken on the real cluster, then repaired: the preflight names it with its fix, exit 4,
  // and nothing is applied (no namespace of dist/ appears).
  const PRECONDITIONS: { name: string; breakIt: () => Promise<unknown>; repair: () => Promise<unknown>; message: RegExp; fix: string }[] = [
    {
      name: 'no StorageClass is the default',
      breakIt: () => plane.kubectlOk(['annotate', 'storageclass', STORAGE_CLASS, 'storageclass.kubernetes.io/is-default-class=false', '--overwrite']),
      repair: () => plane.kubectlOk(['annotate', 'storageclass', STORAGE_CLASS, 'storageclass.kubernetes.io/is-default-class=true', '--overwrite']),
      message: /✗ preflight-storage-class [\s\S]*✗ none of the StorageClasses \(standard\) is the default: statefulset\/kafka, statefulset\/postgres claim volumes/,
      fix: `kubectl patch storageclass standard -p '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}}'`,
    },
    {
      name: 'a Dapr CRD is missing',
      breakIt: () => plane.kubectlOk(['delete', 'crd', 'resiliencies.dapr.io', '--wait=true']),
      repair: () => plane.kubectlOk(['apply', '--server-side', '-f', path.join(ROOT, 'reference', 'dapr-crds', 'resiliency.yaml')]),
      message: /✗ live-dapr-crds [\s\S]*✗ CRD resiliencies\.dapr\.io is not installed/,
      fix: 'dapr init -k --wait',
    },
    {
      name: 'a Dapr control-plane workload is missing',
      breakIt: () => plane.kubectlOk(['-n', 'dapr-system', 'delete', 'statefulset', 'dapr-scheduler-server', '--wait=true']),
      repair: () => plane.installDaprStandIn(),
      message: /✗ live-dapr-control-plane [\s\S]*✗ StatefulSet dapr-system\/dapr-scheduler-server is not installed/,
      fix: 'helm upgrade --install dapr dapr/dapr --namespace dapr-system --create-namespace --wait',
    },
    {
      name: 'every node is cordoned',
      breakIt: () => plane.kubectlOk(['cordon', '--selector=type=kwok']),
      repair: () => plane.kubectlOk(['uncordon', '--selector=type=kwok']),
      message: /✗ preflight-capacity [\s\S]*✗ not enough allocatable CPU and memory: [^\n]*0 schedulable nodes offer 0m CPU/,
      fix: 'add nodes',
    },
  ];
  for (const precondition of PRECONDITIONS) {
    it(`preflight fails when ${precondition.name}: message, fix command, exit 4, nothing applied`, async () => {
      await precondition.breakIt();
      try {
        const result = await deploy(['--timeout', '1m']);
        expect(result.exitCode, result.output).toBe(4);
        expect(result.output).toMatch(precondition.message);
        const fixes = result.output.split('\n').filter((line) => /^ {8}fix: /.test(line));
        expect(fixes).toHaveLength(1);
        expect(fixes[0]).toContain(precondition.fix);
        expect(result.output).toContain('preflight failed (1 problem above); nothing was applied');
        const namespaces = (await plane.getJson(['namespaces'])).items.map((ns: { metadata: { name: string } }) => ns.metadata.name);
        expect(namespaces).not.toContain('postgres');
      } finally {
        await precondition.repair();
      }
    }, 120_000);
  }

  // The production profile's certificate sources, each missing on the real cluster: exit 4, nothing applied.
  const CERTIFICATE_SOURCES: { name: string; override: object; breakIt?: () => Promise<unknown>; repair?: () => Promise<unknown>; message: RegExp; fix: string }[] = [
    {
      name: "cert-manager's Certificate CRD is missing",
      override: {},
      breakIt: () => plane.kubectlOk(['delete', 'crd', 'certificates.cert-manager.io', '--wait=true']),
      repair: () => plane.kubectlOk(['apply', '--server-side', '-f', path.join(ROOT, 'reference', 'cert-manager-crds', 'certificates.yaml')]),
      message: /✗ live-cert-manager-crds [\s\S]*✗ CRD certificates\.cert-manager\.io is not installed: dist\/ holds cert-manager Certificates \([^)\n]*kafka\/kafka-node[^)\n]*postgres\/postgres\)/,
      fix: 'helm upgrade --install cert-manager',
    },
    {
      name: 'the ClusterIssuer the config names does not exist',
      override: { postgres: { tls: { issuer: { kind: 'ClusterIssuer', name: 'corp-ca' } } } },
      message: /✗ live-certificate-issuers [\s\S]*✗ ClusterIssuer corp-ca does not exist: Certificate postgres\/postgres is to be signed by it/,
      fix: 'create the issuer',
    },
    {
      name: "the user's certificate Secret does not exist",
      override: { postgres: { tls: { source: 'secret', secretName: 'corp-postgres-tls' } } },
      message:
        /✗ preflight-certificate-secrets [\s\S]*✗ Secret corp-postgres-tls in postgres does not exist: statefulset\/postgres, job\/postgres-migrations-[0-9a-f]+, job\/postgres-seed-[0-9a-f]+, [^\n]*deployment\/postgres-exporter mount it and nothing creates it/,
      fix: 'kubectl -n postgres create secret generic corp-postgres-tls --from-file=tls.crt --from-file=tls.key --from-file=ca.crt',
    },
    {
      name: "the user's Kafka certificate Secret holds a key Kafka cannot read (SEC1, not PKCS#8)",
      override: { kafka: { security: { source: 'secret', secretName: 'corp-kafka-tls', adminSecretName: 'corp-kafka-admin-tls' } } },
      breakIt: async () => {
        const dir = tempDir('corp-kafka-certificates');
        const ca = testCertificateAuthority(dir, 'corp-ca');
        const usages = ['serverAuth', 'clientAuth'] as const;
        const node = testCertificate(dir, ca, { name: 'node', commonName: 'kafka-node', dnsNames: ['kafka-bootstrap.kafka.svc.cluster.local'], usages });
        const admin = testCertificate(dir, ca, { name: 'admin', commonName: 'kafka-admin', usages: ['clientAuth'] });
        const sec1 = (await runProcess('openssl', ['ec', '-in', path.join(dir, 'node.key')], process.env, 10_000)).stdout;
        const secret = (name: string, data: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'kafka' }, stringData: data });
        await plane.kubectlOk(['create', 'namespace', 'kafka']);
        const items = [secret('corp-kafka-tls', { ...tlsSecretData(node, ca), 'tls.key': sec1 }), secret('corp-kafka-admin-tls', tlsSecretData(admin, ca))];
        await plane.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
      },
      repair: () => plane.kubectlOk(['delete', 'namespace', 'kafka', '--wait=true'], { timeoutMs: 120_000 }),
      message: /✗ preflight-certificate-secrets [\s\S]*✗ Secret kafka\/corp-kafka-tls \(mounted by [^)\n]*statefulset\/kafka[^)\n]*\): tls\.key is not an unencrypted PKCS#8 key \(EC PRIVATE KEY\)/,
      fix: 'replace the Secret with a certificate, its key and the CA that signed it',
    },
  ];
  for (const source of CERTIFICATE_SOURCES) {
    it(`preflight fails when ${source.name}: message, fix command, exit 4, nothing applied`, async () => {
      const work = tempDir('dist-certificate-source');
      const config = path.join(work, 'override.yaml');
      fs.writeFileSync(config, yaml.dump(source.override));
      const dist = path.join(work, 'dist');
      const synth = runSynthCli(['--quiet', '--profile', 'production', '--config', config, '--out', dist]);
      expect(synth.status, synth.stderr).toBe(0);
      await source.breakIt?.();
      try {
        const result = await deploy(['--profile', 'production', '--config', config, '--dist', dist, '--timeout', '1m']);
        expect(result.exitCode, result.output).toBe(4);
        expect(result.output).toMatch(source.message);
        const fixes = result.output.split('\n').filter((line) => /^ {8}fix: /.test(line));
        expect(fixes).toHaveLength(1);
        expect(fixes[0]).toContain(source.fix);
        expect(result.output).toContain('preflight failed (1 problem above); nothing was applied');
        const namespaces = (await plane.getJson(['namespaces'])).items.map((ns: { metadata: { name: string } }) => ns.metadata.name);
        expect(namespaces).not.toContain('postgres');
      } finally {
        await source.repair?.();
      }
    }, 120_000);
  }

  it('gives up with the documented message when the pods cannot start (a quota admits no pod)', async () => {
    const quota = { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'no-pods', namespace: 'kafka' }, spec: { hard: { pods: '0' } } };
    const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kafka' } };
    await plane.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [namespace, quota] }) });
    try {
      // The rollout waits out what is left of the budget: kept short, the pods are never admitted.
      const result = await deploy(['--timeout', '10s']);
      expect(result.exitCode, result.output).toBe(6);
      expect(result.output).toContain('✓ preflight-capacity ');
      expect(result.output).toMatch(/statefulset\/kafka in kafka did not roll out within \d+s/);
      expect(result.output).toContain('npm run deploy` again');
    } finally {
      await plane.kubectlOk(['-n', 'kafka', 'delete', 'resourcequota', 'no-pods']);
    }
  }, 120_000);

  it('a file the API server rejects stops the deploy with its error (exit 5)', async () => {
    // A copy of dist/ with a Service port the API refuses; the files before it are applied, none after.
    const broken = tempDir('dist-rejected');
    fs.cpSync(DIST, broken, { recursive: true });
    const file = path.join(broken, '20-postgres.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/port: 5432\n/, 'port: 70000\n'));
    const result = await deploy(['--dist', broken, '--timeout', '2m']);
    expect(result.exitCode, result.output).toBe(5);
    expect(result.output).toContain('✗ applying 20-postgres.yaml failed');
    expect(result.output).toMatch(/why: .*Invalid value: 70000/);
    expect(result.output).toContain('error: applying 20-postgres.yaml failed (exit 5)');
    expect(result.output).not.toContain('applied 21-postgres-migrations.yaml');
  }, 300_000);

  it('deploys dist/ end to end: preflight, Secrets, every StatefulSet rolled out and every Job complete', async () => {
    const result = await deploy(['--timeout', '3m']);
    expect(result.exitCode, result.output).toBe(0);
    const objects = readDistDir(DIST);
    for (const sts of objects.filter((o) => o.kind === 'StatefulSet')) expect(result.output).toContain(`✓ statefulset/${sts.metadata.name} rolled out`);
    for (const job of objects.filter((o) => o.kind === 'Job')) expect(result.output).toContain(`✓ job/${job.metadata.name} completed`);
    const secrets = (await plane.getJson(['secrets', '--all-namespaces', '-l', 'app.kubernetes.io/part-of=learnflow'])).items;
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    // A re-run is idempotent: nothing to roll out, the Secrets are left as they are.
    const again = await deploy(['--timeout', '3m']);
    expect(again.exitCode, again.output).toBe(0);
    expect(again.output).not.toContain('created: secret');
  }, 600_000);

  it('verify: every cluster-state check passes on the deployed install', async () => {
    const { exitCode, checks } = await verifyCluster();
    expect(failed(checks)).toEqual([]);
    expect(checks.filter((check) => check.status === 'pass').map((check) => check.id)).toEqual(expect.arrayContaining(LIVE_CHECKS));
    expect(exitCode).toBe(0);
  });

  it('verify: a deleted and a drifted Component, a failed Job and a missing CRD are findings', async () => {
    await plane.kubectlOk(['-n', 'learnflow', 'delete', 'component', 'pubsub-frontend']);
    await plane.kubectlOk(['-n', 'learnflow', 'patch', 'component', 'statestore', '--type=json', '-p', '[{"op":"replace","path":"/spec/version","value":"v1"}]']);
    // A Job that fails for real: its pod cannot be scheduled (every node cordoned) and its deadline passes.
    const topicsJob = readDistDir(DIST).find((o) => o.kind === 'Job' && o.metadata.namespace === 'kafka')!;
    await plane.kubectlOk(['cordon', '--selector=type=kwok']);
    await plane.kubectlOk(['-n', 'kafka', 'delete', 'job', topicsJob.metadata.name, '--wait=true']);
    await plane.kubectlOk(['apply', '--server-side', '--field-manager=learnflow-deploy', '-f', path.join(DIST, '11-kafka-topics.yaml')]);
    await plane.kubectlOk(['-n', 'kafka', 'patch', 'job', topicsJob.metadata.name, '--type=merge', '-p', '{"spec":{"activeDeadlineSeconds":1}}']);
    await plane.kubectlOk(['-n', 'kafka', 'wait', '--for=condition=Failed', `job/${topicsJob.metadata.name}`, '--timeout=60s'], { timeoutMs: 70_000 });
    await plane.kubectlOk(['delete', 'crd', 'resiliencies.dapr.io', '--wait=true']);

    const { exitCode, checks } = await verifyCluster();
    expect(exitCode).toBe(1);
    expect(failed(checks).sort()).toEqual([
      'live-dapr-components: Component learnflow/pubsub-frontend is not in the cluster',
      'live-dapr-components: Component learnflow/statestore drifted from dist/ in spec',
      'live-dapr-crds: CRD resiliencies.dapr.io is not installed',
      `live-jobs-complete: Job kafka/${topicsJob.metadata.name} failed (1 failed pod(s))`,
    ]);
    // Repaired for the next tests: the CRD back, the drifted field taken back from kubectl-patch (deploy's own
    // fix for a conflict), the failed Job gone (deploy would wait for it), the nodes schedulable.
    await plane.kubectlOk(['apply', '--server-side', '-f', path.join(ROOT, 'reference', 'dapr-crds', 'resiliency.yaml')]);
    await plane.kubectlOk(['apply', '--server-side', '--force-conflicts', '--field-manager=learnflow-deploy', '-f', path.join(DIST, '30-dapr.yaml')]);
    await plane.kubectlOk(['-n', 'kafka', 'delete', 'job', topicsJob.metadata.name]);
    await plane.kubectlOk(['uncordon', '--selector=type=kwok']);
  }, 180_000);

  // The configuration changes the README documents, each carried out on the running install by deploy.
  // Cumulative, as an operator makes them: each keeps the grown storage (shrinking is refused, on purpose).
  const grown = { kafka: { storage: { size: '50Gi' } } };
  const DOCUMENTED_CHANGES: { name: string; profile?: 'production'; override?: object }[] = [
    { name: "the Synth section's override example (storage grows, a topic gets more partitions)", override: { kafka: { ...grown.kafka, topics: [{ name: 'learning.query', partitions: 6, retention: '7d' }] } } },
    { name: 'platform.argoCdHooks: true', override: { ...grown, platform: { argoCdHooks: true } } },
    { name: 'platform.podSecurityVersion: latest', override: { ...grown, platform: { podSecurityVersion: 'latest' } } },
  ];
  for (const change of DOCUMENTED_CHANGES) {
    it(`applies a documented change to the running install: ${change.name}`, async () => {
      const dir = tempDir('documented-change');
      const profile = ['--profile', change.profile ?? 'minikube'];
      const config = change.override ? ['--config', path.join(dir, 'override.yaml')] : [];
      if (change.override) fs.writeFileSync(config[1], yaml.dump(change.override));
      const synth = runSynthCli(['--quiet', ...profile, ...config, '--out', path.join(dir, 'dist')]);
      expect(synth.status, synth.stderr).toBe(0);
      const result = await deploy(['--dist', path.join(dir, 'dist'), ...profile, ...config, '--timeout', '3m']);
      const pods = result.exitCode === 0 ? '' : (await plane.kubectl(['get', 'pods,jobs,pvc,events', '-A', '-o', 'wide'])).stdout;
      expect(result.exitCode, `${result.output}\n${pods}`).toBe(0);
      expect(result.output).not.toMatch(/forbidden|invalid/i);
    }, 300_000);
  }

  it('refuses the production profile over the minikube install: the KRaft voters would change (exit 4, nothing applied)', async () => {
    const dir = tempDir('production-over-minikube');
    const synth = runSynthCli(['--quiet', '--profile', 'production', '--out', path.join(dir, 'dist')]);
    expect(synth.status, synth.stderr).toBe(0);
    const before = await plane.getJson(['statefulsets', '-n', 'kafka']);
    const result = await deploy(['--dist', path.join(dir, 'dist'), '--profile', 'production', '--timeout', '3m']);
    expect(result.exitCode, result.output).toBe(4);
    expect(result.stdout).toContain('✗ preflight-statefulset-changes ');
    expect(result.stdout).toContain('✗ statefulset/kafka in kafka: spec.template.spec.containers[kafka].env[KAFKA_CONTROLLER_QUORUM_VOTERS].value');
    expect(result.stdout).toContain('Changing the KRaft voter set');
    const after = await plane.getJson(['statefulsets', '-n', 'kafka']);
    expect(after.items.map((s: { metadata: { name: string; resourceVersion: string } }) => `${s.metadata.name}@${s.metadata.resourceVersion}`)).toEqual(
      before.items.map((s: { metadata: { name: string; resourceVersion: string } }) => `${s.metadata.name}@${s.metadata.resourceVersion}`),
    );
  }, 300_000);
});
