import * as fs from 'node:fs';
import * as path from 'node:path';
import { Chart, Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load';
import { LearnflowStack } from '../lib/learnflow-stack';
import { loadMigrations } from '../lib/postgres/migrations';
import { MigrationsJob } from '../lib/postgres/migrations-job';
import { PostgresServer } from '../lib/postgres/postgres-server';
import { envOf, findObject, type K8sObject, ROOT, synthObjects } from './support/synth';

const objects = synthObjects();
const statefulSet = findObject(objects, 'StatefulSet', 'postgres');
const pod = statefulSet.spec.template.spec;
const server = pod.containers[0];
const jobOf = (all: readonly K8sObject[], component: string) =>
  all.find((o) => o.kind === 'Job' && o.metadata.labels?.['app.kubernetes.io/component'] === component)!;
/** A Job's files from Secrets: path in the container -> Secret and key. */
const secretFilesOf = (job: K8sObject) => {
  const { containers, volumes } = job.spec.template.spec;
  const files = new Map<string, { secret: string; key: string }>();
  for (const mount of containers[0].volumeMounts) {
    for (const source of volumes.find((v: any) => v.name === mount.name).projected?.sources ?? []) {
      for (const item of source.secret.items) files.set(`${mount.mountPath}/${item.path}`, { secret: source.secret.name, key: item.key });
    }
  }
  return files;
};

describe('PostgreSQL StatefulSet', () => {
  it('runs one pinned postgres 16 pod whose claim outlives it', () => {
    expect(server.image).toMatch(/^postgres:16\.\d+$/);
    expect(statefulSet.metadata.namespace).toBe('postgres');
    expect(statefulSet.spec.replicas).toBe(1);
    expect(statefulSet.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    expect(statefulSet.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('5Gi');
  });

  it('keeps PGDATA in a subdirectory of the mounted volume', () => {
    const dataMount = server.volumeMounts.find((m: { name: string }) => m.name === 'data').mountPath;
    const pgdata = envOf(server).PGDATA!;
    expect(path.posix.dirname(pgdata)).toBe(dataMount);
    expect(pgdata).not.toBe(dataMount);
  });

  it('runs restricted as the image user 999, with emptyDirs where the image writes', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, fsGroup: 999, fsGroupChangePolicy: 'OnRootMismatch' });
    expect(server.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    const emptyDirs = Object.fromEntries(pod.volumes.filter((v: any) => v.emptyDir).map((v: any) => [v.name, v.emptyDir]));
    const mounted = Object.fromEntries(server.volumeMounts.map((m: any) => [m.mountPath, m.name]));
    for (const writable of ['/var/run/postgresql', '/tmp', '/dev/shm']) expect(emptyDirs[mounted[writable]], writable).toBeDefined();
    expect(emptyDirs[mounted['/dev/shm']].medium).toBe('Memory');
    expect(pod.enableServiceLinks).toBe(false);
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it('reads the superuser password from a mounted Secret, never from a value', () => {
    const env = envOf(server);
    expect(env.POSTGRES_PASSWORD).toBeUndefined();
    const file = env.POSTGRES_PASSWORD_FILE!;
    const mount = server.volumeMounts.find((m: { mountPath: string }) => file.startsWith(`${m.mountPath}/`));
    const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
    expect(volume.secret.secretName).toBe('learnflow-postgres-superuser');
    expect(volume.secret.items).toEqual([{ key: 'password', path: path.posix.basename(file) }]);
  });

  it('probes with pg_isready on 127.0.0.1; liveness, unlike readiness, holds during recovery; fast shutdown gets at least a minute', () => {
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      const command: string = server[probe].exec.command.join(' ');
      expect(command).toMatch(/pg_isready -q -h 127\.0\.0\.1 -p 5432 /);
    }
    // Ready only when connections are accepted; alive (and started) while the postmaster answers at all:
    // pg_isready's 1, "rejecting connections", is a server in startup or crash recovery (test/postgres-probes).
    expect(server.readinessProbe.exec.command[0]).toBe('pg_isready');
    expect(server.livenessProbe.exec.command).toEqual(['/bin/sh', '-c', expect.stringMatching(/^pg_isready .*; \[ \$\? -le 1 \]$/)]);
    expect(server.startupProbe.exec).toEqual(server.livenessProbe.exec);
    expect(server.livenessProbe.exec).not.toEqual(server.readinessProbe.exec);
    // The first start (initdb) may take the startup probe's whole budget; then liveness takes over.
    expect(server.startupProbe.periodSeconds * server.startupProbe.failureThreshold).toBeGreaterThanOrEqual(300);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60);
  });

  it('passes the memory-derived settings to the server and sets resources', () => {
    expect(server.args[0]).toBe('postgres');
    expect(server.args).toEqual(expect.arrayContaining(['shared_buffers=256MB', 'effective_cache_size=768MB', 'max_connections=50']));
    expect(server.resources.limits).toEqual({ cpu: '1', memory: '1Gi', 'ephemeral-storage': '400Mi' });
    const production = findObject(synthObjects({ profile: 'production' }), 'StatefulSet', 'postgres').spec.template.spec.containers[0];
    expect(production.args).toContain('shared_buffers=1024MB');
  });

  it('has headless and client Services and a disruption budget selecting the pod', () => {
    const selector = statefulSet.spec.selector.matchLabels;
    const headless = findObject(objects, 'Service', statefulSet.spec.serviceName);
    expect(headless.spec.clusterIP).toBe('None');
    const client = findObject(objects, 'Service', 'postgres');
    expect(client.spec.type).toBe('ClusterIP');
    expect(client.spec.ports).toEqual([{ name: 'postgresql', port: 5432, targetPort: 'postgresql' }]);
    for (const service of [headless, client]) expect(service.spec.selector).toEqual(selector);
    const budget = findObject(objects, 'PodDisruptionBudget', 'postgres');
    expect(budget.spec.selector.matchLabels).toEqual(selector);
    expect(budget.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
  });

  it('exposes host, port, database and secret names to other constructs', () => {
    const stack = new LearnflowStack(loadConfig());
    expect(stack.postgres.host).toBe('postgres.postgres.svc.cluster.local');
    expect(stack.postgres.port).toBe(5432);
    expect(stack.postgres.database).toBe('learnflow_db');
    expect(stack.postgres.daprSchema).toBe('dapr_state');
    expect(stack.postgres.secrets.dapr).toMatchObject({ name: 'learnflow-postgres-dapr', namespaces: ['postgres', 'learnflow'] });
    expect(stack.postgres.secrets.dapr.keys.map((k) => k.key)).toContain('connectionString');
  });
});

describe('PostgreSQL Jobs', () => {
  const contract = new LearnflowStack(loadConfig()).postgres.secrets;
  const migrations = jobOf(objects, 'migrations');
  const seed = jobOf(objects, 'seed');

  it('ships the scripts and SQL verbatim in a ConfigMap named like the Job', () => {
    const configMap = findObject(objects, 'ConfigMap', migrations.metadata.name);
    const projected = Object.fromEntries(
      migrations.spec.template.spec.volumes[0].configMap.items.map((item: { key: string; path: string }) => [item.path, configMap.data![item.key]]),
    );
    expect(projected['migrate.sh']).toBe(fs.readFileSync(path.join(ROOT, 'lib/postgres/migrate.sh'), 'utf8'));
    expect(projected['credentials.sh']).toBe(fs.readFileSync(path.join(ROOT, 'lib/postgres/credentials.sh'), 'utf8'));
    for (const migration of loadMigrations()) expect(projected[`migrations/${migration.fileName}`]).toBe(migration.sql);
    expect(Object.keys(projected)).toHaveLength(4 + loadMigrations().length);
  });

  it('names Jobs after a hash of their content, so changed SQL is a new Job', () => {
    expect(migrations.metadata.name).toMatch(/^postgres-migrations-[0-9a-f]{10}$/);
    expect(seed.metadata.name).toMatch(/^postgres-seed-[0-9a-f]{10}$/);
    const jobName = (extraSql?: string) => {
      const chart = new Chart(Testing.app(), 'test');
      const config = loadConfig().postgres;
      const srv = new PostgresServer(chart, 'Server', { namespace: 'postgres', appsNamespace: 'learnflow', config, clusterDomain: 'cluster.local' });
      const shipped = loadMigrations();
      const extra = extraSql ? [{ version: '004', name: 'more', fileName: '004_more.sql', sql: extraSql }] : [];
      return new MigrationsJob(chart, 'Job', { server: srv, config, daprRoleConnectionLimit: 28, migrations: [...shipped, ...extra] }).jobName;
    };
    expect(jobName()).toBe(migrations.metadata.name);
    expect(jobName('SELECT 1;')).not.toBe(jobName());
    expect(jobName('SELECT 1;')).not.toBe(jobName('SELECT 2;'));
    const tunedJob = jobOf(synthObjects({ override: { postgres: { jobs: { backoffLimit: 1 } } } }), 'migrations');
    expect(tunedJob.metadata.name).not.toBe(migrations.metadata.name);
  });

  it('bounds retries, lifetime and the wait for the database', () => {
    for (const job of [migrations, seed]) {
      expect(job.spec.backoffLimit).toBe(4);
      expect(job.spec.ttlSecondsAfterFinished).toBe(86_400);
      expect(envOf(job.spec.template.spec.containers[0]).WAIT_TIMEOUT_SECONDS).toBe('300');
      expect(job.spec.template.spec.restartPolicy).toBe('Never');
      expect(job.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999 });
      expect(job.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
      expect(job.spec.template.spec.containers[0].image).toBe(server.image);
    }
    expect(envOf(seed.spec.template.spec.containers[0]).SCHEMA_VERSION).toBe(loadMigrations().at(-1)!.version);
  });

  it('mounts every password as a file from a Secret key that the contract defines, none in the environment', () => {
    const keysOf = new Map(contract.all.map((secret) => [secret.name, secret.keys.map((k) => k.key)]));
    for (const job of [migrations, seed]) {
      const { containers, volumes } = job.spec.template.spec;
      const env = envOf(containers[0]);
      expect(containers[0].env.filter((e: any) => e.valueFrom), job.metadata.name).toEqual([]);
      // No variable that manifest linters (polaris, kube-linter) take for a password with a literal value.
      expect(Object.keys(env).filter((name) => /password|secret|token/i.test(name)), job.metadata.name).toEqual([]);
      const files = secretFilesOf(job);
      expect([...files.keys()].every((file) => file.startsWith(`${env.CREDENTIALS_DIR}/`))).toBe(true);
      expect(files.get(`${env.CREDENTIALS_DIR}/login-password`), job.metadata.name).toBeDefined();
      for (const [file, { secret, key }] of files) expect(keysOf.get(secret), `${file}: ${secret}/${key}`).toContain(key);
      expect(volumes.find((v: any) => v.projected).projected.defaultMode).toBe(0o440);
      // libpq's copy (mode 0600) lives in memory, like the Secret volume it comes from.
      const pgpassDir = containers[0].volumeMounts.find((m: any) => env.PGPASSFILE!.startsWith(`${m.mountPath}/`));
      expect(volumes.find((v: any) => v.name === pgpassDir.name).emptyDir.medium).toBe('Memory');
    }
    expect([...new Set([...secretFilesOf(migrations).values()].map((file) => file.secret))]).toEqual([
      'learnflow-postgres-superuser',
      'learnflow-postgres-app',
      'learnflow-postgres-dapr',
    ]);
    // The Jobs set (migrations) or log in with (seed) the password of the login the Secret names: the role, or its
    // rotation twin (npm run secrets -- --rotate).
    const dir = envOf(migrations.spec.template.spec.containers[0]).CREDENTIALS_DIR;
    expect(secretFilesOf(migrations).get(`${dir}/app-role-username`)).toEqual({ secret: 'learnflow-postgres-app', key: 'username' });
    expect(secretFilesOf(migrations).get(`${dir}/dapr-role-username`)).toEqual({ secret: 'learnflow-postgres-dapr', key: 'username' });
    expect(secretFilesOf(seed).get(`${dir}/login-username`)).toEqual({ secret: 'learnflow-postgres-app', key: 'username' });
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  it('seeds test users only in development profiles', () => {
    const refs = (job: K8sObject) => [...secretFilesOf(job).values()].map((file) => file.secret);
    expect(refs(seed)).toContain('learnflow-postgres-seed-users');
    const productionSeed = jobOf(synthObjects({ profile: 'production' }), 'seed');
    expect(refs(productionSeed)).not.toContain('learnflow-postgres-seed-users');
    expect(envOf(productionSeed.spec.template.spec.containers[0]).SEED_TEST_USERS).toBe('false');
    const files = productionSeed.spec.template.spec.volumes[0].configMap.items.map((item: { path: string }) => item.path);
    expect(files).toEqual(['seed.sh', 'data/10_curriculum.sql', 'credentials.sh']);
  });

  it('becomes an Argo CD hook when asked', () => {
    expect(migrations.metadata.annotations?.['argocd.argoproj.io/hook']).toBeUndefined();
    const hooked = jobOf(synthObjects({ override: { platform: { argoCdHooks: true } } }), 'migrations');
    expect(hooked.metadata.annotations).toMatchObject({ 'argocd.argoproj.io/hook': 'Sync', 'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation' });
  });

  it('lists the PostgreSQL endpoint and secret contract in infra-endpoints.txt', () => {
    const endpoints = new LearnflowStack(loadConfig()).synthesize().find((f) => f.fileName === 'infra-endpoints.txt')!.content;
    expect(endpoints).toContain('host (in-cluster):  postgres.postgres.svc.cluster.local:5432');
    expect(endpoints).toContain('kubectl port-forward -n postgres svc/postgres 15432:5432');
    for (const secret of contract.all) expect(endpoints).toContain(secret.name);
    expect(endpoints).toContain('keys:    username, password, host, port, database, connectionString');
  });
});
