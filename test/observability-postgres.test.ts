import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load';
import { LearnflowStack } from '../lib/learnflow-stack';
import { generateSecretValues, type PostgresSecrets } from '../lib/postgres/secrets';
import { PostgresEngine, requirePostgresEngine } from './harness/postgres/engine';
import { JobPod, type SecretStore } from './harness/postgres/job-pod';
import { sleep } from './harness/processes';
import { usedMetricNames } from './observability/metric-names';
import { EXPORTER, exporterMissing } from './observability/postgres-exporter';
import { type Sample, scrape } from './observability/scrape';
import { requireEngine } from './support/engines';
import { envOf, findObject, type K8sObject, synthObjects, tempDir } from './support/synth';

const OVERRIDE = { observability: { enabled: true } };

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const value = (samples: readonly Sample[], name: string) => samples.find((s) => s.name === name)?.value;

describe.skipIf(!requirePostgresEngine('PostgreSQL metrics suite') || !requireEngine('PostgreSQL metrics suite', exporterMissing()))(
  'postgres_exporter with the monitoring role on PostgreSQL 16',
  () => {
    let engine: PostgresEngine;
    let objects: K8sObject[];
    let contract: PostgresSecrets;
    let secrets: SecretStore;
    let exporter: ChildProcess | undefined;
    let metricsUrl: string;
    const network = () => ({ host: '127.0.0.1', port: engine.port });

    beforeAll(async () => {
      objects = synthObjects({ override: OVERRIDE });
      contract = new LearnflowStack(loadConfig({ override: OVERRIDE })).postgres.secrets;
      secrets = Object.fromEntries(contract.all.map((secret) => [secret.name, secret.render(generateSecretValues(secret))]));
      const server = findObject(objects, 'StatefulSet', 'postgres').spec.template.spec.containers[0];
      engine = await PostgresEngine.start({
        args: server.args.slice(1),
        initdbArgs: envOf(server).POSTGRES_INITDB_ARGS!.split(' '),
        superuserPassword: secrets[contract.superuser.name].password,
      });
      for (const component of ['migrations', 'monitor']) {
        const result = await new JobPod(objects, component).run({ network: network(), secrets });
        expect(result.exitCode, `${component}: ${result.stdout}\n${result.stderr}`).toBe(0);
      }
      exporter = await startExporter();
    }, 300_000);

    afterAll(async () => {
      exporter?.kill('SIGKILL');
      await engine?.stop();
    });

    /** The monitoring Secret's username (the login in use), which the exporter reads from DATA_SOURCE_USER_FILE. */
    const exporterUser = () => secrets[contract.monitoring!.name].username;

    /** The Deployment's container, run as written except for the addresses: the server's and the listen port. */
    async function startExporter(): Promise<ChildProcess> {
      const deployment = findObject(objects, 'Deployment', 'postgres-exporter');
      const container = deployment.spec.template.spec.containers[0];
      const env = envOf(container);
      const image = container.image as string;
      const version = spawnSync(EXPORTER, ['--version'], { encoding: 'utf8' }).stderr + spawnSync(EXPORTER, ['--version'], { encoding: 'utf8' }).stdout;
      // The harness runs the release the image is pinned to.
      expect(version).toContain(`version ${image.split(':').pop()!.replace(/^v/, '')} `);
      const passwordFile = path.join(tempDir('exporter-secret'), 'password');
      const secretVolume = deployment.spec.template.spec.volumes.find((v: { secret?: object }) => v.secret);
      expect(env.DATA_SOURCE_PASS_FILE).toBe(`${container.volumeMounts.find((m: { name: string }) => m.name === secretVolume.name).mountPath}/password`);
      fs.writeFileSync(passwordFile, secrets[secretVolume.secret.secretName].password, { mode: 0o440 });
      const usernameFile = path.join(path.dirname(passwordFile), 'username');
      expect(env.DATA_SOURCE_USER_FILE).toBe(`${path.posix.dirname(env.DATA_SOURCE_PASS_FILE!)}/username`);
      fs.writeFileSync(usernameFile, exporterUser(), { mode: 0o440 });
      const port = await freePort();
      metricsUrl = `http://127.0.0.1:${port}/metrics`;
      const [, rest] = /^[^/]+(\/.*)$/.exec(env.DATA_SOURCE_URI!)!;
      const args = (container.args as string[]).map((arg) => (arg.startsWith('--web.listen-address=') ? `--web.listen-address=127.0.0.1:${port}` : arg));
      const child = spawn(EXPORTER, args, {
        env: { PATH: process.env.PATH, DATA_SOURCE_URI: `127.0.0.1:${engine.port}${rest}`, DATA_SOURCE_USER_FILE: usernameFile, DATA_SOURCE_PASS_FILE: passwordFile },
        stdio: 'ignore',
      });
      for (let attempt = 0; attempt < 50; attempt++) {
        if (await scrape(metricsUrl, 2_000).then(() => true, () => false)) return child;
        await sleep(200);
      }
      throw new Error('postgres_exporter did not answer');
    }

    it('logs in as a pg_monitor member that can read no table', async () => {
      const role = exporterUser();
      const [membership] = await engine.query<{ monitor: boolean; superuser: boolean; limit: number }>(
        "SELECT pg_has_role($1, 'pg_monitor', 'USAGE') AS monitor, rolsuper AS superuser, rolconnlimit AS limit FROM pg_roles WHERE rolname = $1",
        [role],
      );
      expect(membership).toEqual({ monitor: true, superuser: false, limit: 3 });
      const credentials = { user: role, password: secrets[contract.monitoring!.name].password };
      // Not even a connection to the application database, let alone its tables.
      await expect(engine.query('SELECT 1', [], { ...credentials, database: 'learnflow_db' })).rejects.toThrow(/permission denied for database/);
      // What pg_monitor is for: other roles' sessions in pg_stat_activity, with their queries (without it,
      // another role's query reads '<insufficient privilege>').
      const busy = engine.query('SELECT pg_sleep(2) AS learnflow_probe');
      await sleep(500);
      const seen = await engine.query<{ query: string }>("SELECT query FROM pg_stat_activity WHERE usename = 'postgres' AND query LIKE '%pg_sleep(2)%'", [], {
        ...credentials,
        database: 'postgres',
      });
      await busy;
      expect(seen.map((row) => row.query)).toContain('SELECT pg_sleep(2) AS learnflow_probe');
      await expect(engine.query('CREATE TABLE t (x int)', [], { ...credentials, database: 'postgres' })).rejects.toThrow(/permission denied/);
    });

    it('the monitoring-role Job is idempotent', async () => {
      const again = await new JobPod(objects, 'monitor').run({ network: network(), secrets });
      expect(again.exitCode, again.stderr).toBe(0);
    });

    it('every pg_* metric an alert or dashboard uses is in a real scrape, with the server values', async () => {
      const { samples, durationMs } = await scrape(metricsUrl);
      console.log(`postgres_exporter scrape: ${durationMs.toFixed(0)} ms, ${samples.length} samples`);
      const used = [...usedMetricNames(synthObjects({ profile: 'production' })).keys()].filter((name) => name.startsWith('pg_'));
      expect(used.length).toBeGreaterThan(4);
      const names = new Set(samples.map((s) => s.name));
      expect(used.filter((name) => !names.has(name))).toEqual([]);
      expect(value(samples, 'pg_up')).toBe(1);
      const [{ max_connections }] = await engine.query<{ max_connections: string }>('SHOW max_connections');
      expect(value(samples, 'pg_settings_max_connections')).toBe(Number(max_connections));
      expect(samples.some((s) => s.name === 'pg_database_size_bytes' && s.labels.datname === 'learnflow_db')).toBe(true);
    });

    it('a stopped server turns pg_up to 0, as PostgresDown expects', async () => {
      await engine.stop();
      const { samples } = await scrape(metricsUrl);
      expect(value(samples, 'pg_up')).toBe(0);
    });
  },
);
