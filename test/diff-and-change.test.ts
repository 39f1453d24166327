import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTEXT, ControlPlane, PREREQUISITE_CRD_DIRS } from './harness/control-plane/control-plane';
import { CONTROL_PLANE, locateBuild } from './harness/go-builds';
import { type ProcessResult, runProcess } from './harness/processes';
import { requireEngine } from './support/engines';
import { envOf, findObject, type K8sObject, ROOT, readDistDir, runSynthCli, tempDir } from './support/synth';

// `npm run diff` and the changes `npm run deploy` carries out on a running install, on a real
// kube-apiserver 1.34 whose simulated nodes (kwok) run the pods: the API's refusals, the StatefulSet
// controller's adoption of orphaned pods and the garbage collector's orphaning are all real.
const SUITE = 'diff and day-2 changes on the control plane';
const built = locateBuild(CONTROL_PLANE);
const DIST = path.join(ROOT, 'dist');

function synth(name: string, override: string, profile = 'minikube'): string {
  const out = tempDir(`dist-${name}`);
  const config = path.join(tempDir(`config-${name}`), 'override.yaml');
  fs.writeFileSync(config, override);
  const result = runSynthCli(['--quiet', '--profile', profile, '--config', config, '--out', out]);
  if (result.status !== 0) throw new Error(`synth ${name} failed:\n${result.stderr}`);
  return out;
}

const claimSize = (statefulSet: K8sObject) => statefulSet.spec.volumeClaimTemplates[0].spec.resources.requests.storage as string;
const statefulSetOf = (dist: string, name: string) => findObject(readDistDir(dist), 'StatefulSet', name);

interface DiffReport {
  readonly objects: { kind: string; namespace?: string; name: string; action: string; changes: { path: string; from?: unknown; to?: unknown }[] }[];
  readonly restarts: { what: string; namespace: string }[];
  readonly refused: { kind: string; name: string; path?: string; from?: unknown; to?: unknown; why: string; remedy: string; carriedOutByDeploy: boolean }[];
  readonly summary: Record<string, number>;
}

