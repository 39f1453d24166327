import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../lib/config/load';
import { EXIT } from '../lib/exit-codes';
import { loadMigrations } from '../lib/postgres/migrations';
import { serverSettings } from '../lib/postgres/server-settings';
import { describeBadConfig } from './support/bad-config';
import { ROOT, readTree, tempDir } from './support/synth';

interface BadInput {
  readonly case: string;
  readonly postgres: unknown;
  readonly path: string;
  readonly value: string;
  readonly rule: string;
}

// One broken PostgreSQL setting each: the message names the field, shows the value and states the rule.
const BAD_INPUTS: BadInput[] = [
  { case: "storage in 'GB'", postgres: { storage: { size: '5GB' } }, path: 'postgres.storage.size', value: '5GB', rule: 'Kubernetes quantity' },
  { case: 'storage with a space', postgres: { storage: { size: '50 Gi' } }, path: 'postgres.storage.size', value: '50 Gi', rule: 'Kubernetes quantity' },
  { case: "storage in milli ('5m')", postgres: { storage: { size: '5m' } }, path: 'postgres.storage.size', value: '5m', rule: "'m' means milli" },
  { case: 'storage class not DNS-1123', postgres: { storage: { storageClassName: 'Fast_SSD' } }, path: 'postgres.storage.storageClassName', value: 'Fast_SSD', rule: 'DNS-1123' },
  { case: 'memory request above limit', postgres: { resources: { requests: { memory: '2Gi' } } }, path: 'postgres.resources.requests.memory', value: '2Gi', rule: 'must not exceed limits.memory (1Gi)' },
  { case: 'cpu request above limit', postgres: { resources: { requests: { cpu: '1500m' } } }, path: 'postgres.resources.requests.cpu', value: '1500m', rule: 'must not exceed limits.cpu' },
  { case: 'memory limit in MB', postgres: { resources: { limits: { memory: '512MB' } } }, path: 'postgres.resources.limits.memory', value: '512MB', rule: 'Kubernetes quantity' },
  { case: 'job memory in milli', postgres: { jobs: { resources: { limits: { memory: '128m' } } } }, path: 'postgres.jobs.resources.limits.memory', value: '128m', rule: "'m' means milli" },
  { case: 'database with upper case and a dash', postgres: { database: 'Learnflow-DB' }, path: 'postgres.database', value: 'Learnflow-DB', rule: 'lower-case SQL identifier' },
  { case: 'database name over 63 characters', postgres: { database: 'a'.repeat(64) }, path: 'postgres.database', value: 'aaaa', rule: 'at most 63 characters' },
  { case: "role in the reserved 'pg_' namespace", postgres: { appRole: 'pg_learnflow' }, path: 'postgres.appRole', value: 'pg_learnflow', rule: "must not start with 'pg_'" },
  { case: 'role named postgres', postgres: { appRole: 'postgres' }, path: 'postgres.appRole', value: 'postgres', rule: 'roles PostgreSQL owns' },
  { case: 'role with a quote', postgres: { daprRole: "dapr'; DROP" }, path: 'postgres.daprRole', value: 'dapr', rule: 'lower-case SQL identifier' },
  { case: 'owner role equal to the app role', postgres: { ownerRole: 'learnflow' }, path: 'postgres.ownerRole', value: 'learnflow', rule: 'must differ from postgres.appRole' },
  { case: 'app role too long for its rotation twin', postgres: { appRole: 'a'.repeat(62) }, path: 'postgres.appRole', value: 'aaaa', rule: "its rotation twin '<name>_b' must fit" },
  { case: "owner role named as the app role's rotation twin", postgres: { ownerRole: 'learnflow_b' }, path: 'postgres.ownerRole', value: 'learnflow_b', rule: "must differ from learnflow_b, postgres.appRole's rotation twin" },
  { case: "Dapr role whose twin is the backup role", postgres: { daprRole: 'dapr', backup: { role: 'dapr_b' } }, path: 'postgres.backup.role', value: 'dapr_b', rule: "must differ from dapr_b, postgres.daprRole's rotation twin" },
  { case: "Dapr schema 'public'", postgres: { daprSchema: 'public' }, path: 'postgres.daprSchema', value: 'public', rule: 'application schema' },
  { case: 'too few connections', postgres: { maxConnections: 5 }, path: 'postgres.maxConnections', value: '5', rule: 'must be >= 10' },
  { case: 'more connections than the memory limit holds', postgres: { maxConnections: 200 }, path: 'postgres.maxConnections', value: '200', rule: 'too many for resources.limits.memory 1Gi' },
  { case: 'negative backoffLimit', postgres: { jobs: { backoffLimit: -1 } }, path: 'postgres.jobs.backoffLimit', value: '-1', rule: 'must be >= 0' },
  { case: 'wait timeout too short', postgres: { jobs: { waitTimeoutSeconds: 5 } }, path: 'postgres.jobs.waitTimeoutSeconds', value: '5', rule: 'must be >= 10' },
  { case: 'image without a tag', postgres: { image: 'postgres' }, path: 'postgres.image', value: '"postgres"', rule: 'must be pinned' },
  { case: 'image tag latest', postgres: { image: 'postgres:latest' }, path: 'postgres.image', value: 'postgres:latest', rule: 'must be' },
  { case: 'unknown key', postgres: { replicas: 3 }, path: 'postgres.replicas', value: '3', rule: 'unknown key' },
];

