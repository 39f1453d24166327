import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../../lib/config/load';
import { LearnflowStack } from '../../../lib/learnflow-stack';
import { BACKUP_MOUNT, SERVER_FILES_MOUNT } from '../../../lib/postgres/backup-layout';
import { generateSecretValues } from '../../../lib/postgres/secrets';
import { parseRestoreTarget, restorePlan, restoreStamp } from '../../../scripts/restore-plan';
import { findObject, type K8sObject, runSynthCli, synthObjects, tempDir } from '../../support/synth';
import { postgresToolsForAnyUser } from './client-tools';
import { type Credentials, PostgresEngine, unprivilegedIdentity } from './engine';
import { JobPod, type JobResult, runAsPodUser, type SecretStore } from './job-pod';

// The restore drill's machinery (issue 11) on real PostgreSQL 16, shared by test/postgres-backup.test.ts
// and `npm run bench -- --only backup`: the server runs with the StatefulSet's own settings (archive_mode,
// the archive_command and pg_hba.conf from its ConfigMap), the base backup is the CronJob's own script, and
// the restore is the init container and server arguments that `npm run restore` plans. The only rewrite is
// of mount paths, to directories of this machine.

export const DRILL_DATABASE = 'learnflow_db';
const DATA_MOUNT = '/var/lib/postgresql/data';
const BACKUP_CLAIM = 'postgres-backup';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A directory the pods' user (postgres in the image) owns, mode 0700 as PostgreSQL wants its directories. */
export function ownedByPostgres(dir: string): string {
  const identity = unprivilegedIdentity();
  if (identity) fs.chownSync(dir, identity.uid, identity.gid);
  fs.chmodSync(dir, 0o700);
  return dir;
}

/** A directory of this machine for each mount path the manifests name. */
export interface Mounts {
  readonly files: string;
  readonly backup: string;
  readonly data?: string;
}

export interface Restored {
  readonly init: JobResult;
  readonly engine?: PostgresEngine;
  /** The restored cluster's data directory (PGDATA under the new data volume). */
  readonly dataDir?: string;
  /** The restored server's start until it promoted: WAL replay. */
  readonly replayMs?: number;
}

export class BackupDrill {
  readonly objects: K8sObject[];
  readonly statefulSet: K8sObject;
  readonly distDir: string;
  readonly secrets: SecretStore;
  readonly superuser: Credentials;
  readonly toolsBin: string;
  private readonly scratch: string[] = [];
  private readonly engines: PostgresEngine[] = [];

  /** The stack of `override` synthesized (objects and a dist/ directory), its Secrets generated. */
  constructor(override: object) {
    this.objects = synthObjects({ override });
    const configFile = path.join(this.newDir('config'), 'backups.json');
    fs.writeFileSync(configFile, JSON.stringify(override));
    this.distDir = path.join(this.newDir('dist'), 'dist');
    const synth = runSynthCli(['--config', configFile, '--out', this.distDir, '--quiet']);
    if (synth.status !== 0) throw new Error(synth.stderr);
    this.statefulSet = findObject(this.objects, 'StatefulSet', 'postgres');
    const contract = new LearnflowStack(loadConfig({ override })).postgres.secrets;
    this.secrets = Object.fromEntries(contract.all.map((secret) => [secret.name, secret.render(generateSecretValues(secret))]));
    this.superuser = { user: 'postgres', password: this.secrets[contract.superuser.name].password };
    this.toolsBin = postgresToolsForAnyUser();
    this.scratch.push(path.resolve(this.toolsBin, '../../..'));
  }

  newDir(prefix: string): string {
    const dir = tempDir(prefix);
    this.scratch.push(dir);
    return dir;
  }

  /** A fresh set of mounts: the server's files and an empty backup volume. */
  mounts(): Mounts {
    return { files: this.serverFiles(), backup: ownedByPostgres(this.newDir('backup')) };
  }

  /** The server's ConfigMap (archive-wal.sh, restore-data.sh, pg_hba.conf), laid out as the kubelet mounts it. */
  serverFiles(): string {
    const dir = this.newDir('server-files');
    fs.chmodSync(dir, 0o755);
    const configMap = findObject(this.objects, 'ConfigMap', 'postgres-server-files');
    for (const [key, content] of Object.entries(configMap.data ?? {})) fs.writeFileSync(path.join(dir, key), content, { mode: 0o644 });
    return dir;
  }

  /** A command of a pod, run as the pod's user with the image's PATH (PostgreSQL 16's programs first). */
  runAsPod(command: readonly string[]): Promise<JobResult> {
    return runAsPodUser(command, { env: { PATH: `${this.toolsBin}:${process.env.PATH}`, LANG: 'C.UTF-8' }, cwd: '/' });
  }

  /**
   * A bash script of the server's container, as `kubectl exec` runs it: the pod's user, its PGDATA (`dataDir`),
   * its mount paths. The one seam: psql reaches `engine` over TCP (PGHOST, PGPORT, PGPASSWORD) where the pod
   * uses its local socket.
   */
  runInServerContainer(script: string, engine: PostgresEngine, mounts: Mounts, dataDir: string): Promise<JobResult> {
    const env = { PGDATA: dataDir, PGHOST: '127.0.0.1', PGPORT: String(engine.port), PGPASSWORD: this.superuser.password };
    return runAsPodUser(['/bin/bash', '-c', relocate(script, mounts)], { env: { PATH: `${this.toolsBin}:${process.env.PATH}`, LANG: 'C.UTF-8', ...env }, cwd: '/' });
  }

