import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, readTree, tempDir } from './support/synth';

// A user's clone has nothing beside it (the developer documents and data of ../shared are ours, not the
// product's): synth, the static verifier and `cdk8s import` must work from the repository alone.
describe('a copy of the repository with no sibling shared/', () => {
  let copy: string;
  const run = (command: string, args: readonly string[], cwd: string) => {
    const { KUBECONFIG: _ignored, ...env } = process.env;
    return spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...env, LEARNFLOW_VERIFY_CACHE: 'off' } });
  };

  beforeAll(() => {
    copy = path.join(tempDir('standalone'), 'learnflow-infra');
    // What a clone holds: the tracked files, and the new ones not ignored (not yet committed here).
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\0');
    for (const file of files.filter((file) => file && fs.existsSync(path.join(ROOT, file)))) {
      fs.mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, file), path.join(copy, file));
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  });

  it('is a copy without ../shared and without a build', () => {
    expect(fs.existsSync(path.join(copy, 'reference', 'README.md'))).toBe(true);
    expect(fs.existsSync(path.join(copy, '..', 'shared'))).toBe(false);
    expect(fs.existsSync(path.join(copy, 'build'))).toBe(false);
  });

  it('synthesizes the committed dist/', () => {
    const out = path.join(copy, 'synthesized');
    const synth = run(process.execPath, ['scripts/run.js', 'main', '--out', out, '--quiet'], copy);
    expect(synth.status, synth.stderr).toBe(0);
    expect(readTree(out)).toEqual(readTree(path.join(copy, 'dist')));
  });

  it('verifies dist/ offline against the vendored reference data, from another working directory', () => {
    const verify = run(process.execPath, [path.join(copy, 'scripts', 'run.js'), 'verify/main', '--offline', '--dist', path.join(copy, 'dist')], tempDir('standalone-cwd'));
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/✓ kubernetes-schema .*\n(?:.*\n)*?\s+✓ dapr-crd-schema .*\n(?:.*\n)*?\s+✓ dapr-component-metadata /);
    // The checks with nothing to judge: the default dist/ has observability off, and its Kafka does not authenticate.
    expect(verify.stdout).toMatch(/\d+ checks: \d+ passed, 0 failed, 0 warnings, 5 skipped/);
    expect(verify.stdout).toMatch(/- prometheus-operator-crd-schema .*\n\s+- no prometheus-operator objects in dist\//);
    expect(verify.stdout).toMatch(/- kafka-jobs-authenticated .*\n\s+- no Kafka StatefulSet in dist\/ whose listeners all authenticate/);
    expect(verify.stdout).toMatch(/- dapr-pubsub-authenticated .*\n\s+- no Kafka StatefulSet in dist\/ whose listeners authenticate with SASL/);
    expect(verify.stdout).toMatch(/- kafka-authorizer .*\n\s+- /);
    expect(verify.stdout).toMatch(/- kafka-acls-least-privilege .*\n\s+- /);
  });

  it('npx cdk8s import reproduces imports/ byte for byte', () => {
    const out = path.join(copy, 'imported');
    const imported = run('npx', ['cdk8s', 'import', '--output', out], copy);
    expect(imported.status, imported.stderr).toBe(0);
    expect(Object.keys(readTree(out))).toEqual([
      'cert-manager-certificate-cert-manager.io.ts',
      'cert-manager-issuer-cert-manager.io.ts',
      'dapr-component-dapr.io.ts',
      'dapr-resiliency-dapr.io.ts',
      'dapr-subscription-dapr.io.ts',
      'prometheus-podmonitor-monitoring.coreos.com.ts',
      'prometheus-rule-monitoring.coreos.com.ts',
    ]);
    expect(readTree(out)).toEqual(readTree(path.join(copy, 'imports')));
  });
});
