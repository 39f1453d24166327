import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { referenceDir } from '../lib/platform/project-files';
import { definitionRefs, KUBERNETES_KINDS, KUBERNETES_SCHEMA_VERSIONS, trimKubernetesDefinitions, UPSTREAM_SOURCES } from '../scripts/reference-sources';
import { ReferenceData } from '../verify/context';
import { SchemaValidators } from '../verify/schema/schemas';
import { ROOT, synthObjects, tempDir } from './support/synth';

const REFERENCE = referenceDir();
const reference = new ReferenceData(REFERENCE);
const definitionsText = (version: string) => fs.readFileSync(reference.kubernetesDefinitionsFile(version), 'utf8');
const definitionsOf = (text: string) => (JSON.parse(text) as { definitions: Record<string, unknown> }).definitions;

describe('trimming the Kubernetes definitions', () => {
  const kind = (group: string, version: string, name: string) => [{ group, version, kind: name }];
  const upstream = {
    definitions: {
      'a.Deployment': { 'x-kubernetes-group-version-kind': kind('apps', 'v1', 'Deployment'), properties: { spec: { $ref: '#/definitions/b.Spec' } } },
      'b.Spec': { properties: { items: { type: 'array', items: { $ref: '#/definitions/c.Item' } }, note: { description: 'naïve' } } },
      'c.Item': { properties: { $ref: { type: 'string' }, self: { $ref: '#/definitions/c.Item' } } },
      'd.Unused': { type: 'object' },
      'e.Ingress': { 'x-kubernetes-group-version-kind': kind('networking.k8s.io', 'v1', 'Ingress'), properties: { x: { $ref: '#/definitions/d.Unused' } } },
    },
  };
  const deployment = [{ apiVersion: 'apps/v1', kind: 'Deployment' }];

  it('keeps the kinds and every definition they reach through $ref, in upstream order, formatted like upstream', () => {
    const trimmed = trimKubernetesDefinitions(JSON.stringify(upstream), deployment);
    expect(Object.keys(definitionsOf(trimmed))).toEqual(['a.Deployment', 'b.Spec', 'c.Item']);
    // Two-space indents, non-ASCII escaped, no final newline: upstream's own formatting.
    expect(trimmed).toContain('\n  "definitions": {\n    "a.Deployment": {');
    expect(trimmed).toContain('"na\\u00efve"');
    expect(trimmed.endsWith('}')).toBe(true);
  });

  it('core kinds match the empty group; another group or version does not match', () => {
    const core = { definitions: { 'p.Pod': { 'x-kubernetes-group-version-kind': kind('', 'v1', 'Pod') } } };
    expect(Object.keys(definitionsOf(trimKubernetesDefinitions(JSON.stringify(core), [{ apiVersion: 'v1', kind: 'Pod' }])))).toEqual(['p.Pod']);
    expect(() => trimKubernetesDefinitions(JSON.stringify(upstream), [{ apiVersion: 'apps/v2', kind: 'Deployment' }])).toThrow('no definition for apps/v2 Deployment');
    expect(() => trimKubernetesDefinitions(JSON.stringify(upstream), [{ apiVersion: 'extensions/v1', kind: 'Ingress' }])).toThrow(/no definition/);
  });

  it('refuses a $ref that does not resolve or is not local', () => {
    const dangling = structuredClone(upstream) as any;
    delete dangling.definitions['c.Item'];
    expect(() => trimKubernetesDefinitions(JSON.stringify(dangling), deployment)).toThrow('b.Spec refers to c.Item, which is not defined');
    const remote = structuredClone(upstream) as any;
    remote.definitions['b.Spec'].properties.other = { $ref: 'https://example.com/schema.json' };
    expect(() => trimKubernetesDefinitions(JSON.stringify(remote), deployment)).toThrow('is not a local definition');
  });
});

