import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane } from './harness/control-plane/control-plane';
import { CONTROL_PLANE, locateBuild } from './harness/go-builds';
import { type ProcessResult, runProcess } from './harness/processes';
import { requireEngine } from './support/engines';
import { ROOT, runSynthCli, tempDir } from './support/synth';

// `npm run restore` against a real kube-apiserver, controllers and scheduler (kwok plays the kubelet): the
// plan is created beside the live server, Pod Security admits its pod, the StatefulSet controller makes its
// own claim, and the live StatefulSet, its claim and its Service stay exactly as they were. That the plan's
// init container and settings really restore is proven on PostgreSQL 16 (test/postgres-backup.test.ts).
const SUITE = 'npm run restore on the control plane';
const built = locateBuild(CONTROL_PLANE);

describe.skipIf(!requireEngine(SUITE, built.missing))('npm run restore on a real control plane with simulated nodes', () => {
  let plane: ControlPlane;
  let configFile: string;
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
    for (const file of ['00-namespaces.yaml', '03-network-policies-postgres.yaml', '20-postgres.yaml']) {
      await plane.kubectlOk(['apply', '--server-side', '-f', path.join(dist, file)]);
    }
    await plane.kubectlOk(['rollout', 'status', 'statefulset/postgres', '-n', 'postgres', '--timeout=120s'], { timeoutMs: 130_000 });
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
    // kwok runs no container, so the backups cannot be listed through the live pod: the init container will choose.
    expect(result.stdout).toContain('chosen by the init container');
    expect(result.stdout).toContain('kubectl -n postgres scale statefulset postgres --replicas=0');

    const [created] = await restoreStatefulSets();
    expect(created.metadata.annotations['learnflow.dev/restore-target']).toBe(`${target.replace('T', ' ').replace('Z', '')}+00:00`);
    const name = created.metadata.name;
    await plane.kubectlOk(['rollout', 'status', `statefulset/${name}`, '-n', 'postgres', '--timeout=120s'], { timeoutMs: 130_000 });
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
  });
});
