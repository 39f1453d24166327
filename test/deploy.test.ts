import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREFLIGHT_CHECKS } from '../scripts/deploy/preflight';
import { ALL_CHECK_IDS } from '../verify/runner';
import { deployCluster } from './fixtures/deploy/fake-cluster';
import { synthesizeDist } from './fixtures/verify/helpers';
import { FakeKubectl } from './support/fake-kubectl';
import { type K8sObject, manifestFiles, ROOT, tempDir } from './support/synth';

// `npm run deploy` as an operator runs it, against a fake kubectl first on PATH (kubectl is the
// deploy's only way to the cluster, so it is the seam: fixtures/deploy/fake-cluster.ts, served by
// support/fake-kubectl.ts). The fake logs every command it gets. Only what a
// real API server cannot show stays here (an old server version, node capacities, a failed Job's logs,
// the exact kubectl calls); test/deploy-control-plane.test.ts runs the rest against a real control plane.
const DEPLOY = path.join(ROOT, 'build', 'scripts', 'deploy.js');

const DAPR_CONTROL_PLANE = ['dapr-operator', 'dapr-sidecar-injector', 'dapr-sentry', 'dapr-placement-server', 'dapr-scheduler-server'];

/** A fresh cluster that meets every precondition: nothing of LearnFlow in it yet. */
const READY_CLUSTER = {
  namespaces: [] as string[],
  secrets: {},
  serverVersion: { major: '1', minor: '30', gitVersion: 'v1.30.0' },
  storageClasses: [{ name: 'standard', isDefault: true }],
  crds: ['components.dapr.io', 'configurations.dapr.io', 'subscriptions.dapr.io', 'resiliencies.dapr.io'],
  daprSystem: Object.fromEntries(DAPR_CONTROL_PLANE.map((name) => [name, true])),
  nodes: [{ name: 'minikube', cpu: '4', memory: '8Gi' }],
};

type Scenario = Partial<typeof READY_CLUSTER> & {
  unreachable?: boolean;
  rollouts?: Record<string, 'ok' | 'timeout'>;
  jobs?: Record<string, 'complete' | 'failed' | 'hang'>;
  jobLogs?: string;
  applyFails?: Record<string, string>;
  /** What `kubectl get` finds of dist/'s StatefulSets. */
  live?: K8sObject[];
};

interface DeployRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly output: string;
  /** Every kubectl command line, in order, with a leading --context removed. */
  readonly calls: string[][];
  readonly rawCalls: string[][];
  readonly secrets: Record<string, { data: Record<string, string> }>;
}

/**
 * Runs the built CLI without blocking the test worker (a synchronous spawn of several seconds starves
 * vitest's own messaging on a busy machine).
 */
