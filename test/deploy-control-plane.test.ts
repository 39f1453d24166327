import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane } from './harness/control-plane/control-plane';
import { CONTROL_PLANE, locateBuild } from './harness/go-builds';
import { type ProcessResult, runProcess } from './harness/processes';
import { requireEngine } from './support/engines';
import { buildCli, readDistDir, ROOT } from './support/synth';

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
  /** The live (cluster-state) checks' results, by id: the data plane is not reachable through kwok. */
  const verifyCluster = async () => {
    const result = await run('verify/main.js', ['--output', 'json', '--check', ...LIVE_CHECKS], 60_000);
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
    buildCli();
    plane = await ControlPlane.start({ crdDir: path.join(ROOT, 'reference', 'dapr-crds'), nodes: 1 });
    await plane.installDaprStandIn();
  });

  afterAll(async () => {
    await plane?.stop();
  });

  it('gives up with the documented message when the pods cannot start (a quota admits no pod)', async () => {
    const quota = { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'no-pods', namespace: 'kafka' }, spec: { hard: { pods: '0' } } };
    await plane.kubectlOk(['create', 'namespace', 'kafka']);
    await plane.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(quota) });
    try {
      const result = await deploy(['--timeout', '20s']);
      expect(result.exitCode, result.output).toBe(6);
      expect(result.output).toContain('✓ capacity');
      expect(result.output).toMatch(/statefulset\/kafka in kafka did not roll out within \d+s/);
      expect(result.output).toContain('npm run deploy` again');
    } finally {
      await plane.kubectlOk(['-n', 'kafka', 'delete', 'resourcequota', 'no-pods']);
    }
  }, 120_000);

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
    await plane.kubectlOk(['-n', 'learnflow', 'delete', 'component', 'pubsub']);
    await plane.kubectlOk(['-n', 'learnflow', 'patch', 'component', 'statestore', '--type=json', '-p', '[{"op":"replace","path":"/spec/version","value":"v1"}]']);
    // A Job that fails for real: its pod cannot be scheduled (cordoned node) and its deadline passes.
    const topicsJob = readDistDir(DIST).find((o) => o.kind === 'Job' && o.metadata.namespace === 'kafka')!;
    await plane.kubectlOk(['cordon', 'node-0']);
    await plane.kubectlOk(['-n', 'kafka', 'delete', 'job', topicsJob.metadata.name, '--wait=true']);
    await plane.kubectlOk(['apply', '--server-side', '--field-manager=learnflow-deploy', '-f', path.join(DIST, '11-kafka-topics.yaml')]);
    await plane.kubectlOk(['-n', 'kafka', 'patch', 'job', topicsJob.metadata.name, '--type=merge', '-p', '{"spec":{"activeDeadlineSeconds":1}}']);
    await plane.kubectlOk(['-n', 'kafka', 'wait', '--for=condition=Failed', `job/${topicsJob.metadata.name}`, '--timeout=60s'], { timeoutMs: 70_000 });
    await plane.kubectlOk(['delete', 'crd', 'resiliencies.dapr.io', '--wait=true']);

    const { exitCode, checks } = await verifyCluster();
    expect(exitCode).toBe(1);
    expect(failed(checks).sort()).toEqual([
      'live-dapr-components: Component learnflow/pubsub is not in the cluster',
      'live-dapr-components: Component learnflow/statestore drifted from dist/ in spec',
      'live-dapr-crds: CRD resiliencies.dapr.io is not installed',
      `live-jobs-complete: Job kafka/${topicsJob.metadata.name} failed (1 failed pod(s))`,
    ]);
    await plane.kubectlOk(['uncordon', 'node-0']);
  }, 180_000);
});
