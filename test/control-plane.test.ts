import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane, PREREQUISITE_CRD_DIRS } from './harness/control-plane/control-plane';
import { CONTROL_PLANE, locateBuild } from './harness/go-builds';
import { requireEngine } from './support/engines';
import { type K8sObject, ROOT, readDistDir, runSynthCli, tempDir } from './support/synth';

// dist/ on a real kube-apiserver 1.34 + kube-controller-manager on etcd: what no schema can show.
const SUITE = 'control-plane suite';
const built = locateBuild(CONTROL_PLANE);

function distFor(profile: 'minikube' | 'production'): string {
  if (profile === 'minikube') return path.join(ROOT, 'dist');
  const out = tempDir(`dist-${profile}`);
  const result = runSynthCli(['--quiet', '--profile', profile, '--out', out]);
  if (result.status !== 0) throw new Error(`synth --profile ${profile} failed:\n${result.stderr}`);
  return out;
}

/** A copy of dist/ with every namespace's Pod Security versions raised to `latest`. */
function withPodSecurityLatest(distDir: string): string {
  const out = tempDir('dist-pss-latest');
  for (const name of fs.readdirSync(distDir)) {
    const text = fs.readFileSync(path.join(distDir, name), 'utf8');
    fs.writeFileSync(path.join(out, name), text.replace(/(pod-security\.kubernetes\.io\/\w+-version): v1\.\d+/g, '$1: latest'));
  }
  return out;
}

/**
 * namespace/kind/name -> the object as stored, less what controllers write (status, and with it
 * resourceVersion and the status managers' entries): an apply that changes anything changes this.
 */
async function storedSpecs(plane: ControlPlane, distDir: string): Promise<Record<string, string>> {
  const specs: Record<string, string> = {};
  for (const { status: _status, metadata, ...rest } of (await plane.getJson(['-f', distDir, '--show-managed-fields'])).items) {
    const { resourceVersion: _version, managedFields, annotations, ...meta } = metadata;
    // What controllers write on their own schedule is not what an apply changed: the deployment controller
    // sets deployment.kubernetes.io/revision, the persistent-volume controller a claim's
    // volume(.beta).kubernetes.io/storage-provisioner (Updates by kube-controller-manager) some time after
    // the first apply, racing the snapshot.
    const CONTROLLER_ANNOTATION = /^(deployment\.kubernetes\.io\/revision|volume(\.beta)?\.kubernetes\.io\/|pv\.kubernetes\.io\/)/;
    const applied = Object.fromEntries(Object.entries(annotations ?? {}).filter(([key]) => !CONTROLLER_ANNOTATION.test(key)));
    const byApply = managedFields.filter((entry: { subresource?: string; manager: string }) => entry.subresource !== 'status' && entry.manager !== 'kube-controller-manager');
    // The persistent-volume controller binds a standalone claim (the backup volume's) by setting its spec.volumeName.
    const spec = rest.kind === 'PersistentVolumeClaim' ? (({ volumeName: _bound, ...unbound }) => unbound)(rest.spec ?? {}) : rest.spec;
    specs[`${metadata.namespace ?? ''}/${rest.kind}/${metadata.name}`] = JSON.stringify({ ...rest, spec, metadata: { ...meta, annotations: applied, managedFields: byApply } });
  }
  return specs;
}

// Each test starts its own control plane and installs the prerequisite CRDs: ~30 s on a quiet machine, 90 s
// measured at load average 19 on the shared 2 cores (the production dist/ also grew by the backup objects).
const PLANE_TEST_TIMEOUT_MS = 180_000;

const warnings = (stderr: string) => stderr.split('\n').filter((line) => /warning/i.test(line));