  /** The StatefulSet's PostgreSQL, started with its own `-c` settings on a fresh cluster, migrated. */
  async startPrimary(mounts: Mounts): Promise<PostgresEngine> {
    const server = this.statefulSet.spec.template.spec.containers[0];
    const initdbArgs = server.env.find((e: { name: string }) => e.name === 'POSTGRES_INITDB_ARGS').value.split(' ');
    const engine = await PostgresEngine.start({
      args: server.args.slice(1).map((arg: string) => relocate(arg, mounts)),
      initdbArgs,
      superuserPassword: this.superuser.password,
    });
    this.engines.push(engine);
    const migrations = await new JobPod(this.objects, 'migrations').run({ network: { host: '127.0.0.1', port: engine.port }, secrets: this.secrets });
    if (migrations.exitCode !== 0) throw new Error(`the migrations Job failed:\n${migrations.stderr}`);
    return engine;
  }

  /** A run of the CronJob `component` (basebackup, dump) against `engine`, writing to the backup volume. */
  runCronJob(component: string, engine: PostgresEngine, mounts: Mounts): Promise<JobResult> {
    return new JobPod(this.objects, component).run({
      network: { host: '127.0.0.1', port: engine.port },
      secrets: this.secrets,
      claims: { [BACKUP_CLAIM]: mounts.backup },
      envOverrides: { PATH: `${this.toolsBin}:${process.env.PATH}` },
    });
  }

  sql<T extends Record<string, unknown> = Record<string, any>>(engine: PostgresEngine, text: string, params: unknown[] = []): Promise<T[]> {
    return engine.query<T>(text, params, { ...this.superuser, database: DRILL_DATABASE });
  }

  /** Waits until every WAL written so far is in the archive; returns how long that took after the call (the loss window). */
  async archivedUpToNow(engine: PostgresEngine, mounts: Mounts, timeoutMs = 60_000): Promise<number> {
    const started = Date.now();
    const [{ segment }] = await engine.query<{ segment: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment');
    while (!fs.existsSync(path.join(mounts.backup, 'wal', segment))) {
      if (Date.now() - started > timeoutMs) {
        const [state] = await engine.query("SELECT *, current_setting('archive_timeout') AS timeout, pg_current_wal_lsn() AS lsn FROM pg_stat_archiver");
        throw new Error(`segment ${segment} was not archived within ${timeoutMs} ms (${JSON.stringify(state)}):\n${engine.serverLog().slice(-3000)}`);
      }
      await sleep(100);
    }
    return Date.now() - started;
  }

  /** Runs the restore plan's init container, then its server; resolves when the server has promoted. */
  async restore(mounts: Mounts, to: string, from?: string): Promise<Restored> {
    const plan = restorePlan({ live: this.statefulSet, target: parseRestoreTarget(to, new Date()), from, stamp: restoreStamp(new Date()) });
    const data = ownedByPostgres(this.newDir('restored-data'));
    const at = { ...mounts, data };
    const { initContainers, containers } = plan.statefulSet.spec.template.spec;
    const init = await this.runAsPod(initContainers[0].command.map((arg: string) => relocate(arg, at)));
    if (init.exitCode !== 0) return { init };
    const pgdata = relocate(containers[0].env.find((e: { name: string }) => e.name === 'PGDATA').value, at);
    const serverStarted = Date.now();
    const engine = await PostgresEngine.startOnDataDir(
      pgdata,
      containers[0].args.slice(1).map((arg: string) => relocate(arg, at)),
      this.superuser,
    );
    this.engines.push(engine);
    for (let i = 0; (await engine.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0].r; i++) {
      if (i > 6000) throw new Error(`the restored server did not promote within 10 min:\n${engine.serverLog().slice(-3000)}`);
      await sleep(100);
    }
    const replayMs = Date.now() - serverStarted;
    const [{ mib }] = await engine.query<{ mib: number }>('SELECT round(sum(pg_database_size(oid)) / 1048576.0)::int AS mib FROM pg_database');
    console.log(`restore to ${to}: ${mib} MiB of databases; backup verified and copied in ${init.durationMs} ms, WAL replayed and promoted in ${replayMs} ms`);
    return { init, engine, replayMs, dataDir: pgdata };
  }

  /**
   * The data plane of the runbook's switch-over: the restored server stops, the live one stops (the write
   * outage begins), and the live StatefulSet's server (its own settings: archiving on, no recovery) starts on
   * the restored data directory at the live server's address, which its clients know. Resolves once it
   * accepts connections, with when the live server began stopping and when the new one accepted.
   */
  async switchOver(live: PostgresEngine, restored: Restored, mounts: Mounts): Promise<{ engine: PostgresEngine; stoppingAt: number; acceptingAt: number }> {
    if (!restored.engine || !restored.dataDir) throw new Error('the restore did not start a server');
    await restored.engine.stop();
    const server = this.statefulSet.spec.template.spec.containers[0];
    const args = server.args.slice(1).map((arg: string) => relocate(arg, mounts));
    const stoppingAt = Date.now();
    await live.stop();
    const engine = await PostgresEngine.startOnDataDir(restored.dataDir, args, this.superuser, 120_000, live.port);
    this.engines.push(engine);
    return { engine, stoppingAt, acceptingAt: Date.now() };
  }

  /** Stops every server it started and removes every directory it made. */
  async close(): Promise<void> {
    for (const engine of this.engines) await engine.stop().catch(() => undefined);
    for (const dir of this.scratch) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function relocate(text: string, mounts: Mounts): string {
  return text
    .replaceAll(SERVER_FILES_MOUNT, mounts.files)
    .replaceAll(BACKUP_MOUNT, mounts.backup)
    .replaceAll(DATA_MOUNT, mounts.data ?? DATA_MOUNT);
}