describe('the vendored reference data', () => {
  it.each(KUBERNETES_SCHEMA_VERSIONS)('the %s definitions are trimmed and formatted: trimming them again changes no byte', (version) => {
    const text = definitionsText(version);
    expect(trimKubernetesDefinitions(text)).toBe(text);
    // Trimmed: well under upstream's 1.0-1.4 MB and 570-730 definitions.
    expect(Buffer.byteLength(text)).toBeLessThan(450_000);
    expect(Object.keys(definitionsOf(text)).length).toBeLessThan(250);
  });

  it.each(KUBERNETES_SCHEMA_VERSIONS)('every $ref of the %s definitions resolves to a definition in the file', (version) => {
    const definitions = definitionsOf(definitionsText(version));
    const refs = definitionRefs(definitions);
    expect(refs.length).toBeGreaterThan(100);
    expect([...new Set(refs.filter((ref) => !Object.hasOwn(definitions, ref)))]).toEqual([]);
  });

  it.each(KUBERNETES_SCHEMA_VERSIONS)('every kind of KUBERNETES_KINDS compiles to a validator against the %s definitions', (version) => {
    const validators = new SchemaValidators(reference.kubernetesDefinitionsFile(version), [], undefined);
    const unknown = KUBERNETES_KINDS.filter(({ apiVersion, kind }) => validators.validate({ apiVersion, kind, metadata: { name: 'x' } }) === undefined);
    expect(unknown).toEqual([]);
  });

  it('every object synth emits, in every profile and with every switch, has a schema the verifier validates it against', () => {
    const subscriptions = [{ topic: 'struggle.detected', route: '/events/struggle', appIds: ['progress-agent'] }];
    const objects = [
      ...synthObjects({ profile: 'minikube' }),
      ...synthObjects({ profile: 'production', override: { platform: { argoCdHooks: true }, dapr: { subscriptions } } }),
    ];
    const emitted = [...new Set(objects.map((object) => `${object.apiVersion} ${object.kind}`))].sort();
    expect(emitted).toEqual(expect.arrayContaining(['apps/v1 StatefulSet', 'dapr.io/v1alpha1 Component', 'dapr.io/v2alpha1 Subscription', 'cert-manager.io/v1 Certificate', 'cert-manager.io/v1 Issuer']));
    const schemas = reference.schemas();
    expect(emitted.filter((gvk) => schemas.validate(objects.find((object) => `${object.apiVersion} ${object.kind}` === gvk)!) === undefined)).toEqual([]);
    // The Kubernetes ones are kept by name, not by accident of another kind's closure.
    const kept = KUBERNETES_KINDS.map(({ apiVersion, kind }) => `${apiVersion} ${kind}`);
    expect(emitted.filter((gvk) => !gvk.startsWith('dapr.io/') && !gvk.startsWith('monitoring.coreos.com/') && !gvk.startsWith('cert-manager.io/') && !kept.includes(gvk))).toEqual([]);
  });

  it('holds exactly the files UPSTREAM_SOURCES lists, and the README names every one with its version and license', () => {
    const listed = UPSTREAM_SOURCES.flatMap((source) => source.files.map((file) => file.path));
    const present = (fs.readdirSync(REFERENCE, { recursive: true }) as string[]).filter((file) => fs.statSync(path.join(REFERENCE, file)).isFile());
    expect(present.sort()).toEqual(['README.md', ...listed].sort());
    const rows = fs.readFileSync(path.join(REFERENCE, 'README.md'), 'utf8').split('\n').filter((line) => line.startsWith('| `'));
    for (const source of UPSTREAM_SOURCES) {
      for (const file of source.files) {
        const row = rows.find((line) => line.startsWith(`| \`${file.path}\` |`));
        expect(row, file.path).toBeDefined();
        const [, upstream, version, license] = row!.split(' | ');
        expect(upstream).toContain(`${source.repository} \`${file.upstreamPath}\``);
        expect(version).toMatch(/^(v[\d.]+ \(commit [0-9a-f]{40}\)|commit [0-9a-f]{40} \(\d{4}-\d\d-\d\d\))$/);
        expect(license).toBe(`${source.license} |`);
      }
    }
  });
});

