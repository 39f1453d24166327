import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load';
import { LearnflowStack } from '../lib/learnflow-stack';
import { BACKUP_MOUNT, SERVER_FILES_MOUNT } from '../lib/postgres/backup-layout';
import { generateSecretValues } from '../lib/postgres/secrets';
import { parseRestoreTarget, restorePlan, restoreStamp } from '../scripts/restore-plan';
import { postgresToolsForAnyUser, postgresToolsMissing } from './harness/postgres/client-tools';
import { type Credentials, PostgresEngine, requirePostgresEngine, unprivilegedIdentity } from './harness/postgres/engine';
import { JobPod, type JobResult, runAsPodUser, type SecretStore } from './harness/postgres/job-pod';
import { ClusterUnavailableError } from '../verify/cluster/cluster-reader';
import { directDataPlane } from '../verify/data-plane/data-plane';
import { runVerify } from '../verify/runner';
import { REFERENCE_DIR } from './fixtures/verify/helpers';
import { requireEngine } from './support/engines';
import { findObject, type K8sObject, runSynthCli, synthObjects, tempDir } from './support/synth';

// The restore drill (issue 11, §3) on real PostgreSQL 16: the server runs with the StatefulSet's own
// settings (archive_mode, the archive_command and pg_hba.conf from its ConfigMap), the base backup is the
// CronJob's own script, and the restore is the init container and server arguments that `npm run
// restore` plans. The only rewrite is of mount paths, to directories of this machine.

// archive_timeout through config, as an operator would set it: a 2 s loss window keeps the drill short.
// Two backups kept instead of seven, for the same reason.
const OVERRIDE = { postgres: { backup: { enabled: true, archiveTimeoutSeconds: 2, retention: 2, dump: { enabled: true } } } };
const DATABASE = 'learnflow_db';
const DATA_MOUNT = '/var/lib/postgresql/data';
const BACKUP_CLAIM = 'postgres-backup';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function ownedByPostgres(dir: string): string {
  const identity = unprivilegedIdentity();
  if (identity) fs.chownSync(dir, identity.uid, identity.gid);
  fs.chmodSync(dir, 0o700);
  return dir;
}

/** A command of a pod, run as the pod's user with the image's PATH (PostgreSQL 16's programs first). */
const runAsPod = (command: readonly string[], toolsBin: string): Promise<JobResult> =>
  runAsPodUser(command, { env: { PATH: `${toolsBin}:${process.env.PATH}`, LANG: 'C.UTF-8' }, cwd: '/' });

const canMountTmpfs = (): string | undefined => {
  const dir = tempDir('tmpfs-probe');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'mounting a small tmpfs (the full backup volume) needs root with CAP_SYS_ADMIN';
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
};

const engineReady = requirePostgresEngine('PostgreSQL backup drill') && requireEngine('PostgreSQL backup drill', postgresToolsMissing());