describeBadConfig(
  'PostgreSQL configuration: bad input',
  BAD_INPUTS.map((bad) => ({ case: bad.case, profile: 'minikube', override: { postgres: bad.postgres }, path: bad.path, value: bad.value, rule: bad.rule })),
);

describe('PostgreSQL configuration: derived settings', () => {
  const settingsOf = (memory: string, maxConnections?: number) =>
    Object.fromEntries(
      serverSettings(loadConfig({ override: { postgres: { resources: { limits: { memory }, requests: { memory } }, maxConnections } } }).postgres),
    );

  it('sizes memory settings from the container limit', () => {
    // 1 Gi, 50 connections: 256 shared_buffers + 128 /dev/shm + 50 x 5 backends leave 390 MiB for 150 sorts.
    expect(settingsOf('1Gi')).toMatchObject({ shared_buffers: '256MB', effective_cache_size: '768MB', work_mem: '2MB', maintenance_work_mem: '64MB', max_connections: '50' });
    expect(settingsOf('4Gi', 200)).toMatchObject({ shared_buffers: '1024MB', effective_cache_size: '3072MB', work_mem: '2MB', max_connections: '200' });
    // maintenance_work_mem is capped, shared_buffers is not.
    expect(settingsOf('64Gi')).toMatchObject({ shared_buffers: '16384MB', maintenance_work_mem: '2048MB' });
  });

  it('keeps the production profile apart from the development one', () => {
    const production = loadConfig({ profile: 'production' });
    expect(production.development).toBe(false);
    expect(production.postgres.storage.size).toBe('50Gi');
    expect(Object.fromEntries(serverSettings(production.postgres)).shared_buffers).toBe('1024MB');
  });
});

describe('migration files', () => {
  function migrationsDir(files: Record<string, string>): string {
    const dir = tempDir('migrations');
    for (const [name, sql] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), sql);
    return dir;
  }
  const problemsOf = (files: Record<string, string>) => {
    try {
      loadMigrations(migrationsDir(files));
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).problems.map((p) => `${path.basename(p.path)}: ${p.rule}`);
    }
    throw new Error('expected the migrations to be rejected');
  };
  const sql = 'CREATE TABLE t (id int);\n';

  it('accepts the shipped migrations, numbered from 001 without gaps', () => {
    const migrations = loadMigrations();
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => String(i + 1).padStart(3, '0')));
    expect(migrations[0]).toMatchObject({ version: '001', name: 'identity', fileName: '001_identity.sql' });
  });

  it.each([
    ['a gap in the numbering', { '001_a.sql': sql, '003_c.sql': sql }, '003_c.sql: must be numbered 002'],
    ['a duplicate number', { '001_a.sql': sql, '001_b.sql': sql }, '001_b.sql: duplicates version 001 (001_a.sql)'],
    ['numbering that starts at 002', { '002_a.sql': sql }, '002_a.sql: must be numbered 001'],
    ['a two-digit number', { '01_a.sql': sql }, '01_a.sql: must be named NNN_name.sql'],
    ['a dash instead of an underscore', { '001-a.sql': sql }, '001-a.sql: must be named NNN_name.sql'],
    ['upper case in the name', { '001_Users.sql': sql }, '001_Users.sql: must be named NNN_name.sql'],
    ['a stray file', { '001_a.sql': sql, 'README.md': '# notes' }, 'README.md: must be named NNN_name.sql'],
    ['an empty migration', { '001_a.sql': '  \n' }, '001_a.sql: must not be empty'],
    ['its own transaction', { '001_a.sql': `BEGIN;\n${sql}COMMIT;\n` }, '001_a.sql: must not begin or end transactions'],
    ['no migration at all', {}, 'must contain at least 001_<name>.sql'],
  ])('rejects %s, naming the file', (_case, files, problem) => {
    expect(problemsOf(files).join('\n')).toContain(problem);
  });

  it('accepts PL/pgSQL blocks, whose BEGIN is not a transaction', () => {
    const body = 'CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$;\n';
    expect(loadMigrations(migrationsDir({ '001_f.sql': body }))).toHaveLength(1);
  });

  it('stops synth with exit 1, naming the misnumbered file, and leaves dist/ untouched', () => {
    // A copy of the project whose seed/migrations has a gap: the built CLI finds its root from its own path.
    const project = tempDir('pg-project');
    fs.cpSync(path.join(ROOT, 'build'), path.join(project, 'build'), { recursive: true });
    fs.cpSync(path.join(ROOT, 'seed'), path.join(project, 'seed'), { recursive: true });
    fs.cpSync(path.join(ROOT, 'lib'), path.join(project, 'lib'), { recursive: true, filter: (src) => !src.endsWith('.ts') });
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(project, 'package.json'));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(project, 'node_modules'));
    const run = () => spawnSync(process.execPath, [path.join(project, 'build/main.js'), '--out', 'dist'], { cwd: project, encoding: 'utf8' });
    expect(run().status, 'the copy synthesizes before the change').toBe(0);
    const distBefore = readTree(path.join(project, 'dist'));
    fs.renameSync(path.join(project, 'seed/migrations/002_curriculum.sql'), path.join(project, 'seed/migrations/004_curriculum.sql'));

    const result = run();
    expect(result.status).toBe(EXIT.usage);
    expect(result.stderr).toContain('seed/migrations/004_curriculum.sql: must be numbered 002');
    expect(result.stderr).toContain('left unchanged');
    expect(readTree(path.join(project, 'dist'))).toEqual(distBefore);
  });
});
