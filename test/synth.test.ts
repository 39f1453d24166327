import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load';
import { parseQuantity } from '../lib/config/quantity';
import { LearnflowStack } from '../lib/learnflow-stack';
import { writeDistAtomically } from '../lib/output/write-dist';
import { CONTAINER_LOG_MARGIN_MIB } from '../lib/platform/pod-security';
import { findObject, type K8sObject, ROOT, readTree, runSynthCli, synthObjects, tempDir } from './support/synth';

const CLUSTER_SCOPED = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding']);

describe('synth output', () => {
  it.each(['minikube', 'production'])('is byte-identical on re-run (%s)', (profile) => {
    const a = path.join(tempDir('det-a'), 'dist');
    const b = path.join(tempDir('det-b'), 'dist');
    expect(runSynthCli(['--profile', profile, '--out', a]).status).toBe(0);
    expect(runSynthCli(['--profile', profile, '--out', b]).status).toBe(0);
    expect(readTree(a)).toEqual(readTree(b));
  });

  it('committed dist/ equals a fresh synth (run `npm run synth` and commit dist/ if this fails)', () => {
    const fresh = path.join(tempDir('fresh'), 'dist');
    expect(runSynthCli(['--out', fresh]).status).toBe(0);
    expect(readTree(path.join(ROOT, 'dist'))).toEqual(readTree(fresh));
  });

  it('orders files for kubectl: namespaces first, only manifests and the endpoints document', () => {
    const files = new LearnflowStack(loadConfig()).synthesize();
    const names = files.map((f) => f.fileName);
    expect(names[0]).toBe('00-namespaces.yaml');
    expect([...names].filter((n) => n.endsWith('.yaml'))).toEqual([...names].filter((n) => n.endsWith('.yaml')).sort());
    for (const name of names) expect(name).toMatch(/^(\d\d-[a-z0-9-]+\.yaml|infra-endpoints\.txt)$/);
    expect(names).not.toContain('kustomization.yaml');
  });

  it('gives every object an explicit name, a namespace unless cluster-scoped, and a sync wave', () => {
    const files = new LearnflowStack(loadConfig({ profile: 'production' })).synthesize();
    let previousWave = -Infinity;
    for (const file of files.filter((f) => f.fileName.endsWith('.yaml'))) {
      const objects = (yaml.loadAll(file.content) as K8sObject[]).filter(Boolean);
      expect(objects.length, file.fileName).toBeGreaterThan(0);
      for (const object of objects) {
        expect(object.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
        if (!CLUSTER_SCOPED.has(object.kind)) expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).toBeTruthy();
        const wave = Number(object.metadata.annotations?.['argocd.argoproj.io/sync-wave']);
        expect(Number.isInteger(wave)).toBe(true);
        // File order and wave order agree, so kubectl and Argo CD apply in the same order.
        expect(wave).toBeGreaterThanOrEqual(previousWave);
        previousWave = wave;
      }
    }
  });

  it.each(['minikube', 'production'] as const)('reserves ephemeral storage for every container: its emptyDirs on disk full, plus its logs (%s)', (profile) => {
    const templates = synthObjects({ profile }).filter((o) => o.spec?.template?.spec).map((o) => [`${o.kind}/${o.metadata.name}`, o.spec.template.spec] as const);
    expect(templates.length).toBeGreaterThanOrEqual(5);
    for (const [owner, spec] of templates) {
      const emptyDirs = (spec.volumes ?? []).filter((v: any) => v.emptyDir).map((v: any) => v.emptyDir);
      // An emptyDir without a sizeLimit could fill the node's disk whatever the container's limit says.
      for (const emptyDir of emptyDirs) expect(emptyDir.sizeLimit, owner).toBeDefined();
      // Memory-backed ones (/dev/shm) count against the memory limit instead.
      const onDisk = emptyDirs.filter((e: any) => e.medium !== 'Memory').reduce((sum: number, e: any) => sum + parseQuantity(e.sizeLimit), 0);
      // Init containers (the Kafka metrics agent's copy) write only into the pod's emptyDirs, counted below.
      for (const init of spec.initContainers ?? []) expect(init.resources.requests['ephemeral-storage'], `${owner} ${init.name}`).toBe(init.resources.limits['ephemeral-storage']);
      // The first container accounts for every emptyDir of the pod; another (Kafka's readiness sidecar)
      // only for its own logs.
      const [main, ...others] = spec.containers;
      const { requests, limits } = main.resources;
      expect(requests['ephemeral-storage'], owner).toBe(limits['ephemeral-storage']);
      const limit = parseQuantity(limits['ephemeral-storage']);
      expect(limit, owner).toBeGreaterThan(onDisk);
      expect(limit - onDisk, owner).toBe(CONTAINER_LOG_MARGIN_MIB * 2 ** 20);
      for (const other of others) {
        expect(other.resources.requests['ephemeral-storage'], `${owner} ${other.name}`).toBe(`${CONTAINER_LOG_MARGIN_MIB}Mi`);
        expect(other.resources.limits['ephemeral-storage'], `${owner} ${other.name}`).toBe(`${CONTAINER_LOG_MARGIN_MIB}Mi`);
      }
    }
  });

  it.each(['minikube', 'production'] as const)('labels every object with the recommended app.kubernetes.io labels (%s)', (profile) => {
    const recommended = ['app.kubernetes.io/name', 'app.kubernetes.io/component', 'app.kubernetes.io/part-of', 'app.kubernetes.io/managed-by'];
    const objects = synthObjects({ profile });
    expect(objects.filter((o) => o.kind === 'NetworkPolicy').length).toBeGreaterThanOrEqual(5);
    for (const object of objects) {
      const labels = object.metadata.labels ?? {};
      expect(recommended.filter((key) => !labels[key]), `${object.kind}/${object.metadata.name}`).toEqual([]);
      expect(labels['app.kubernetes.io/part-of']).toBe('learnflow');
    }
  });

  it('pins every container of an image to its digest when the config gives one; the Kafka version still comes from the tag', () => {
    const kafkaImage = `apache/kafka:4.3.1@sha256:${'a1'.repeat(32)}`;
    const postgresImage = `postgres:16.13@sha256:${'b2'.repeat(32)}`;
    const objects = synthObjects({ override: { kafka: { image: kafkaImage }, postgres: { image: postgresImage } } });
    const images = objects.flatMap((o) => o.spec?.template?.spec?.containers ?? []).map((c: { image: string }) => c.image);
    expect(images.length).toBeGreaterThanOrEqual(5);
    expect(new Set(images)).toEqual(new Set([kafkaImage, postgresImage]));
    const pubsub = findObject(objects, 'Component', 'pubsub-frontend');
    expect(pubsub.spec.metadata.find((m: { name: string }) => m.name === 'version').value).toBe('4.3.1');
  });

  it('labels every namespace for Pod Security restricted', () => {
    const files = new LearnflowStack(loadConfig()).synthesize();
    const namespaces = (yaml.loadAll(files[0].content) as K8sObject[]).filter(Boolean);
    expect(namespaces.map((n) => n.metadata.name)).toEqual(['kafka', 'postgres', 'learnflow']);
    for (const ns of namespaces) {
      expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    }
  });
});

