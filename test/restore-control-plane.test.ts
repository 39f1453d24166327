import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane } from './harness/control-plane/control-plane';
import { CONTROL_PLANE, locateBuild } from './harness/go-builds';
import { type ProcessResult, runProcess, sleep } from './harness/processes';
import { requireEngine } from './support/engines';
import { ROOT, runSynthCli, tempDir } from './support/synth';

// `npm run restore` against a real kube-apiserver, controllers and scheduler (kwok plays the kubelet): the
// plan is created beside the live server, Pod Security admits its pod, the StatefulSet controller makes its
// own claim, and the live StatefulSet, its claim and its Service stay exactly as they were. Then the
// switch-over lines the command printed run as printed (bash -eu): the live StatefulSet's pod comes back on
// the restored volume, the old volume is kept. That the plan's init container and settings really restore,
// and that clients ride through the switch, is proven on PostgreSQL 16 (test/postgres-backup.test.ts).
const SUITE = 'npm run restore on the control plane';
const built = locateBuild(CONTROL_PLANE);

describe.skipIf(!requireEngine(SUITE, built.missing))('npm run restore on a real control plane with simulated nodes', () => {
  let plane: ControlPlane;
  let configFile: string;
  /** What the successful `npm run restore` printed: the switch-over lines come last. */
  let printed: string | undefined;
  const restore = (args: readonly string[]): Promise<ProcessResult> =>
    runProcess(process.execPath, [path.join(ROOT, 'build', 'scripts', 'restore.js'), '--config', configFile, ...args], plane.env, 120_000);
  const restoreStatefulSets = async () =>
    ((await plane.getJson(['statefulsets', '-n', 'postgres'])).items as any[]).filter((item) => item.metadata.name.startsWith('postgres-restore-'));
  /** What must never change: the live StatefulSet's spec and generation, its claim, the Service's selector. */
  const liveState = async () => {
    const sts = await plane.getJson(['statefulset', 'postgres', '-n', 'postgres']);
    const claim = await plane.getJson(['pvc', 'data-postgres-0', '-n', 'postgres']);
    const service = await plane.getJson(['service', 'postgres', '-n', 'postgres']);
    return { spec: sts.spec, generation: sts.metadata.generation, claim: claim.metadata.uid, volume: claim.spec.volumeName, selector: service.spec.selector };
  };

  beforeAll(async () => {
    configFile = path.join(tempDir('restore-config'), 'backups.yaml');
    fs.writeFileSync(configFile, 'postgres:\n  backup:\n    enabled: true\n');
    const dist = path.join(tempDir('restore-dist'), 'dist');
    const synth = runSynthCli(['--config', configFile, '--out', dist, '--quiet']);
    if (synth.status !== 0) throw new Error(synth.stderr);
    plane = await ControlPlane.start({ nodes: 1 });
    for (const file of ['00-namespaces.yaml', '03-network-policies-postgres.yaml', '20-postgres.yaml', '23-postgres-backup.yaml']) {
      await plane.kubectlOk(['apply', '--server-side', '-f', path.join(dist, file)]);
    }
    await plane.kubectlOk(['rollout', 'status', 'statefulset/postgres', '-n', 'postgres', '--timeout=240s'], { timeoutMs: 250_000 });
  }, 300_000);

  afterAll(async () => {
    await plane?.stop();
  });

  it('--dry-run prints the plan and creates nothing; a target in the future or not a time is refused', async () => {
    const dry = await restore(['--to', 'latest', '--dry-run']);
    expect(dry.exitCode, dry.output).toBe(0);
    expect(dry.stdout).toMatch(/new: +statefulset\/postgres-restore-\d{14} and its claim data-postgres-restore-\d{14}-0 in postgres, beside statefulset\/postgres/);
    expect(dry.stdout).toContain('restore-data.sh');
    for (const [to, says] of [
      ['2999-01-01T00:00:00Z', 'is in the future'],
      ['last tuesday', "must be 'latest' or an RFC 3339 time"],
      ['2026-12-01T10:00:00', "must be 'latest' or an RFC 3339 time with its zone"],
    ]) {
      const refused = await restore(['--to', to]);
      expect(refused.exitCode, refused.output).toBe(2);
      expect(refused.stderr).toContain(says);
      expect(refused.stderr).toContain('nothing was created');
    }
    expect(await restoreStatefulSets()).toEqual([]);
  });

  it('creates a new StatefulSet and claim beside the live one, admitted by Pod Security; the live server is untouched', async () => {
    const before = await liveState();
    const target = new Date(Date.now() - 60_000).toISOString();
    const result = await restore(['--to', target]);
    expect(result.exitCode, result.output).toBe(0);
    printed = result.stdout;
    // kwok runs no container, so the backups cannot be listed through the live pod: the init container will choose.
    expect(result.stdout).toContain('chosen by the init container');
    expect(result.stdout).toContain('kubectl -n postgres scale statefulset postgres --replicas=0');

    const [created] = await restoreStatefulSets();
    expect(created.metadata.annotations['learnflow.dev/restore-target']).toBe(`${target.replace('T', ' ').replace('Z', '')}+00:00`);
    const name = created.metadata.name;
    await plane.kubectlOk(['rollout', 'status', `statefulset/${name}`, '-n', 'postgres', '--timeout=240s'], { timeoutMs: 250_000 });
    const pod = await plane.getJson(['pod', `${name}-0`, '-n', 'postgres']);
    expect(pod.spec.initContainers.map((c: any) => c.name)).toEqual(['restore-data']);
    expect(pod.spec.containers[0].args).toContain('archive_mode=off');
    const claim = await plane.getJson(['pvc', `data-${name}-0`, '-n', 'postgres']);
    expect(claim.status.phase).toBe('Bound');
    expect(claim.spec.volumeName).not.toBe(before.volume);

    // The live Service never selects the restore: its endpoints are the live pod only.
    const endpoints = await plane.getJson(['endpoints', 'postgres', '-n', 'postgres']);
    expect(endpoints.subsets.flatMap((s: any) => s.addresses.map((a: any) => a.targetRef.name))).toEqual(['postgres-0']);
    expect(await liveState()).toEqual(before);
    // Its waits (the rollout, 120 s) are longer than the default 60 s: under a load average of 30 they took more.
  }, 300_000);

  it('the printed switch-over, run as printed: the live pod claims the restored volume, the old one is kept, a base backup starts', async () => {
    expect(printed, 'the restore of the previous test printed nothing').toBeDefined();
    const script = printed!.slice(printed!.indexOf('# Switch-over of statefulset/postgres'));
    const [restoreSet] = await restoreStatefulSets();
    const stamp = restoreSet.metadata.name.replace('postgres-restore-', '');
    const oldClaim = await plane.getJson(['pvc', 'data-postgres-0', '-n', 'postgres']);
    const restoredClaim = await plane.getJson(['pvc', `data-${restoreSet.metadata.name}-0`, '-n', 'postgres']);
    const [oldPv, restoredPv] = [oldClaim.spec.volumeName, restoredClaim.spec.volumeName];
    const liveSpec = (await plane.getJson(['statefulset', 'postgres', '-n', 'postgres'])).spec;
    // A dynamic provisioner's volumes default to Delete: the script's first step must keep both.
    for (const pv of [oldPv, restoredPv]) await plane.kubectlOk(['patch', 'pv', pv, '-p', '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}']);

    // The one line a kwok node cannot run: an exec into the server's container (no container runs here). What it
    // does, archiving the new timeline's history file, runs on PostgreSQL 16 in test/restore-switchover.test.ts.
    const execs = script.split('\n').filter((line) => !line.startsWith('#') && line.includes(' exec '));
    expect(execs).toEqual([expect.stringMatching(/^kubectl -n postgres exec postgres-0 -c postgres -- bash -c '.*archive-wal\.sh/)]);
    const runnable = script.replace(execs[0], ': the exec runs no container on kwok');
    // Pasted into a shell (no -e), with the Retain patches refused (no right to change cluster-scoped volumes):
    // the check after step 1 stops it before anything is scaled down or deleted.
    const refusedPatches = runnable.split('\n').map((line) => (/^kubectl patch pv "\$(LIVE|RESTORED)_PV" .*Retain/.test(line) ? 'false' : line));
    expect(refusedPatches.filter((line) => line === 'false')).toHaveLength(2);
    const stopped = await runProcess('bash', ['-u', '-c', refusedPatches.join('\n')], plane.env, 120_000);
    expect(stopped.exitCode, stopped.output).not.toBe(0);
    expect(stopped.output).toContain('stop: both volumes must be Retain first');
    for (const name of ['data-postgres-0', restoredClaim.metadata.name]) expect((await plane.getJson(['pvc', name, '-n', 'postgres'])).metadata.uid).toBeDefined();
    expect((await plane.getJson(['statefulset', 'postgres', '-n', 'postgres'])).spec.replicas).toBe(1);

    const run = await runProcess('bash', ['-eu', '-o', 'pipefail', '-c', runnable], plane.env, 600_000);
    expect(run.exitCode, `${runnable}\n---\n${run.output}`).toBe(0);

    const claim = await plane.getJson(['pvc', 'data-postgres-0', '-n', 'postgres']);
    expect(claim.metadata.uid).not.toBe(oldClaim.metadata.uid);
    expect(claim.spec.volumeName).toBe(restoredPv);
    expect(claim.status.phase).toBe('Bound');
    // The labels the StatefulSet controller gives its own claims, so selectors and the verifier find it.
    expect(claim.metadata.labels).toEqual(oldClaim.metadata.labels);
    const pod = await plane.getJson(['pod', 'postgres-0', '-n', 'postgres']);
    expect(pod.spec.volumes.find((v: any) => v.name === 'data').persistentVolumeClaim.claimName).toBe('data-postgres-0');
    expect(pod.status.conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
    // The live server's own pod (archiving on, no restore init container), from an unchanged StatefulSet.
    expect(pod.spec.initContainers ?? []).toEqual([]);
    expect(pod.spec.containers[0].args).not.toContain('archive_mode=off');
    expect((await plane.getJson(['statefulset', 'postgres', '-n', 'postgres'])).spec).toEqual(liveSpec);
    const endpoints = await plane.getJson(['endpoints', 'postgres', '-n', 'postgres']);
    expect(endpoints.subsets.flatMap((s: any) => s.addresses.map((a: any) => a.targetRef.name))).toEqual(['postgres-0']);

    // The old data: kept (Retain), Released, still naming the claim it belonged to.
    const old = await plane.getJson(['pv', oldPv]);
    expect(old.spec.persistentVolumeReclaimPolicy).toBe('Retain');
    expect(old.status.phase).toBe('Released');
    expect(old.spec.claimRef).toMatchObject({ name: 'data-postgres-0', uid: oldClaim.metadata.uid });
    const restored = await plane.getJson(['pv', restoredPv]);
    expect(restored.spec.persistentVolumeReclaimPolicy).toBe('Retain');
    expect(restored.spec.claimRef).toMatchObject({ name: 'data-postgres-0', uid: claim.metadata.uid });
    expect(await restoreStatefulSets()).toEqual([]);
    const leftover = await plane.kubectl(['get', 'pvc', restoredClaim.metadata.name, '-n', 'postgres']);
    expect(leftover.stderr).toContain('NotFound');

    // The base backup of the new timeline: its pod admitted by the namespace's restricted Pod Security.
    const job = await plane.getJson(['job', `postgres-basebackup-after-restore-${stamp}`, '-n', 'postgres']);
    expect(job.metadata.annotations['cronjob.kubernetes.io/instantiate']).toBe('manual');
    const jobPods = async () => (await plane.getJson(['pods', '-n', 'postgres', '-l', `batch.kubernetes.io/job-name=${job.metadata.name}`])).items as any[];
    for (let i = 0; i < 120 && (await jobPods()).length === 0; i++) await sleep(500);
    expect((await jobPods()).map((p) => p.spec.containers[0].securityContext.runAsNonRoot)).toEqual([true]);
    const namespace = await plane.getJson(['namespace', 'postgres']);
    expect(namespace.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  }, 600_000);
});