describe('npm run refresh-reference', () => {
  const git = (dir: string, ...args: string[]) => execFileSync('git', ['-C', dir, '-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], { encoding: 'utf8' }).trim();

  /** A git checkout laid out like the upstream repository, holding the vendored files (plus what `extra` adds). */
  function checkout(root: string, flag: string, tag?: string, extra: (file: string, text: string) => string = (_, text) => text): string {
    const dir = path.join(root, flag);
    for (const file of UPSTREAM_SOURCES.find((source) => source.flag === flag)!.files) {
      fs.mkdirSync(path.dirname(path.join(dir, file.upstreamPath)), { recursive: true });
      fs.writeFileSync(path.join(dir, file.upstreamPath), extra(file.path, fs.readFileSync(path.join(REFERENCE, file.path), 'utf8')));
    }
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, 'commit', '-q', '-m', 'upstream');
    if (tag) git(dir, 'tag', tag);
    return dir;
  }

  function refresh(args: readonly string[]) {
    return spawnSync(process.execPath, [path.join(ROOT, 'build', 'scripts', 'refresh-reference.js'), ...args], { cwd: ROOT, encoding: 'utf8' });
  }

  it('regenerates reference/ byte for byte from upstream checkouts: trims, removes stale files, records versions', () => {
    const root = tempDir('refresh-upstream');
    // Upstream has definitions no kept kind reaches: the refresh must leave them out again.
    const untrimmed = (file: string, text: string) => {
      if (!file.endsWith('_definitions.json')) return text;
      const parsed = JSON.parse(text) as { definitions: Record<string, unknown> };
      return JSON.stringify({ definitions: { 'io.k8s.api.example.v1.Unused': { type: 'object' }, ...parsed.definitions } }, null, 2);
    };
    const kubernetes = checkout(root, 'kubernetes', undefined, untrimmed);
    const dapr = checkout(root, 'dapr', 'v9.9.9');
    const contrib = checkout(root, 'components-contrib', 'v9.9.8');
    const out = path.join(tempDir('refresh-out'), 'reference');
    fs.cpSync(REFERENCE, out, { recursive: true });
    fs.writeFileSync(path.join(out, 'dapr-crds', 'stale.yaml'), 'stale\n');

    const result = refresh(['--kubernetes', kubernetes, '--dapr', dapr, '--components-contrib', contrib, '--out', out]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('removed dapr-crds/stale.yaml');
    for (const source of UPSTREAM_SOURCES) {
      for (const file of source.files) expect(fs.readFileSync(path.join(out, file.path), 'utf8'), file.path).toBe(fs.readFileSync(path.join(REFERENCE, file.path), 'utf8'));
    }
    expect(fs.existsSync(path.join(out, 'dapr-crds', 'stale.yaml'))).toBe(false);

    const readme = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
    expect(readme).toContain(`| \`dapr-crds/components.yaml\` | dapr/dapr \`charts/dapr/crds/components.yaml\` | v9.9.9 (commit ${git(dapr, 'rev-parse', 'HEAD')}) | Apache-2.0 |`);
    expect(readme).toContain(`| \`k8s-schema-1.28/_definitions.json\` | cdk8s-team/cdk8s \`kubernetes-schemas/v1.28.0/_definitions.json\`, trimmed | commit ${git(kubernetes, 'rev-parse', 'HEAD')} (`);
    // Only the table changed.
    const withoutTable = (text: string) => text.replace(/<!-- sources:[\s\S]*<!-- end of sources -->/, '');
    expect(withoutTable(readme)).toBe(withoutTable(fs.readFileSync(path.join(REFERENCE, 'README.md'), 'utf8')));

    // One source alone: its rows change, the others' rows stay.
    const again = refresh(['--dapr', checkout(tempDir('refresh-upstream'), 'dapr', 'v9.9.10'), '--out', out]);
    expect(again.status, again.stderr).toBe(0);
    const after = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
    expect(after).toMatch(/\| `dapr-crds\/components\.yaml` \| [^\n]* \| v9\.9\.10 \(commit /);
    expect(after).toMatch(/\| `dapr-component-metadata\/pubsub\.kafka\.yaml` \| [^\n]* \| v9\.9\.8 \(commit /);
  });

  it('refuses what is not the root of a clean git checkout, or lacks a file, and then writes nothing', () => {
    const out = path.join(tempDir('refresh-out'), 'reference');
    fs.cpSync(REFERENCE, out, { recursive: true });
    const before = fs.readFileSync(path.join(out, 'README.md'), 'utf8');

    const notGit = path.join(tempDir('refresh-plain'), 'dapr');
    fs.mkdirSync(path.join(notGit, 'charts'), { recursive: true });
    const plain = refresh(['--dapr', notGit, '--out', out]);
    expect(plain.status).toBe(2);
    expect(plain.stderr).toContain('is not the root of a git checkout');

    const dirty = checkout(tempDir('refresh-upstream'), 'dapr', 'v9.9.9');
    fs.appendFileSync(path.join(dirty, 'charts/dapr/crds/components.yaml'), '# local edit\n');
    const edited = refresh(['--dapr', dirty, '--out', out]);
    expect(edited.status).toBe(2);
    expect(edited.stderr).toContain('has local changes');

    const incomplete = checkout(tempDir('refresh-upstream'), 'components-contrib');
    git(incomplete, 'rm', '-q', 'pubsub/kafka/metadata.yaml');
    git(incomplete, 'commit', '-q', '-m', 'drop kafka');
    const missing = refresh(['--dapr', checkout(tempDir('refresh-upstream'), 'dapr', 'v9.9.9'), '--components-contrib', incomplete, '--out', out]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('has no pubsub/kafka/metadata.yaml');

    expect(refresh(['--out', out]).status).toBe(2);
    expect(fs.readFileSync(path.join(out, 'README.md'), 'utf8')).toBe(before);
    expect(spawnSync('diff', ['-r', REFERENCE, out]).status).toBe(0);
  });
});
