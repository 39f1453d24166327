import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../lib/exit-codes';
import { KAFKA_LIVE_CHECKS, POSTGRES_LIVE_CHECKS } from '../verify/checks';
import { ClusterUnavailableError } from '../verify/cluster/cluster-reader';
import { directDataPlane } from '../verify/data-plane/data-plane';
import type { Check } from '../verify/model';
import { formatHuman } from '../verify/report';
import { runCheck, runVerify } from '../verify/runner';
import { REFERENCE_DIR, synthesizeDist } from './fixtures/verify/helpers';
import { ROOT, tempDir } from './support/synth';

// "Could not check" is said once, where it happened, and never with a stack trace. Port 1 on loopback
// refuses connections: a real refused socket, no engine needed.
const VERIFY = path.join(ROOT, 'build', 'verify', 'main.js');
const KAFKA_IDS = KAFKA_LIVE_CHECKS.map((check) => check.id);
const POSTGRES_IDS = POSTGRES_LIVE_CHECKS.map((check) => check.id);
const STACK_FRAME = /^\s+at .+[:(]/m;

describe('verify: one connection error is reported once, never a stack trace', () => {
  let dist: string;

  beforeAll(() => {
    dist = synthesizeDist();
  });

  it('Kafka and PostgreSQL unreachable: the first check of each says why, the others point at it', async () => {
    const report = await runVerify({
      distDir: dist,
      referenceDir: REFERENCE_DIR,
      live: 'auto',
      connect: () => Promise.reject(new ClusterUnavailableError('no cluster in this test')),
      openDataPlane: directDataPlane({ kafkaBrokers: ['127.0.0.1:1'], postgres: { host: '127.0.0.1', port: 1, user: 'learnflow', password: 'pw-never-shown', database: 'learnflow_db' } }, 2_000),
      only: [...KAFKA_IDS, ...POSTGRES_IDS],
    });
    expect(report.exitCode).toBe(EXIT.couldNotCheck);
    for (const [ids, target] of [
      [KAFKA_IDS, 'Kafka 127.0.0.1:1'],
      [POSTGRES_IDS, 'PostgreSQL learnflow@127.0.0.1:1/learnflow_db'],
    ] as const) {
      const [first, ...rest] = ids.map((id) => report.checks.find((check) => check.id === id)!);
      expect(first.status).toBe('error');
      expect(first.blockedBy).toBeUndefined();
      expect(first.results[0].message).toMatch(new RegExp(`^could not check: ${target.replace(/[.]/g, '\\.')}: `));
      expect(rest.length).toBeGreaterThan(0);
      for (const check of rest) {
        expect(check.status, check.id).toBe('error');
        expect(check.blockedBy, check.id).toBe(first.id);
        expect(check.results.map((result) => result.message)).toEqual([`could not check: ${target} is unreachable (see ${first.id})`]);
      }
    }
    // The connection error itself is in the report once per target.
    const human = formatHuman(report);
    expect(human.match(/ECONNREFUSED/g)).toHaveLength(2);
    expect(human).not.toMatch(STACK_FRAME);
  });

  it('--live and no cluster: the first live check says why, the others point at it', () => {
    const { KUBECONFIG: _ignored, ...inherited } = process.env;
    const home = tempDir('verify-no-cluster');
    const result = spawnSync(process.execPath, [VERIFY, '--live', '--dist', dist, '--check', 'live-namespaces', 'live-statefulsets-ready', 'live-jobs-complete'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...inherited, HOME: home, KUBECONFIG: path.join(home, 'no-such-kubeconfig') },
    });
    expect(result.status).toBe(EXIT.couldNotCheck);
    const reasons = result.stdout.split('\n').filter((line) => /^\s+\? could not check: /.test(line));
    expect(reasons).toHaveLength(3);
    expect(reasons.slice(1)).toEqual(reasons.slice(1).map(() => '      ? could not check: the cluster could not be read (see live-namespaces)'));
    expect(reasons[0]).not.toContain('(see ');
  });

  it('a cluster-state file that is not YAML: could not check, naming the file, no stack trace', () => {
    const state = tempDir('verify-bad-state');
    fs.writeFileSync(path.join(state, 'cluster.yaml'), 'items: [\n');
    const result = spawnSync(process.execPath, [VERIFY, '--cluster-state', state, '--dist', dist, '--check', 'live-namespaces', 'live-pvcs-bound'], { cwd: ROOT, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(EXIT.couldNotCheck);
    expect(result.stdout).toContain(`could not check: cluster state file ${path.join(state, 'cluster.yaml')} cannot be read: `);
    expect(result.stdout).toContain('could not check: the cluster could not be read (see live-namespaces)');
    expect(`${result.stdout}${result.stderr}`).not.toMatch(STACK_FRAME);
  });

  it('a check that crashes is "could not check" with the error in one line, not its stack', async () => {
    const crashing: Check<unknown> = {
      id: 'crashes',
      description: 'throws',
      component: 'platform',
      remediation: '-',
      run: () => {
        throw new TypeError("Cannot read properties of undefined (reading 'spec')\nsecond line");
      },
    };
    const report = await runCheck(crashing, 'static', {});
    expect(report.status).toBe('error');
    expect(report.results.map((result) => result.message)).toEqual(["could not check: the check crashed: TypeError: Cannot read properties of undefined (reading 'spec')"]);
  });
});