describe('atomic output', () => {
  it('replaces the whole directory: a stale file disappears', () => {
    const out = path.join(tempDir('stale'), 'dist');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, '99-stale.yaml'), 'kind: Stale\n');
    expect(runSynthCli(['--out', out]).status).toBe(0);
    expect(fs.existsSync(path.join(out, '99-stale.yaml'))).toBe(false);
    expect(fs.readdirSync(path.dirname(out))).toEqual(['dist']);
  });

  it('leaves the previous directory untouched when writing fails midway', () => {
    const out = path.join(tempDir('midway'), 'dist');
    writeDistAtomically(out, [{ fileName: 'a.yaml', content: 'a: 1\n' }]);
    expect(() =>
      writeDistAtomically(out, [
        { fileName: 'b.yaml', content: 'b: 1\n' },
        { fileName: '../escape.yaml', content: 'x\n' },
      ]),
    ).toThrow(/plain file names/);
    expect(readTree(out)).toEqual({ 'a.yaml': 'a: 1\n' });
    // No staging directory is left behind either.
    expect(fs.readdirSync(path.dirname(out))).toEqual(['dist']);
  });

  it('exits 2 and keeps dist/ when synthesis throws for a reason other than config', () => {
    const work = tempDir('throws');
    const out = path.join(work, 'dist');
    expect(runSynthCli(['--out', out]).status).toBe(0);
    const before = readTree(out);
    // A regular file where the output's parent directory should be makes the write fail.
    const blocked = path.join(work, 'file');
    fs.writeFileSync(blocked, '');
    const result = runSynthCli(['--out', path.join(blocked, 'dist')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('synth failed');
    expect(readTree(out)).toEqual(before);
  });

  it('prints --help', () => {
    const result = runSynthCli(['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('--profile');
    expect(result.stdout).toContain('--config');
  });
});
