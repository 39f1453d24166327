import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_PORT } from '../lib/postgres/postgres-server';
import { PostgresEngine, requirePostgresEngine } from './harness/postgres/engine';
import { findObject, ROOT, readDistDir } from './support/synth';

// The StatefulSet's probe commands exactly as dist/ ships them, run against real PostgreSQL 16 servers;
// the server port is the harness's only rewrite.
const PROBES = ['startupProbe', 'readinessProbe', 'livenessProbe'] as const;
type Probe = (typeof PROBES)[number];

const container = findObject(readDistDir(path.join(ROOT, 'dist')), 'StatefulSet', 'postgres').spec.template.spec.containers[0];

/** The exit code of each probe's command against a server on this port. */
function probe(port: number): Record<Probe, number | null> {
  const run = (name: Probe) => {
    const [command, ...args]: string[] = container[name].exec.command.map((arg: string) =>
      arg.replace(new RegExp(`\\b${POSTGRES_PORT}\\b`), String(port)),
    );
    return spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 }).status;
  };
  return { startupProbe: run('startupProbe'), readinessProbe: run('readinessProbe'), livenessProbe: run('livenessProbe') };
}

describe.skipIf(!requirePostgresEngine('PostgreSQL probes suite'))("the PostgreSQL StatefulSet's probes on PostgreSQL 16", () => {
  let running: PostgresEngine;
  let recovering: PostgresEngine;

  beforeAll(async () => {
    [running, recovering] = await Promise.all([PostgresEngine.start(), PostgresEngine.startInRecovery()]);
  });

  afterAll(async () => {
    await Promise.all([running?.stop(), recovering?.stop()]);
  });

  it('every probe passes on a server that accepts connections', () => {
    expect(probe(running.port)).toEqual({ startupProbe: 0, readinessProbe: 0, livenessProbe: 0 });
  });

  it('a server in recovery is alive but not ready: liveness never restarts a recovery, however long', () => {
    // pg_isready's own verdict: 1, "rejecting connections" (as during crash recovery or startup).
    const isReady = spawnSync('pg_isready', ['-h', '127.0.0.1', '-p', String(recovering.port)], { encoding: 'utf8' });
    expect(isReady.status, isReady.stdout).toBe(1);
    expect(probe(recovering.port)).toEqual({ startupProbe: 0, readinessProbe: 1, livenessProbe: 0 });
  });

  it('every probe fails where no postmaster answers', async () => {
    const stopped = await PostgresEngine.start();
    const port = stopped.port;
    await stopped.stop();
    const results = probe(port);
    for (const name of PROBES) expect(results[name], name).not.toBe(0);
  });
});