async function deployWith(kubectl: FakeKubectl, scenario: Scenario, args: readonly string[], env: Record<string, string> = {}): Promise<DeployRun> {
  const stateFile = path.join(tempDir('deploy'), 'state.json');
  fs.writeFileSync(stateFile, JSON.stringify({ ...READY_CLUSTER, ...scenario }));
  const { KUBECONFIG: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, [DEPLOY, ...args], {
    cwd: ROOT,
    env: { ...kubectl.env(stateFile, inherited), HOME: tempDir('deploy-home'), ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const callsFile = `${stateFile}.calls`;
  const rawCalls = fs.existsSync(callsFile) ? fs.readFileSync(callsFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as string[]) : [];
  const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
  return {
    status,
    stdout,
    output: `${stdout}${stderr}`,
    calls: rawCalls.map((call) => (call[0] === '--context' ? call.slice(2) : call)),
    rawCalls,
    secrets: state.secrets,
  };
}

/** A kubectl call as one step of the deploy; the parallel watch for a failed Job is left out (it races the other). */
function operation(call: readonly string[]): string | undefined {
  const [verb, kind] = call;
  if (verb === 'apply') return `apply ${path.basename(call[call.indexOf('-f') + 1])}`;
  if (verb === 'rollout') return `rollout ${call[2]}`;
  // Deploy waits for complete and failed at once and stops the loser, which under load may be killed
  // before it logs its call: either one stands for the wait.
  if (verb === 'wait') return `wait ${call[2]}`;
  if (verb === 'logs') return `logs ${call[1]}`;
  if (verb === 'get' && call.includes('-f')) return 'get live objects';
  if ((verb === 'get' && ['namespace', 'secret', 'secrets'].includes(kind)) || verb === 'create') return 'secrets';
  return verb === 'get' ? `get ${kind}` : verb;
}

function operations(calls: readonly string[][]): string[] {
  const steps = calls.map(operation).filter((step): step is string => step !== undefined);
  // The secrets command makes one call per namespace and Secret, a Job wait two calls: one step each here.
  return steps.filter((step, index) => !((step === 'secrets' || step.startsWith('wait ')) && steps[index - 1] === step));
}

const PREFLIGHT = ['version', 'get storageclasses', 'get customresourcedefinitions', 'get deployments', 'get statefulsets', 'get nodes', 'get live objects'];
const isApplyOrCreate = (call: readonly string[]) => call[0] === 'apply' || call[0] === 'create';

// Each case runs the whole CLI and a few dozen fake kubectl processes: seconds each on a busy 2-core machine.
describe('npm run deploy', { timeout: 120_000 }, () => {
  let dist: string;
  let files: string[];
  const objectsOf = (file: string) => (yaml.loadAll(fs.readFileSync(path.join(dist, file), 'utf8')) as K8sObject[]).filter(Boolean);

  let kubectl: FakeKubectl;
  const runDeploy = (scenario: Scenario, args: readonly string[], env: Record<string, string> = {}) => deployWith(kubectl, scenario, args, env);

  beforeAll(async () => {
    kubectl = await FakeKubectl.start(deployCluster);
    dist = synthesizeDist();
    files = manifestFiles(dist);
  });

  afterAll(() => kubectl?.close());

  /** The expected steps, read from dist/: namespaces and policies, Secrets, then each file with its waits. */
  function expectedOperations(): string[] {
    const kinds = (file: string) => objectsOf(file).map((object) => object.kind);
    const foundation = files.filter((file) => kinds(file).every((kind) => kind === 'Namespace' || kind === 'NetworkPolicy'));
    const rest = files.filter((file) => !foundation.includes(file));
    const waits = (file: string) =>
      objectsOf(file).flatMap((object) =>
        object.kind === 'StatefulSet' ? [`rollout statefulset/${object.metadata.name}`] : object.kind === 'Job' ? [`wait job/${object.metadata.name}`] : [],
      );
    return [...PREFLIGHT, ...foundation.map((file) => `apply ${file}`), 'secrets', ...rest.flatMap((file) => [`apply ${file}`, ...waits(file)])];
  }

  it('--help documents the flags and the exit codes', async () => {
    const result = await runDeploy({}, ['--help']);
    expect(result.status).toBe(0);
    for (const text of ['--profile', '--config', '--dist', '--context', '--timeout', '--skip-verify', '--dry-run', 'Exit codes', 'nothing was applied']) {
      expect(result.stdout).toContain(text);
    }
    expect(result.calls).toEqual([]);
  });

  it('invalid arguments are exit 3, before any kubectl call', async () => {
    const result = await runDeploy({}, ['--dist', dist, '--timeout', 'soon']);
    expect(result.status).toBe(3);
    expect(result.output).toContain('must be a duration');
    expect(result.calls).toEqual([]);
  });

  describe('on a fresh cluster', () => {
    let result: DeployRun;

    beforeAll(async () => {
      result = await runDeploy({}, ['--dist', dist, '--skip-verify']);
    }, 180_000);

    it('preflight, namespaces and policies, Secrets, every file in order with its waits; exit 0', () => {
      expect(result.status, result.output).toBe(0);
      // The sanity of the expectation itself: this dist/ has StatefulSets and Jobs to wait for.
      const expected = expectedOperations();
      expect(expected.filter((step) => step.startsWith('rollout ')).length).toBeGreaterThan(0);
      expect(expected.filter((step) => step.startsWith('wait ')).length).toBeGreaterThan(0);
      expect(operations(result.calls)).toEqual(expected);

      for (const call of result.calls.filter((c) => c[0] === 'apply')) {
        expect(call).toEqual(expect.arrayContaining(['--server-side', '--field-manager=learnflow-deploy']));
      }
      // (The watch for a failed Job is not asserted here: it is stopped as soon as the Job completes,
      // often before the fake logs it. The failed-Job case below depends on it.)
      // Every wait is bounded by what is left of --timeout (10 minutes by default).
      for (const call of result.calls.filter((c) => c[0] === 'rollout' || c[0] === 'wait')) {
        const seconds = Number(call.find((arg) => arg.startsWith('--timeout='))?.slice('--timeout='.length).replace(/s$/, ''));
        expect(seconds).toBeGreaterThan(0);
        expect(seconds).toBeLessThanOrEqual(600);
      }
      // Progress: each step, kubectl's own lines with the elapsed time, and each wait's end.
      expect(result.stdout).toMatch(/\[1\/4\] preflight[\s\S]*\[2\/4\][\s\S]*\[3\/4\][\s\S]*\[4\/4\] verify: skipped/);
      expect(result.stdout).toMatch(/^ {4}\[\d+s\] Waiting for 1 pods to be ready/m);
      expect(result.stdout).toMatch(/✓ statefulset\/kafka rolled out in \d+s/);
      expect(result.stdout).toMatch(/✓ job\/kafka-topics-[0-9a-f]+ completed in \d+s/);
      expect(result.stdout).toContain('created: secret learnflow-postgres-app in postgres');
    });

    it('never prints a Secret value, nor puts one on a kubectl command line', () => {
      const values = Object.values(result.secrets).flatMap((secret) =>
        Object.entries(secret.data)
          .filter(([key]) => /password|connectionString/.test(key))
          .map(([, value]) => Buffer.from(value, 'base64').toString('utf8')),
      );
      expect(values.length).toBeGreaterThan(0);
      const commandLines = JSON.stringify(result.rawCalls);
      for (const value of values) {
        expect(result.output).not.toContain(value);
        expect(commandLines).not.toContain(value);
      }
    });

    it('a second deploy leaves the existing Secrets as they are', async () => {
      const second = await runDeploy({ secrets: result.secrets, namespaces: ['kafka', 'postgres', 'learnflow'] }, ['--dist', dist, '--skip-verify']);
      expect(second.status, second.output).toBe(0);
      expect(second.secrets).toEqual(result.secrets);
      expect(second.calls.some((call) => call[0] === 'create')).toBe(false);
      expect(second.stdout).toContain('exists:  secret learnflow-postgres-app in postgres (left unchanged)');
    });
  });

  const PRECONDITIONS: { name: string; scenario: Scenario; args?: string[]; env?: () => Record<string, string>; message: RegExp; fix: string }[] = [
    {
      name: 'kubectl is not installed',
      scenario: {},
      // node itself is started by its absolute path, so a PATH without kubectl is all it takes.
      env: () => ({ PATH: tempDir('deploy-empty-path') }),
      message: /✗ preflight-cluster-reachable [\s\S]*✗ no Kubernetes API server answered \(current context\): kubectl is not installed or not on PATH/,
      fix: 'install kubectl',
    },
    {
      name: 'the cluster does not answer',
      scenario: { unreachable: true },
      message: /✗ preflight-cluster-reachable [\s\S]*✗ no Kubernetes API server answered \(current context\): The connection to the server 127\.0\.0\.1:6443 was refused/,
      fix: 'minikube start',
    },
    {
      name: 'Kubernetes older than 1.28',
      scenario: { serverVersion: { major: '1', minor: '27', gitVersion: 'v1.27.9' } },
      message: /✗ preflight-server-version [\s\S]*✗ the API server runs Kubernetes v1\.27\.9, older than 1\.28/,
      fix: 'minikube start --kubernetes-version=stable',
    },
    {
      name: 'a Dapr control-plane workload not available',
      scenario: { daprSystem: Object.fromEntries(DAPR_CONTROL_PLANE.map((name) => [name, name !== 'dapr-sentry'])) },
      message: /✗ live-dapr-control-plane [\s\S]*✗ Deployment dapr-system\/dapr-sentry: 0\/1 ready/,
      fix: 'kubectl rollout status deployment/dapr-sentry -n dapr-system --timeout=5m',
    },
    {
      name: 'not enough CPU',
      scenario: { nodes: [{ name: 'small', cpu: '100m', memory: '8Gi' }] },
      message: /✗ preflight-capacity [\s\S]*✗ not enough allocatable CPU: [^\n]*offers 100m CPU and 8Gi/,
      fix: 'minikube delete && minikube start --cpus 4 --memory 8g',
    },
    {
      name: 'not enough memory',
      scenario: { nodes: [{ name: 'small', cpu: '4', memory: '64Mi' }] },
      message: /✗ preflight-capacity [\s\S]*✗ not enough allocatable memory: /,
      fix: 'minikube delete && minikube start --cpus 4 --memory 8g',
    },
    {
      name: 'dist/ does not exist',
      scenario: {},
      args: ['--dist', path.join(ROOT, 'no-such-dist')],
      message: /✗ preflight-dist [\s\S]*✗ \S+no-such-dist cannot be read/,
      fix: 'npm run synth',
    },
    {
      name: 'dist/ synthesized for another profile',
      scenario: {},
      args: ['--profile', 'production'],
      message: /✗ preflight-dist [\s\S]*✗ \S+ was synthesized with profile minikube, the deploy runs with --profile production/,
      fix: 'npm run synth -- --profile production',
    },
  ];

  for (const precondition of PRECONDITIONS) {
    it(`preflight alone fails when ${precondition.name}: message, fix command, exit 4, nothing applied`, async () => {
      const args = ['--dist', dist, '--skip-verify', ...(precondition.args ?? [])];
      const result = await runDeploy(precondition.scenario, args, precondition.env?.());
      expect(result.status, result.output).toBe(4);
      expect(result.stdout).toMatch(precondition.message);
      const fixes = result.stdout.split('\n').filter((line) => /^ {8}fix: /.test(line));
      expect(fixes).toHaveLength(1);
      expect(fixes[0]).toContain(precondition.fix);
      expect(result.stdout.split('\n').filter((line) => /^ {2}✗ /.test(line))).toHaveLength(1);
      expect(result.output).toContain('preflight failed (1 problem above); nothing was applied');
      expect(result.calls.filter(isApplyOrCreate)).toEqual([]);
    });
  }

  it('refuses a scale-in of the brokers when it cannot ask them whether the removed ones hold replicas; nothing applied', async () => {
    const running = objectsOf('10-kafka.yaml').find((object) => object.kind === 'StatefulSet' && object.metadata.name === 'kafka')!;
    const result = await runDeploy({ live: [{ ...running, spec: { ...running.spec, replicas: 3 } }] }, ['--dist', dist, '--skip-verify']);
    expect(result.status, result.output).toBe(4);
    expect(result.stdout).toMatch(/\? kafka-live-removed-brokers-empty [\s\S]*could not check: statefulset\/kafka in kafka: 3 -> 1 brokers, and the brokers could not be asked which replicas they hold/);
    expect(result.calls.filter(isApplyOrCreate)).toEqual([]);
  });

  it('asks the brokers nothing when dist/ keeps the running broker count', async () => {
    const running = objectsOf('10-kafka.yaml').find((object) => object.kind === 'StatefulSet' && object.metadata.name === 'kafka')!;
    const result = await runDeploy({ live: [running], nodes: [{ name: 'small', cpu: '100m', memory: '8Gi' }] }, ['--dist', dist, '--skip-verify']);
    expect(result.stdout).toMatch(/✓ kafka-live-removed-brokers-empty [\s\S]*dist\/ removes no broker of a running install/);
    expect(result.calls.some((call) => call[0] === 'port-forward')).toBe(false);
  });

  /** A copy of dist/ without the `# profile:` line of its endpoints document (and, with `labels`, without the Namespaces' profile label). */
  function distWithoutProfile(labels: boolean): string {
    const copy = path.join(tempDir('deploy-profile'), 'dist');
    fs.cpSync(dist, copy, { recursive: true });
    const endpoints = path.join(copy, 'infra-endpoints.txt');
    fs.writeFileSync(endpoints, fs.readFileSync(endpoints, 'utf8').replace(/^# profile: .*\n/m, ''));
    if (labels) {
      const namespaces = path.join(copy, '00-namespaces.yaml');
      fs.writeFileSync(namespaces, fs.readFileSync(namespaces, 'utf8').replace(/^ +learnflow\.io\/profile: .*\n/gm, ''));
    }
    return copy;
  }

  it('preflight reads the profile of dist/ from its Namespaces when the endpoints document states none', async () => {
    const result = await runDeploy({}, ['--dist', distWithoutProfile(false), '--skip-verify', '--profile', 'production']);
    expect(result.status, result.output).toBe(4);
    expect(result.stdout).toMatch(/✗ \S+ was synthesized with profile minikube, the deploy runs with --profile production/);
    expect(result.calls.filter(isApplyOrCreate)).toEqual([]);
  });

  it('preflight warns when dist/ states no profile at all', async () => {
    const result = await runDeploy({ nodes: [{ name: 'small', cpu: '100m', memory: '8Gi' }] }, ['--dist', distWithoutProfile(true), '--skip-verify']);
    expect(result.status, result.output).toBe(4);
    expect(result.stdout).toMatch(/preflight-dist [\s\S]*states no profile \(no learnflow\.io\/profile label on its Namespaces, no '# profile:' line in infra-endpoints\.txt\): cannot check it was synthesized for --profile minikube/);
  });

  it('an unreachable cluster is said once: the checks that need it point at the check that found it', async () => {
    const result = await runDeploy({ unreachable: true }, ['--dist', dist]);
    expect(result.status).toBe(4);
    const needCluster = PREFLIGHT_CHECKS.filter((check) => check.needs.includes('cluster'));
    expect(needCluster.length).toBeGreaterThanOrEqual(5);
    for (const check of needCluster) {
      expect(result.stdout).toMatch(new RegExp(`\\? ${check.id} [^\\n]*\\n {6}\\? could not check: the cluster is unreachable \\(see preflight-cluster-reachable\\)\\n`));
    }
    expect(result.stdout.match(/was refused/g)).toHaveLength(1);
    expect(result.calls).toEqual([['version', '-o', 'json', '--request-timeout=10s']]);
  });

  it('preflight checks are checks of the verifier model: its own ids, or the verifier\'s live check of the same rule; a description and a fix each', () => {
    const ids = PREFLIGHT_CHECKS.map((check) => check.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(['live-dapr-crds', 'live-dapr-control-plane']));
    for (const check of PREFLIGHT_CHECKS) {
      if (ALL_CHECK_IDS.includes(check.id)) expect(check.id).toMatch(/^(kafka-)?live-/);
      else expect(check.id).toMatch(/^preflight-[a-z0-9-]+$/);
      expect(check.description.length).toBeGreaterThan(10);
      expect(check.remediation.length).toBeGreaterThan(5);
    }
  });

  it('lists every failing precondition together, not only the first', async () => {
    const result = await runDeploy(
      { serverVersion: { major: '1', minor: '26', gitVersion: 'v1.26.0' }, storageClasses: [], crds: [], nodes: [{ name: 'small', cpu: '100m', memory: '64Mi' }] },
      ['--dist', dist],
    );
    expect(result.status).toBe(4);
    for (const check of ['preflight-server-version', 'preflight-storage-class', 'live-dapr-crds', 'preflight-capacity']) expect(result.stdout).toContain(`✗ ${check} `);
    expect(result.stdout).toContain('✓ live-dapr-control-plane ');
    expect(result.output).toContain('preflight failed (4 problems above)');
    expect(result.calls.filter(isApplyOrCreate)).toEqual([]);
  });

  it('requires prometheus-operator CRDs only when dist/ holds its objects (observability on)', async () => {
    // The same --config for deploy: its Secrets step creates the monitoring Secret the exporter mounts.
    const override = writeOverride({ observability: { enabled: true } });
    const observed = synthesizeDist(['--config', override]);
    const missing = await runDeploy({}, ['--dist', observed, '--config', override, '--dry-run']);
    expect(missing.status).toBe(4);
    expect(missing.stdout).toContain('✗ live-prometheus-operator-crds ');
    for (const crd of ['podmonitors.monitoring.coreos.com', 'prometheusrules.monitoring.coreos.com']) expect(missing.output).toContain(`CRD ${crd} is not installed`);
    const installed = await runDeploy({ crds: [...READY_CLUSTER.crds, 'podmonitors.monitoring.coreos.com', 'prometheusrules.monitoring.coreos.com'] }, [
      '--dist',
      observed,
      '--config',
      override,
      '--dry-run',
    ]);
    expect(installed.status, installed.output).toBe(0);
    expect(installed.stdout).toContain('✓ live-prometheus-operator-crds ');
    // Without observability (the default dist/) the CRDs are not required.
    const plain = await runDeploy({}, ['--dist', dist, '--dry-run']);
    expect(plain.status, plain.output).toBe(0);
    expect(plain.stdout).toMatch(/✓ live-prometheus-operator-crds .*\n\s+✓ not required: dist\/ holds no prometheus-operator objects/);
  });

  it('--dry-run runs the preflight and applies nothing', async () => {
    const result = await runDeploy({}, ['--dist', dist, '--dry-run']);
    expect(result.status, result.output).toBe(0);
    expect(operations(result.calls)).toEqual(PREFLIGHT);
    expect(result.stdout).toContain(`Would apply: ${files.join(', ')}`);
  });

  it('a failed Job shows the tail of its logs, says how to re-run it, and stops the deploy (exit 6)', async () => {
    const result = await runDeploy(
      { jobs: { 'postgres-migrations': 'failed' }, jobLogs: 'applying 0003_progress.sql\npsql:/migrations/0003_progress.sql:7: ERROR:  relation "progress" already exists\n' },
      ['--dist', dist, '--skip-verify'],
    );
    expect(result.status, result.output).toBe(6);
    const steps = operations(result.calls);
    const waited = steps.find((step) => step.startsWith('wait job/postgres-migrations-'));
    expect(waited, `${result.output}\n${steps.join('\n')}`).toBeDefined();
    const job = waited!.slice('wait '.length);
    expect(steps.slice(-2)).toEqual([`wait ${job}`, `logs ${job}`]);
    expect(result.calls.at(-1)).toEqual(['logs', job, '-n', 'postgres', '--tail=30']);
    expect(result.stdout).toContain('    | psql:/migrations/0003_progress.sql:7: ERROR:  relation "progress" already exists');
    expect(result.stdout).toContain(`✗ ${job} in postgres failed after`);
    expect(result.stdout).toContain(`fix: fix the cause in the logs, then \`kubectl delete ${job} -n postgres\``);
    // Nothing after the failed Job's file is applied.
    const failedFile = files.find((file) => objectsOf(file).some((object) => `job/${object.metadata.name}` === job))!;
    const applied = steps.filter((step) => step.startsWith('apply ')).map((step) => step.slice('apply '.length));
    expect(applied.at(-1)).toBe(failedFile);
    expect(applied).toEqual(files.slice(0, files.indexOf(failedFile) + 1));
  });

  it('a Job that neither completes nor fails is bounded by --timeout (exit 6)', async () => {
    // The budget covers the apply and rollout before the Job too (three fake kubectl commands: milliseconds each,
    // under a second on a busy machine): 8 s leaves them room, so that the hanging Job is what uses it up.
    const budgetSeconds = 8;
    const result = await runDeploy({ jobs: { 'kafka-topics': 'hang' } }, ['--dist', dist, '--skip-verify', '--timeout', `${budgetSeconds}s`]);
    expect(result.status, result.output).toBe(6);
    // The wait gets what is left of the budget, and ends by then (kubectl's own start-up aside).
    const budget = /waiting for job\/kafka-topics-[0-9a-f]+ in kafka to complete \(up to (\d+)s\)/.exec(result.stdout);
    const waited = /✗ job\/kafka-topics-[0-9a-f]+ in kafka did not complete within (\d+)s/.exec(result.stdout);
    expect(budget && waited, result.output).toBeTruthy();
    expect(Number(budget![1])).toBeLessThanOrEqual(budgetSeconds);
    expect(Number(waited![1])).toBeGreaterThanOrEqual(Number(budget![1]));
    expect(Number(waited![1])).toBeLessThan(Number(budget![1]) + 10);
    expect(operations(result.calls).at(-1)).toMatch(/^wait job\/kafka-topics-/);
  });

  describe('verify step', () => {
    /** A kubeconfig with two contexts, both pointing at closed loopback ports: the verifier cannot check. */
    function kubeconfig(): string {
      const file = path.join(tempDir('deploy-kubeconfig'), 'config');
      const cluster = (name: string, port: number) => ({ name, cluster: { server: `https://127.0.0.1:${port}` } });
      const context = (name: string) => ({ name, context: { cluster: name, user: 'nobody' } });
      fs.writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [cluster('elsewhere', 9), cluster('target', 7)],
          users: [{ name: 'nobody', user: { token: 'not-a-secret' } }],
          contexts: [context('elsewhere'), context('target')],
          'current-context': 'elsewhere',
        }),
      );
      return file;
    }

    it('runs `verify --live` after the apply and exits with its code (2: could not check)', async () => {
      const result = await runDeploy({}, ['--dist', dist], { KUBECONFIG: kubeconfig() });
      expect(result.status, result.output).toBe(2);
      expect(result.stdout).toContain('[4/4] verify (npm run verify -- --live)');
      expect(result.output).toContain('could not check');
      expect(result.output).toContain('context elsewhere (https://127.0.0.1:9)');
    });

    it('--context reaches the verifier too, and every kubectl call', async () => {
      const result = await runDeploy({}, ['--dist', dist, '--context', 'target'], { KUBECONFIG: kubeconfig() });
      expect(result.status, result.output).toBe(2);
      expect(result.output).toContain('context target (https://127.0.0.1:7)');
      expect(result.output).not.toContain('127.0.0.1:9');
      expect(result.rawCalls.length).toBeGreaterThan(PREFLIGHT.length);
      for (const call of result.rawCalls) expect(call.slice(0, 2)).toEqual(['--context', 'target']);
    });
  });
});

function writeOverride(override: object): string {
  const file = path.join(tempDir('deploy-override'), 'override.yaml');
  fs.writeFileSync(file, JSON.stringify(override));
  return file;
}