describe.skipIf(!requireEngine(SUITE, built.missing))('dist/ on a real Kubernetes control plane (kube-apiserver 1.34, etcd)', () => {
  const planes: ControlPlane[] = [];
  const start = async () => {
    const plane = await ControlPlane.start({ crdDirs: PREREQUISITE_CRD_DIRS });
    planes.push(plane);
    return plane;
  };
  const distDirs = {} as Record<'minikube' | 'production', string>;

  beforeAll(() => {
    distDirs.minikube = distFor('minikube');
    distDirs.production = distFor('production');
  });

  // Each test's control plane stops with it: seven idle API servers and controller managers would share the
  // cores and the memory with the tests that follow.
  afterEach(async () => {
    await Promise.all(planes.splice(0).map((plane) => plane.stop()));
  });

  for (const profile of ['minikube', 'production'] as const) {
    it(`${profile}: server-side apply --validate=strict succeeds without warnings, and a second apply changes nothing`, async () => {
      const plane = await start();
      const dist = distDirs[profile];
      const objects = readDistDir(dist);
      const first = await plane.kubectl(['apply', '--server-side', '--validate=strict', '--field-manager=learnflow-test', '-f', dist]);
      expect(first.exitCode, first.output).toBe(0);
      expect(warnings(first.stderr)).toEqual([]);
      const before = await storedSpecs(plane, dist);
      expect(Object.keys(before)).toHaveLength(objects.length);

      const second = await plane.kubectl(['apply', '--server-side', '--validate=strict', '--field-manager=learnflow-test', '-f', dist]);
      expect(second.exitCode, second.output).toBe(0);
      expect(await storedSpecs(plane, dist)).toEqual(before);
    }, PLANE_TEST_TIMEOUT_MS);

    it(`${profile}: a plain kubectl apply -f dist/ re-applied changes nothing, prints unchanged, and kubectl diff sees no change`, async () => {
      const plane = await start();
      const dist = distDirs[profile];
      const objects = readDistDir(dist);
      const first = await plane.kubectl(['apply', '-f', dist]);
      expect(first.exitCode, first.output).toBe(0);
      expect(warnings(first.stderr)).toEqual([]);
      const before = await storedSpecs(plane, dist);

      const second = await plane.kubectl(['apply', '-f', dist]);
      expect(second.exitCode, second.output).toBe(0);
      const lines = second.stdout.trim().split('\n');
      expect(lines).toHaveLength(objects.length);
      // kubectl always sends a PodDisruptionBudget's selector (patch strategy "replace": apimachinery's
      // strategicpatch.handleMapDiff emits such a map whole, equal or not) and so prints "configured";
      // the patch changes nothing, as the stored objects below show. Everything else must be unchanged.
      const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => `poddisruptionbudget.policy/${o.metadata.name} configured`);
      expect(lines.filter((line) => !line.endsWith(' unchanged'))).toEqual(pdbs);
      expect(await storedSpecs(plane, dist)).toEqual(before);
      // What GitOps tools and reviewers compare: the server-side dry run of dist/ against the live objects.
      const diff = await plane.kubectl(['diff', '-f', dist]);
      expect(diff.exitCode, diff.output).toBe(0);
    }, PLANE_TEST_TIMEOUT_MS);
  }

  it('Pod Security refuses a pod that breaks restricted (the check above can fail)', async () => {
    const plane = await start();
    const dist = tempDir('dist-privileged');
    for (const name of ['00-namespaces.yaml', '10-kafka.yaml']) {
      const text = fs.readFileSync(path.join(distDirs.minikube, name), 'utf8');
      fs.writeFileSync(path.join(dist, name), text.replace('allowPrivilegeEscalation: false', 'allowPrivilegeEscalation: true'));
    }
    // Server-side apply admits the StatefulSet (Pod Security judges pods, and warns about the template)...
    const applied = await plane.kubectl(['apply', '--server-side', '-f', dist]);
    expect(applied.exitCode, applied.output).toBe(0);
    expect(warnings(applied.stderr).join('\n')).toContain('allowPrivilegeEscalation != false');
    // ...and the StatefulSet controller's pod is refused.
    const deadline = Date.now() + 60_000;
    let events: string[] = [];
    while (events.length === 0 && Date.now() < deadline) {
      events = (await plane.getJson(['events', '-n', 'kafka', '--field-selector=reason=FailedCreate'])).items.map((e: any) => e.message);
      if (events.length === 0) await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    expect(events.join('\n')).toMatch(/violates PodSecurity "restricted:[^"]*": allowPrivilegeEscalation != false/);
    expect((await plane.getJson(['pods', '-n', 'kafka'])).items).toEqual([]);
  }, PLANE_TEST_TIMEOUT_MS);

  for (const profile of ['minikube', 'production'] as const) {
    it(`${profile}: Pod Security (restricted, enforce-version latest) admits the pods the controllers create from every StatefulSet and Job`, async () => {
      const plane = await start();
      const dist = withPodSecurityLatest(distDirs[profile]);
      const applied = await plane.kubectl(['apply', '--server-side', '--validate=strict', '-f', dist]);
      expect(applied.exitCode, applied.output).toBe(0);
      expect(warnings(applied.stderr)).toEqual([]);
      const objects = readDistDir(dist);
      const workloads = objects.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Job');
      expect(workloads.length).toBeGreaterThanOrEqual(5);

      const deadline = Date.now() + 60_000;
      let missing: string[] = [];
      do {
        const pods = (await plane.getJson(['pods', '--all-namespaces'])).items as K8sObject[];
        missing = workloads
          .filter((workload) => {
            const owned = pods.filter(
              (pod) => pod.metadata.namespace === workload.metadata.namespace && (pod.metadata as any).ownerReferences?.some((ref: any) => ref.kind === workload.kind && ref.name === workload.metadata.name),
            );
            return owned.length < (workload.kind === 'StatefulSet' ? workload.spec.replicas : 1);
          })
          .map((workload) => `${workload.kind}/${workload.metadata.name}`);
        if (missing.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      } while (Date.now() < deadline);
      const events = (await plane.getJson(['events', '--all-namespaces', '--field-selector=reason=FailedCreate'])).items.map((e: any) => e.message);
      expect({ missing, events }).toEqual({ missing: [], events: [] });
    }, PLANE_TEST_TIMEOUT_MS);
  }
});