describe.skipIf(!requireEngine(SUITE, built.missing))('npm run diff and the changes deploy carries out, on a real control plane', () => {
  let plane: ControlPlane;
  const dists = {} as Record<'grown' | 'grownMore' | 'otherClass' | 'otherClusterId' | 'production', string>;
  const run = (script: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<ProcessResult> =>
    runProcess(process.execPath, [path.join(ROOT, 'build', 'scripts', script), ...args], env ?? plane.env, 240_000);
  const diff = (dist: string, args: readonly string[] = []) => run('diff.js', ['--dist', dist, ...args]);
  const diffJson = async (dist: string) => {
    const result = await diff(dist, ['--output', 'json']);
    return { exitCode: result.exitCode, report: JSON.parse(result.stdout) as DiffReport };
  };
  const deploy = (dist: string) => run('deploy.js', ['--dist', dist, '--skip-verify', '--timeout', '3m']);
  /**
   * Every live object of dist/ and every claim, less what controllers write (status, and with it
   * resourceVersion): a write by a command, or a re-created object (uid), changes this.
   */
  const stored = async () => {
    const items: any[] = [...(await plane.getJson(['-f', DIST])).items, ...(await plane.getJson(['persistentvolumeclaims', '--all-namespaces'])).items];
    return Object.fromEntries(
      items.map(({ status: _status, metadata: { resourceVersion: _version, ...metadata }, ...rest }) => [
        `${rest.kind}/${metadata.namespace}/${metadata.name}`,
        JSON.stringify({ ...rest, metadata }),
      ]),
    );
  };
  const kafka = async () => ({
    statefulSet: await plane.getJson(['statefulset', 'kafka', '-n', 'kafka']),
    pod: await plane.getJson(['pod', 'kafka-0', '-n', 'kafka']),
    claim: await plane.getJson(['persistentvolumeclaim', 'data-kafka-0', '-n', 'kafka']),
  });

  beforeAll(async () => {
    dists.grown = synth('grown', 'kafka:\n  storage: { size: 50Gi }\n');
    dists.grownMore = synth('grown-more', 'kafka:\n  storage: { size: 80Gi }\n');
    dists.otherClass = synth('other-class', 'kafka:\n  storage: { size: 50Gi, storageClassName: fast-ssd }\n');
    dists.production = synth('production', '{}\n', 'production');
    dists.otherClusterId = synth('other-cluster-id', 'kafka:\n  storage: { size: 50Gi }\n  clusterId: MkU3OEVBNTcwNTJENDM2Qg\n');
    plane = await ControlPlane.start({ crdDirs: PREREQUISITE_CRD_DIRS, nodes: 1 });
    await plane.installDaprStandIn();
  });

  afterAll(async () => {
    await plane?.stop();
  });

  it('before the install: every object of dist/ is created and every Job runs (exit 1)', async () => {
    const { exitCode, report } = await diffJson(DIST);
    expect(exitCode).toBe(1);
    const objects = readDistDir(DIST);
    expect(report.objects.map((o) => `${o.kind}/${o.name}:${o.action}`)).toEqual(objects.map((o) => `${o.kind}/${o.metadata.name}:created`));
    const jobs = objects.filter((o) => o.kind === 'Job').map((o) => `job/${o.metadata.name}`);
    expect(jobs.length).toBeGreaterThan(0);
    expect(report.restarts.map((r) => r.what)).toEqual(jobs);
    expect(report.refused).toEqual([]);
  });

  it('on the unchanged install: exit 0, "no changes", every object unchanged', async () => {
    const installed = await deploy(DIST);
    expect(installed.exitCode, installed.output).toBe(0);

    const human = await diff(DIST);
    expect(human.exitCode, human.output).toBe(0);
    expect(human.stdout).toContain(`diff: ${DIST} against context ${CONTEXT}`);
    expect(human.stdout).toContain(`= ${readDistDir(DIST).length} objects unchanged\nno changes\n`);
    const { exitCode, report } = await diffJson(DIST);
    expect(exitCode).toBe(0);
    expect(report.objects.filter((o) => o.action !== 'unchanged')).toEqual([]);
    expect([report.restarts, report.refused]).toEqual([[], []]);
  }, 300_000);

  it('a storage override: exit 1, the StatefulSet change the API refuses, with its remedy; the dry run writes nothing', async () => {
    const before = await stored();
    const [from, to] = [claimSize(statefulSetOf(DIST, 'kafka')), claimSize(statefulSetOf(dists.grown, 'kafka'))];
    const change = `spec.volumeClaimTemplates[data].spec.resources.requests.storage: ${from} -> ${to}`;

    const human = await diff(dists.grown);
    expect(human.exitCode, human.output).toBe(1);
    expect(human.stdout).toContain(`  ~ statefulset/kafka in kafka (10-kafka.yaml): changed\n      ${change}\n`);
    expect(human.stdout).toContain(`  ↻ statefulset/kafka in kafka: ${change}\n`);
    expect(human.stdout).toContain(
      `remedy: npm run deploy expands the claims and re-creates the StatefulSet with --cascade=orphan (its pods keep running, its claims stay): data-kafka-0 ${from} -> ${to}`,
    );
    const { report } = await diffJson(dists.grown);
    expect(report.objects.filter((o) => o.action !== 'unchanged').map((o) => `${o.kind}/${o.name}`)).toEqual(['StatefulSet/kafka']);
    expect(report.refused.map(({ kind, name, path, from, to, carriedOutByDeploy }) => ({ kind, name, path, from, to, carriedOutByDeploy }))).toEqual([
      { kind: 'StatefulSet', name: 'kafka', path: 'spec.volumeClaimTemplates[data].spec.resources.requests.storage', from, to, carriedOutByDeploy: true },
    ]);
    expect(report.restarts).toEqual([]);
    expect(await stored()).toEqual(before);
  });

  it('npm run deploy carries it out: the claim expanded, the StatefulSet re-created, the same pod and claim', async () => {
    const before = await kafka();
    const postgres = (await plane.getJson(['statefulset', 'postgres', '-n', 'postgres'])).metadata.uid;
    const to = claimSize(statefulSetOf(dists.grown, 'kafka'));
    const result = await deploy(dists.grown);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).toContain(`persistentvolumeclaim/data-kafka-0 expanded: ${claimSize(before.statefulSet)} -> ${to}`);
    expect(result.stdout).toContain('statefulset/kafka deleted with --cascade=orphan');
    expect(result.stdout).toContain('✓ statefulset/kafka rolled out');

    const after = await kafka();
    expect(after.statefulSet.metadata.uid).not.toBe(before.statefulSet.metadata.uid);
    expect(claimSize(after.statefulSet)).toBe(to);
    expect(after.claim.metadata.uid).toBe(before.claim.metadata.uid);
    expect(after.claim.spec.resources.requests.storage).toBe(to);
    expect(after.pod.metadata.uid).toBe(before.pod.metadata.uid);
    // Adopted by the new StatefulSet, not left an orphan.
    expect(after.pod.metadata.ownerReferences.map((ref: { uid: string }) => ref.uid)).toEqual([after.statefulSet.metadata.uid]);
    expect((await plane.getJson(['statefulset', 'postgres', '-n', 'postgres'])).metadata.uid).toBe(postgres);
    expect((await diff(dists.grown)).exitCode).toBe(0);
  }, 300_000);

  it('shrinking storage: listed as refused by diff, refused by deploy before anything is applied (exit 4)', async () => {
    const [from, to] = [claimSize(statefulSetOf(dists.grown, 'kafka')), claimSize(statefulSetOf(DIST, 'kafka'))];
    const human = await diff(DIST);
    expect(human.exitCode, human.output).toBe(1);
    expect(human.stdout).toContain(`  ✗ statefulset/kafka in kafka: spec.volumeClaimTemplates[data].spec.resources.requests.storage: ${from} -> ${to}\n`);
    expect(human.stdout).toContain('why: a PersistentVolumeClaim can only grow');
    expect(human.stdout).toContain(`remedy: keep ${from} in the config, or move the data by hand`);

    const before = await stored();
    const result = await deploy(DIST);
    expect(result.exitCode, result.output).toBe(4);
    expect(result.stdout).toContain(`✗ preflight-statefulset-changes `);
    expect(result.stdout).toContain(`      ✗ statefulset/kafka in kafka: spec.volumeClaimTemplates[data].spec.resources.requests.storage: ${from} -> ${to}`);
    expect(result.output).toContain('preflight failed (1 problem above); nothing was applied');
    expect(await stored()).toEqual(before);
  }, 120_000);

  it('growth on a StorageClass without volume expansion: refused by diff and by deploy, with the reason', async () => {
    await plane.kubectlOk(['patch', 'storageclass', 'standard', '-p', '{"allowVolumeExpansion":false}']);
    try {
      const human = await diff(dists.grownMore);
      expect(human.exitCode, human.output).toBe(1);
      expect(human.stdout).toContain('  ✗ statefulset/kafka in kafka: spec.volumeClaimTemplates[data].spec.resources.requests.storage');
      expect(human.stdout).toContain('why: StorageClass standard of data-kafka-0 does not allow volume expansion');
      const before = await stored();
      const result = await deploy(dists.grownMore);
      expect(result.exitCode, result.output).toBe(4);
      expect(await stored()).toEqual(before);
    } finally {
      await plane.kubectlOk(['patch', 'storageclass', 'standard', '-p', '{"allowVolumeExpansion":true}']);
    }
  }, 120_000);

  it('a changed storage class: refused, with the reason and the way by hand', async () => {
    const { exitCode, report } = await diffJson(dists.otherClass);
    expect(exitCode).toBe(1);
    const refused = report.refused.find((r) => r.path === 'spec.volumeClaimTemplates[data].spec.storageClassName');
    expect(refused).toMatchObject({ kind: 'StatefulSet', name: 'kafka', to: 'fast-ssd', carriedOutByDeploy: false });
    expect(refused!.why).toContain('the storage class of a bound claim cannot change');
    expect(refused!.remedy).toContain('`kubectl delete statefulset kafka -n kafka`');
  });

  it('the production profile over the minikube install: the changes, the pods that restart, the Jobs that run', async () => {
    const { exitCode, report } = await diffJson(dists.production);
    expect(exitCode).toBe(1);
    const kafkaChanges = report.objects.find((o) => o.kind === 'StatefulSet' && o.name === 'kafka')!.changes;
    expect(kafkaChanges).toContainEqual({ path: 'spec.replicas', from: 1, to: statefulSetOf(dists.production, 'kafka').spec.replicas });
    expect(kafkaChanges.some((change) => change.path.startsWith('spec.template.spec.containers[kafka].resources'))).toBe(true);
    // Both StatefulSets' pod templates change (resources): their running pods roll. Jobs whose
    // content-hashed names are not on the cluster run.
    const installedJobs = readDistDir(DIST).filter((o) => o.kind === 'Job').map((o) => o.metadata.name);
    const newJobs = readDistDir(dists.production).filter((o) => o.kind === 'Job' && !installedJobs.includes(o.metadata.name));
    expect(newJobs.length).toBeGreaterThan(0);
    expect(report.restarts.map((r) => `${r.what} in ${r.namespace}`).sort()).toEqual(
      ['pod/kafka-0 in kafka', 'pod/postgres-0 in postgres', ...newJobs.map((job) => `job/${job.metadata.name} in ${job.metadata.namespace}`)].sort(),
    );
    // Both claim templates grow (production sizes): carried out by deploy.
    expect(report.refused.filter((r) => r.carriedOutByDeploy).map(({ name, to }) => ({ name, to }))).toEqual(
      ['kafka', 'postgres'].map((name) => ({ name, to: claimSize(statefulSetOf(dists.production, name)) })),
    );
    // But the voters move from the combined node to dedicated controllers: a new, empty quorum beside the
    // data of the old one. Refused, with the runbook; the cluster id (derived from the install) stays.
    const voters = envOf(statefulSetOf(dists.production, 'kafka').spec.template.spec.containers[0]).KAFKA_CONTROLLER_QUORUM_VOTERS;
    expect(report.refused.filter((r) => !r.carriedOutByDeploy)).toEqual([
      expect.objectContaining({ name: 'kafka', path: 'spec.template.spec.containers[kafka].env[KAFKA_CONTROLLER_QUORUM_VOTERS].value', to: voters }),
    ]);
    expect(report.refused.find((r) => !r.carriedOutByDeploy)!.why).toContain('the KRaft voter set is static');
    expect(report.refused.find((r) => !r.carriedOutByDeploy)!.remedy).toContain('Changing the KRaft voter set');
  });

  it('another cluster id for the running brokers: refused by diff and by deploy (exit 4), nothing applied', async () => {
    const installed = envOf(statefulSetOf(dists.grown, 'kafka').spec.template.spec.containers[0]).CLUSTER_ID;
    const { exitCode, report } = await diffJson(dists.otherClusterId);
    expect(exitCode).toBe(1);
    const refused = report.refused.find((r) => r.path === 'spec.template.spec.containers[kafka].env[CLUSTER_ID].value');
    expect(refused).toMatchObject({ name: 'kafka', from: installed, to: 'MkU3OEVBNTcwNTJENDM2Qg', carriedOutByDeploy: false });
    expect(refused!.remedy).toContain(`kafka.clusterId: ${installed}`);
    const before = await stored();
    const result = await deploy(dists.otherClusterId);
    expect(result.exitCode, result.output).toBe(4);
    expect(await stored()).toEqual(before);
  }, 120_000);

  it('an unreachable cluster: exit 2 within 10 s, naming the context', async () => {
    const unreachable = path.join(tempDir('kubeconfig'), 'config');
    fs.writeFileSync(
      unreachable,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'gone', cluster: { server: 'https://127.0.0.1:1' } }],
        contexts: [{ name: 'gone', context: { cluster: 'gone', user: CONTEXT } }],
      }),
    );
    const env = { ...plane.env, KUBECONFIG: `${plane.kubeconfig}${path.delimiter}${unreachable}` };
    const result = await run('diff.js', ['--dist', DIST, '--context', 'gone'], env);
    expect(result.exitCode, result.output).toBe(2);
    expect(result.durationMs).toBeLessThan(10_000);
    expect(result.stderr).toMatch(/^error: could not check \S+ against context gone: .*127\.0\.0\.1:1.*connection refused/m);
    // kubectl's own error, without the client-go log lines that repeat it.
    expect(result.stderr).not.toMatch(/[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+/);
  });
});