describe.skipIf(!engineReady)('backups and point-in-time restore on PostgreSQL 16', () => {
  let objects: K8sObject[];
  let statefulSet: K8sObject;
  let secrets: SecretStore;
  let superuser: Credentials;
  let toolsBin: string;
  const scratch: string[] = [];
  const engines: PostgresEngine[] = [];
  const tmpfsMounts: string[] = [];

  /** A directory of this machine for each mount path the manifests name. */
  interface Mounts {
    readonly files: string;
    readonly backup: string;
    readonly data?: string;
  }
  const relocate = (text: string, mounts: Mounts) =>
    text
      .replaceAll(SERVER_FILES_MOUNT, mounts.files)
      .replaceAll(BACKUP_MOUNT, mounts.backup)
      .replaceAll(DATA_MOUNT, mounts.data ?? DATA_MOUNT);

  function newDir(prefix: string): string {
    const dir = tempDir(prefix);
    scratch.push(dir);
    return dir;
  }

  /** The server's ConfigMap (archive-wal.sh, restore-data.sh, pg_hba.conf), laid out as the kubelet mounts it. */
  function serverFiles(): string {
    const dir = newDir('server-files');
    fs.chmodSync(dir, 0o755);
    const configMap = findObject(objects, 'ConfigMap', 'postgres-server-files');
    for (const [key, content] of Object.entries(configMap.data ?? {})) fs.writeFileSync(path.join(dir, key), content, { mode: 0o644 });
    return dir;
  }

  /** The StatefulSet's PostgreSQL, started with its own `-c` settings on a fresh cluster. */
  async function startPrimary(mounts: Mounts): Promise<PostgresEngine> {
    const server = statefulSet.spec.template.spec.containers[0];
    const initdbArgs = server.env.find((e: { name: string }) => e.name === 'POSTGRES_INITDB_ARGS').value.split(' ');
    const engine = await PostgresEngine.start({
      args: server.args.slice(1).map((arg: string) => relocate(arg, mounts)),
      initdbArgs,
      superuserPassword: superuser.password,
    });
    engines.push(engine);
    const migrations = await new JobPod(objects, 'migrations').run({ network: { host: '127.0.0.1', port: engine.port }, secrets });
    expect(migrations.exitCode, migrations.stderr).toBe(0);
    return engine;
  }

  const runCronJob = (component: string, engine: PostgresEngine, mounts: Mounts) =>
    new JobPod(objects, component).run({
      network: { host: '127.0.0.1', port: engine.port },
      secrets,
      claims: { [BACKUP_CLAIM]: mounts.backup },
      envOverrides: { PATH: `${toolsBin}:${process.env.PATH}` },
    });

  const sql = (engine: PostgresEngine, text: string, params: unknown[] = []) => engine.query(text, params, { ...superuser, database: DATABASE });

  /** Waits until every WAL written so far is in the archive; returns how long that took after the call (the loss window). */
  async function archivedUpToNow(engine: PostgresEngine, mounts: Mounts): Promise<number> {
    const started = Date.now();
    const [{ segment }] = await engine.query<{ segment: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment');
    while (!fs.existsSync(path.join(mounts.backup, 'wal', segment))) {
      if (Date.now() - started > 60_000) {
        const [state] = await engine.query("SELECT *, current_setting('archive_timeout') AS timeout, pg_current_wal_lsn() AS lsn FROM pg_stat_archiver");
        throw new Error(`segment ${segment} was not archived within 60 s (${JSON.stringify(state)}):\n${engine.serverLog().slice(-3000)}`);
      }
      await sleep(100);
    }
    return Date.now() - started;
  }

  /** Runs the restore plan's init container, then its server; resolves when the server has promoted. */
  async function restore(mounts: Mounts, to: string, from?: string): Promise<{ init: JobResult; engine?: PostgresEngine }> {
    const plan = restorePlan({ live: statefulSet, target: parseRestoreTarget(to, new Date()), from, stamp: restoreStamp(new Date()) });
    const data = ownedByPostgres(newDir('restored-data'));
    const at = { ...mounts, data };
    const { initContainers, containers } = plan.statefulSet.spec.template.spec;
    const init = await runAsPod(
      initContainers[0].command.map((arg: string) => relocate(arg, at)),
      toolsBin,
    );
    if (init.exitCode !== 0) return { init };
    const pgdata = relocate(containers[0].env.find((e: { name: string }) => e.name === 'PGDATA').value, at);
    const serverStarted = Date.now();
    const engine = await PostgresEngine.startOnDataDir(
      pgdata,
      containers[0].args.slice(1).map((arg: string) => relocate(arg, at)),
      superuser,
    );
    engines.push(engine);
    for (let i = 0; (await engine.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0].r; i++) {
      if (i > 600) throw new Error(`the restored server did not promote within 60 s:\n${engine.serverLog().slice(-3000)}`);
      await sleep(100);
    }
    const [{ mib }] = await engine.query<{ mib: number }>('SELECT round(sum(pg_database_size(oid)) / 1048576.0)::int AS mib FROM pg_database');
    console.log(`restore to ${to}: ${mib} MiB of databases; backup verified and copied in ${init.durationMs} ms, WAL replayed and promoted in ${Date.now() - serverStarted} ms`);
    return { init, engine };
  }

  /** `npm run verify`'s archiver check of the same manifests against the server: its status and messages. */
  let distDir: string;
  async function archiverCheck(engine: PostgresEngine): Promise<{ status: string; messages: string }> {
    const report = await runVerify({
      distDir,
      referenceDir: REFERENCE_DIR,
      live: 'auto',
      connect: () => Promise.reject(new ClusterUnavailableError('no cluster in this test')),
      openDataPlane: directDataPlane({ postgres: { host: '127.0.0.1', port: engine.port, ...superuser, database: 'postgres' } }, 10_000),
      only: ['postgres-live-archiver'],
    });
    const check = report.checks.find((c) => c.id === 'postgres-live-archiver')!;
    return { status: check.status, messages: check.results.map((r) => r.message).join('\n') };
  }

  beforeAll(() => {
    objects = synthObjects({ override: OVERRIDE });
    const configFile = path.join(newDir('config'), 'backups.json');
    fs.writeFileSync(configFile, JSON.stringify(OVERRIDE));
    distDir = path.join(newDir('dist'), 'dist');
    const synth = runSynthCli(['--config', configFile, '--out', distDir, '--quiet']);
    if (synth.status !== 0) throw new Error(synth.stderr);
    statefulSet = findObject(objects, 'StatefulSet', 'postgres');
    const contract = new LearnflowStack(loadConfig({ override: OVERRIDE })).postgres.secrets;
    secrets = Object.fromEntries(contract.all.map((secret) => [secret.name, secret.render(generateSecretValues(secret))]));
    superuser = { user: 'postgres', password: secrets[contract.superuser.name].password };
    toolsBin = postgresToolsForAnyUser();
    scratch.push(path.resolve(toolsBin, '../../..'));
  });

  afterAll(async () => {
    for (const engine of engines) await engine.stop().catch(() => undefined);
    for (const dir of tmpfsMounts) execFileSync('umount', ['-l', dir]);
    for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('restores to a time between two commits: exactly the rows committed before it, the dropped table back; then latest after the data directory is lost', async () => {
    const mounts = { files: serverFiles(), backup: ownedByPostgres(newDir('backup')) };
    const primary = await startPrimary(mounts);
    await sql(primary, 'CREATE TABLE drill (id int PRIMARY KEY, committed_before timestamptz NOT NULL DEFAULT clock_timestamp())');
    const insert = async (ids: number[]) => {
      for (const id of ids) await sql(primary, 'INSERT INTO drill (id) VALUES ($1)', [id]);
    };
    await insert([1, 2, 3]);

    const backup = await runCronJob('basebackup', primary, mounts);
    expect(backup.exitCode, `${backup.stdout}\n${backup.stderr}`).toBe(0);
    expect(backup.stdout).toMatch(/verifying \d{8}T\d{6}Z with pg_verifybackup/);
    const [backupName] = fs.readdirSync(path.join(mounts.backup, 'base'));
    expect(fs.existsSync(path.join(mounts.backup, 'base', backupName, 'backup_manifest'))).toBe(true);

    // Commits before the target; the target; commits after it, and the table dropped.
    await sleep(1_100);
    await insert([4, 5, 6]);
    await sleep(1_100);
    const target = new Date();
    await sleep(1_100);
    await insert([7, 8]);
    await sql(primary, 'DROP TABLE drill');
    const rpoMs = await archivedUpToNow(primary, mounts);
    console.log(`drill: the last commit was in the archive ${rpoMs} ms later (archive_timeout 2 s)`);

    const pitr = await restore(mounts, target.toISOString());
    expect(pitr.init.exitCode, `${pitr.init.stdout}\n${pitr.init.stderr}`).toBe(0);
    expect(pitr.init.stdout).toContain(`restoring backup ${backupName}`);
    const restored = pitr.engine!;
    const rows = await sql(restored, 'SELECT id FROM drill ORDER BY id');
    expect(rows.map((row) => row.id)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(restored.serverLog()).toMatch(/recovery stopping before commit of transaction \d+, time/);
    // The restore archived nothing: a later restore to 'latest' must follow the live server's timeline.
    expect(fs.readdirSync(path.join(mounts.backup, 'wal')).filter((name) => name.endsWith('.history'))).toEqual([]);
    await restored.stop();

    // The second drill: more writes on the live server, then its data directory is gone.
    await sql(primary, 'CREATE TABLE after_drop (id int PRIMARY KEY)');
    await sql(primary, 'INSERT INTO after_drop SELECT generate_series(1, 1000)');
    await archivedUpToNow(primary, mounts);
    await primary.stop();

    const latest = await restore(mounts, 'latest');
    expect(latest.init.exitCode, latest.init.stderr).toBe(0);
    const [{ count }] = await sql(latest.engine!, 'SELECT count(*)::int AS count FROM after_drop');
    expect(count).toBe(1000);
    const [{ drill }] = await sql(latest.engine!, "SELECT to_regclass('public.drill') IS NOT NULL AS drill");
    expect(drill).toBe(false);
    await latest.engine!.stop();
  }, 180_000);

  it('refuses a damaged backup (its checksums), a target before the oldest backup, and a data directory that holds a cluster', async () => {
    const mounts = { files: serverFiles(), backup: ownedByPostgres(newDir('backup')) };
    const before = new Date(Date.now() - 1_000).toISOString();
    const primary = await startPrimary(mounts);
    const backup = await runCronJob('basebackup', primary, mounts);
    expect(backup.exitCode, backup.stderr).toBe(0);
    await archivedUpToNow(primary, mounts);

    const early = await restore(mounts, before);
    expect(early.init.exitCode).not.toBe(0);
    expect(early.init.stderr).toMatch(/target .* is before the oldest backup's end/);

    const [name] = fs.readdirSync(path.join(mounts.backup, 'base'));
    // One byte changed, the size kept: only the manifest's checksum can tell.
    const pgVersion = path.join(mounts.backup, 'base', name, 'PG_VERSION');
    fs.writeFileSync(pgVersion, fs.readFileSync(pgVersion, 'utf8').replace('16', '17'));
    const damaged = await restore(mounts, 'latest');
    expect(damaged.init.exitCode).not.toBe(0);
    expect(damaged.init.stderr).toMatch(/backup \d{8}T\d{6}Z is damaged/);
    await primary.stop();
  }, 180_000);

  it('keeps N base backups, removes the WAL no kept backup needs, and writes a dump pg_restore reads', async () => {
    const mounts = { files: serverFiles(), backup: ownedByPostgres(newDir('backup')) };
    const primary = await startPrimary(mounts);
    const retention = Number(
      findObject(objects, 'CronJob', 'postgres-basebackup').spec.jobTemplate.spec.template.spec.containers[0].env.find(
        (e: { name: string }) => e.name === 'RETENTION',
      ).value,
    );
    for (let i = 0; i <= retention; i++) {
      // A new segment between backups: the oldest backup's first segment moves on each time.
      await primary.query('SELECT pg_switch_wal()');
      const run = await runCronJob('basebackup', primary, mounts);
      expect(run.exitCode, run.stderr).toBe(0);
      await sleep(1_000);
    }
    const kept = fs.readdirSync(path.join(mounts.backup, 'base')).sort();
    expect(kept).toHaveLength(retention);
    const firstNeeded = /START WAL LOCATION: .* \(file ([0-9A-F]{24})\)/.exec(fs.readFileSync(path.join(mounts.backup, 'base', kept[0], 'backup_label'), 'utf8'))![1];
    const segments = fs.readdirSync(path.join(mounts.backup, 'wal')).filter((name) => /^[0-9A-F]{24}$/.test(name));
    expect(segments.length).toBeGreaterThan(0);
    expect(segments.every((segment) => segment >= firstNeeded)).toBe(true);

    const dump = await runCronJob('dump', primary, mounts);
    expect(dump.exitCode, dump.stderr).toBe(0);
    const [file] = fs.readdirSync(path.join(mounts.backup, 'dump'));
    expect(file).toMatch(/^learnflow_db-\d{8}T\d{6}Z\.dump$/);
    const list = await runAsPod([path.join(toolsBin, 'pg_restore'), '--list', path.join(mounts.backup, 'dump', file)], toolsBin);
    expect(list.stdout).toMatch(/TABLE public users/);
    await primary.stop();
  }, 180_000);

  it('verify reports an archiver that cannot write, and passes once it has caught up', async () => {
    const mounts = { files: serverFiles(), backup: ownedByPostgres(newDir('backup')) };
    const primary = await startPrimary(mounts);
    await primary.query('SELECT pg_switch_wal()');
    await archivedUpToNow(primary, mounts);
    expect(await archiverCheck(primary)).toMatchObject({ status: 'pass' });
    // The archive directory taken away from the server's user: every attempt fails.
    fs.chownSync(path.join(mounts.backup, 'wal'), 0, 0);
    fs.chmodSync(path.join(mounts.backup, 'wal'), 0o755);
    await sql(primary, 'CREATE TABLE while_broken (id int)');
    await primary.query('SELECT pg_switch_wal()');
    let check = await archiverCheck(primary);
    for (let i = 0; i < 100 && check.status === 'pass'; i++) {
      await sleep(100);
      check = await archiverCheck(primary);
    }
    expect(check.status).toBe('fail');
    expect(check.messages).toContain('the WAL archiver is failing');
    ownedByPostgres(path.join(mounts.backup, 'wal'));
    await sql(primary, 'INSERT INTO while_broken VALUES (1)');
    await primary.query('SELECT pg_switch_wal()');
    await archivedUpToNow(primary, mounts);
    expect(await archiverCheck(primary)).toMatchObject({ status: 'pass' });
    await primary.stop();
  }, 180_000);

  it.skipIf(canMountTmpfs() !== undefined)('a full backup volume: the primary keeps writing, WAL stays in pg_wal, the archiver reports failures and catches up', async () => {
    const backup = ownedByPostgres(newDir('full-backup'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=100m,mode=0700', 'tmpfs', backup]);
    tmpfsMounts.push(backup);
    {
      ownedByPostgres(backup);
      const mounts = { files: serverFiles(), backup };
      const primary = await startPrimary(mounts);
      // Right after a start the checkpointer sleeps up to checkpoint_timeout before it first honours
      // archive_timeout (README, "Backups"): the migrations' WAL is switched out by hand here.
      await primary.query('SELECT pg_switch_wal()');
      await archivedUpToNow(primary, mounts);
      const filler = path.join(backup, 'filler');
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M'], { stdio: 'ignore' });
      } catch {
        // dd stops with ENOSPC: the volume is full.
      }
      // The base backup refuses to start, and says why.
      const refused = await runCronJob('basebackup', primary, mounts);
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stderr).toMatch(/the backup volume has \d+ MiB free, a base backup needs about \d+ MiB/);

      await sql(primary, 'CREATE TABLE during_full (id int PRIMARY KEY)');
      await sql(primary, 'INSERT INTO during_full SELECT generate_series(1, 500)');
      const [{ segment }] = await primary.query<{ segment: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment');
      await primary.query('SELECT pg_switch_wal()');
      let stats: { failed_count: number; last_failed_wal: string | null } = { failed_count: 0, last_failed_wal: null };
      for (let i = 0; i < 300 && stats.failed_count === 0; i++) {
        await sleep(100);
        [stats] = await primary.query('SELECT failed_count::int, last_failed_wal FROM pg_stat_archiver');
      }
      expect(stats.failed_count).toBeGreaterThan(0);
      expect(primary.serverLog()).toMatch(/archive-wal: .*(copy to .* failed|No space left on device)/);
      // Nothing lost: the segment is kept, marked ready, and the server still takes writes.
      const dataDir = (await primary.query<{ dir: string }>("SELECT current_setting('data_directory') AS dir"))[0].dir;
      expect(fs.existsSync(path.join(dataDir, 'pg_wal', 'archive_status', `${segment}.ready`))).toBe(true);
      await sql(primary, 'INSERT INTO during_full VALUES (501)');
      const failing = await archiverCheck(primary);
      expect(failing.status).toBe('fail');
      expect(failing.messages).toMatch(new RegExp(`the WAL archiver is failing: \\d+ failed attempts, the last on ${segment}`));

      // Room again: the archiver retries at its next wake-up (a new segment, or 60 s), and catches up.
      fs.rmSync(filler);
      await sql(primary, 'INSERT INTO during_full VALUES (502)');
      await primary.query('SELECT pg_switch_wal()');
      await archivedUpToNow(primary, mounts);
      expect(fs.existsSync(path.join(backup, 'wal', segment))).toBe(true);
      const [{ last }] = await primary.query<{ last: string }>('SELECT last_archived_wal AS last FROM pg_stat_archiver');
      expect(last >= segment).toBe(true);
      expect(await archiverCheck(primary)).toMatchObject({ status: 'pass' });
      await primary.stop();
    }
  }, 180_000);
});
