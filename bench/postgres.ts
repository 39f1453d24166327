import * as path from 'node:path';
import { loadConfig } from '../lib/config/load';
import { LearnflowStack } from '../lib/learnflow-stack';
import { generateSecretValues } from '../lib/postgres/secrets';
import { PostgresEngine, postgresEngineStatus } from '../test/harness/postgres/engine';
import { JobPod, type JobResult } from '../test/harness/postgres/job-pod';
import { readDistDir } from '../test/support/synth';
import { atMost, type Measurement, median, ROOT } from './measure';

const RUNS = 3;

/**
 * The migrations and seed Jobs from dist/, one after the other as a first install runs them, on a
 * real PostgreSQL 16: on an empty server (targets PRODUCT.md: <= 5 s) and again on the result
 * (no-op, <= 2 s). Medians of three.
 */
export async function benchPostgres(): Promise<Measurement[]> {
  const status = postgresEngineStatus();
  if (!status.available) throw new Error(`PostgreSQL 16 engine unavailable: ${status.reason}`);
  const objects = readDistDir(path.join(ROOT, 'dist'));
  const stack = new LearnflowStack(loadConfig());
  const contract = stack.postgres.secrets;
  const secrets = Object.fromEntries(contract.all.map((s) => [s.name, s.render(generateSecretValues(s))]));
  const server = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === stack.postgres.statefulSetName)!.spec.template.spec.containers[0];
  const engine = await PostgresEngine.start({ args: server.args.slice(1), superuserPassword: secrets[contract.superuser.name].password });
  const jobs = [new JobPod(objects, 'migrations'), new JobPod(objects, 'seed')];
  const install = async (): Promise<number> => {
    const start = process.hrtime.bigint();
    for (const job of jobs) {
      const result: JobResult = await job.run({ network: { host: '127.0.0.1', port: engine.port }, secrets });
      if (result.exitCode !== 0) throw new Error(`${job.job.metadata.name} failed:\n${result.stdout}\n${result.stderr}`);
    }
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  const roles = [stack.postgres.appRole, stack.postgres.daprRole, stack.postgres.ownerRole];
  try {
    const firstRuns: number[] = [];
    const noopRuns: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await engine.reset(stack.postgres.database, roles);
      firstRuns.push(await install());
      noopRuns.push(await install());
    }
    return [
      atMost('postgres: migrations + seed on an empty database', median(firstRuns), 5000),
      atMost('postgres: migrations + seed re-run (no-op)', median(noopRuns), 2000),
    ];
  } finally {
    await engine.stop();
  }
}
