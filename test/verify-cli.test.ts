import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../lib/exit-codes';
import { byKind, containerNamed, copyDist, editObjects, healthyClusterState, synthesizeDist, writeClusterState } from './fixtures/verify/helpers';
import { ROOT, tempDir } from './support/synth';

const VERIFY = path.join(ROOT, 'build', 'verify', 'main.js');

/** The verifier as `npm run verify` runs it, with no kubeconfig unless the test provides one. */
function runVerifyCli(args: readonly string[], env: Record<string, string> = {}) {
  const { KUBECONFIG: _ignored, ...inherited } = process.env;
  const result = spawnSync(process.execPath, [VERIFY, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...inherited, HOME: tempDir('verify-cli-home'), ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

// Checks that hold on any dist/ this project synthesizes, so exit-code tests do not depend on parts
// still being written (NetworkPolicies of every namespace, Dapr Components).
const STABLE = ['--check', 'kubernetes-schema', 'kafka-quorum-voters', 'pod-security-restricted', 'kafka-topics-declared'];

describe('verify CLI: exit codes, output formats, secrets', () => {
  let dist: string;

  beforeAll(() => {
    dist = synthesizeDist();
  });

  it('--help documents the flags and the exit codes', () => {
    const { status, stdout } = runVerifyCli(['--help']);
    expect(status).toBe(0);
    for (const text of ['--offline', '--live', '--output', '--reference', '--kafka-brokers', '--postgres-url', 'Exit codes', 'could not check']) {
      expect(stdout).toContain(text);
    }
  });

  it('exit 0 on a healthy dist/, with a human table grouped by component', () => {
    const { status, stdout } = runVerifyCli(['--offline', '--dist', dist, ...STABLE]);
    expect(status).toBe(0);
    expect(stdout).toMatch(/^platform$/m);
    expect(stdout).toMatch(/^kafka$/m);
    expect(stdout).toMatch(/✓ kafka-quorum-voters/);
    expect(stdout).toMatch(/4 checks: 4 passed, 0 failed/);
  });

  it('exit 1 on findings, with ✗ and one fix line per failure', () => {
    const broken = copyDist(dist);
    editObjects(broken, byKind('StatefulSet', 'kafka'), (o) => void (containerNamed(o).image = 'apache/kafka:latest'));
    editObjects(broken, byKind('StatefulSet', 'kafka'), (o) => void (o.spec.replicas = 3));
    const { status, stdout } = runVerifyCli(['--offline', '--dist', broken, '--check', 'pod-security-restricted', 'image-pinned', 'kafka-quorum-voters']);
    expect(status).toBe(1);
    expect(stdout).toMatch(/✗ image-pinned/);
    expect(stdout).toMatch(/✗ kafka-quorum-voters/);
    const failures = stdout.split('\n').filter((line) => /^\s+✗ /.test(line) && !/^ {2}✗/.test(line));
    const fixes = stdout.split('\n').filter((line) => /^\s+fix: /.test(line));
    expect(failures.length).toBeGreaterThan(0);
    expect(fixes.length).toBe(failures.length);
  });

  it('exit 3 (invalid input), not 1 (findings) nor 2 (could not check), on a usage error', () => {
    expect(runVerifyCli(['--bogus']).status).toBe(EXIT.usage);
    expect(runVerifyCli(['--timeout', '0']).status).toBe(EXIT.usage);
  });

  it("--kafka-user without --kafka-password-file is a usage error (--live would send learnflow.verify's password as that user)", () => {
    const alone = runVerifyCli(['--offline', '--dist', dist, '--kafka-user', 'learnflow.app.frontend']);
    expect(alone.status).toBe(EXIT.usage);
    expect(alone.stderr).toContain('--kafka-user learnflow.app.frontend needs --kafka-password-file');
    // The verifier's own principal: its Secret holds the password.
    expect(runVerifyCli(['--offline', '--dist', dist, '--check', 'image-pinned', '--kafka-user', 'learnflow.verify']).status).toBe(0);
    const passwordFile = path.join(tempDir('verify-cli-password'), 'password');
    fs.writeFileSync(passwordFile, 'a-password\n', { mode: 0o600 });
    expect(runVerifyCli(['--offline', '--dist', dist, '--check', 'image-pinned', '--kafka-user', 'learnflow.app.frontend', '--kafka-password-file', passwordFile]).status).toBe(0);
  });

  it('exit 2 when dist/ does not exist', () => {
    const { status, stdout } = runVerifyCli(['--offline', '--dist', path.join(tempDir('verify-cli'), 'nothing-here')]);
    expect(status).toBe(2);
    expect(stdout).toContain('could not check');
  });

  it.each([
    ['an empty directory', () => tempDir('verify-cli-noref')],
    ['a directory that does not exist', () => path.join(tempDir('verify-cli-noref'), 'nothing-here')],
  ])('--reference naming %s: exit 2, every check that reads it could not check and names the flag, no stack trace', (_, reference) => {
    const { status, stdout, stderr } = runVerifyCli(['--offline', '--dist', dist, '--reference', reference()]);
    expect(status).toBe(2);
    const couldNotCheck = stdout.split('\n').filter((line) => /^\s+\? could not check: /.test(line));
    expect(couldNotCheck).toHaveLength(3); // kubernetes-schema, dapr-crd-schema, dapr-component-metadata
    for (const line of couldNotCheck) expect(line).toContain('pass --reference <dir>');
    expect(`${stdout}${stderr}`).not.toMatch(/^\s+at /m);
    expect(stdout).toMatch(/, 3 could not check .* exit 2$/m);
  });

  it('the default reference data is the vendored reference/, found from any working directory', () => {
    const result = spawnSync(process.execPath, [VERIFY, '--offline', '--dist', dist, '--check', 'kubernetes-schema', 'dapr-crd-schema', 'dapr-component-metadata'], {
      cwd: tempDir('verify-cli-cwd'),
      encoding: 'utf8',
      env: { ...process.env, HOME: tempDir('verify-cli-home') },
    });
    expect(result.status, result.stdout).toBe(0);
    expect(result.stdout).toMatch(/3 checks: 3 passed/);
  });

  it('--live without a reachable cluster is exit 2; without --live it falls back to offline with a notice', () => {
    const live = runVerifyCli(['--live', '--dist', dist, ...STABLE, 'live-namespaces']);
    expect(live.status).toBe(2);
    expect(live.stdout).toContain('no kubeconfig');
    const auto = runVerifyCli(['--dist', dist, ...STABLE, 'live-namespaces']);
    expect(auto.status).toBe(0);
    expect(auto.stdout).toMatch(/note: no cluster reachable, static checks only \(no kubeconfig/);
  });

  it('--output json: the whole report, parseable, with exit code and per-result objects', () => {
    const state = writeClusterState(healthyClusterState(dist));
    const { status, stdout } = runVerifyCli(['--dist', dist, '--cluster-state', state, '--output', 'json', ...STABLE, 'live-statefulsets-ready']);
    expect(status).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.exitCode).toBe(0);
    expect(report.cluster.checked).toBe(true);
    expect(report.summary).toMatchObject({ checks: 5, pass: 5, fail: 0 });
    const voters = report.checks.find((c: { id: string }) => c.id === 'kafka-quorum-voters');
    expect(voters).toMatchObject({ component: 'kafka', mode: 'static', status: 'pass' });
    expect(voters.results[0].objects[0]).toMatchObject({ kind: 'StatefulSet', namespace: 'kafka', name: 'kafka' });
    expect(report.checks.find((c: { id: string }) => c.id === 'live-statefulsets-ready').mode).toBe('live');
  });

  it('never prints the password of --postgres-url, nor secret values found in dist/', () => {
    const broken = copyDist(dist);
    editObjects(broken, byKind('StatefulSet', 'kafka'), (o) => void containerNamed(o).env.push({ name: 'ADMIN_TOKEN', value: 'hunter2-do-not-print' }));
    for (const output of ['human', 'json']) {
      const { status, stdout, stderr } = runVerifyCli(['--offline', '--dist', broken, '--output', output, '--check', 'no-secret-values', '--postgres-url', 'postgresql://learnflow:s3cr3t-pw@127.0.0.1:5432/learnflow_db']);
      expect(status).toBe(1);
      expect(stdout + stderr).not.toContain('s3cr3t-pw');
      expect(stdout + stderr).not.toContain('hunter2-do-not-print');
      expect(stdout).toContain('ADMIN_TOKEN');
      expect(stdout).toContain('learnflow:***@127.0.0.1');
    }
  });

  it('rejects unknown check ids and contradictory flags', () => {
    expect(runVerifyCli(['--offline', '--check', 'no-such-check']).status).toBe(EXIT.usage);
    expect(runVerifyCli(['--offline', '--live']).status).toBe(EXIT.usage);
  });
});
