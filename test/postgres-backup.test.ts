import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterUnavailableError } from '../verify/cluster/cluster-reader';
import { directDataPlane } from '../verify/data-plane/data-plane';
import { runVerify } from '../verify/runner';
import { REFERENCE_DIR } from './fixtures/verify/helpers';
import { BackupDrill, type Mounts, ownedByPostgres, sleep } from './harness/postgres/backup-drill';
import { postgresToolsMissing } from './harness/postgres/client-tools';
import { type PostgresEngine, requirePostgresEngine } from './harness/postgres/engine';
import { requireEngine } from './support/engines';
import { findObject, tempDir } from './support/synth';

// The restore drill (issue 11, §3) on real PostgreSQL 16 (test/harness/postgres/backup-drill.ts: the
// StatefulSet's own settings, the CronJob's own script, the restore `npm run restore` plans).

// archive_timeout through config, as an operator would set it: a 2 s loss window keeps the drill short.
// Two backups kept instead of seven, for the same reason.
const OVERRIDE = { postgres: { backup: { enabled: true, archiveTimeoutSeconds: 2, retention: 2, dump: { enabled: true } } } };

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
  let drill: BackupDrill;
  const tmpfsMounts: string[] = [];
  const startPrimary = (mounts: Mounts) => drill.startPrimary(mounts);
  const runCronJob = (component: string, engine: PostgresEngine, mounts: Mounts) => drill.runCronJob(component, engine, mounts);
  const sql = (engine: PostgresEngine, text: string, params: unknown[] = []) => drill.sql(engine, text, params);
  const archivedUpToNow = (engine: PostgresEngine, mounts: Mounts) => drill.archivedUpToNow(engine, mounts);
  const restore = (mounts: Mounts, to: string, from?: string) => drill.restore(mounts, to, from);
  const serverFiles = () => drill.serverFiles();
  const newDir = (prefix: string) => drill.newDir(prefix);

  /** `npm run verify`'s archiver check of the same manifests against the server: its status and messages. */
  async function archiverCheck(engine: PostgresEngine): Promise<{ status: string; messages: string }> {
    const report = await runVerify({
      distDir: drill.distDir,
      referenceDir: REFERENCE_DIR,
      live: 'auto',
      connect: () => Promise.reject(new ClusterUnavailableError('no cluster in this test')),
      openDataPlane: directDataPlane({ postgres: { host: '127.0.0.1', port: engine.port, ...drill.superuser, database: 'postgres' } }, 10_000),
      only: ['postgres-live-archiver'],
    });
    const check = report.checks.find((c) => c.id === 'postgres-live-archiver')!;
    return { status: check.status, messages: check.results.map((r) => r.message).join('\n') };
  }

  beforeAll(() => {
    drill = new BackupDrill(OVERRIDE);
  });

  afterAll(async () => {
    for (const dir of tmpfsMounts) execFileSync('umount', ['-l', dir]);
    await drill?.close();
  });

  it('restores to a time between two commits: exactly the rows committed before it, the dropped table back; then latest after the data directory is lost', async () => {
    const mounts = drill.mounts();
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
    const [{ present }] = await sql(latest.engine!, "SELECT to_regclass('public.drill') IS NOT NULL AS present");
    expect(present).toBe(false);
    await latest.engine!.stop();
  }, 180_000);

  it('refuses a damaged backup (its checksums), a target before the oldest backup, and a data directory that holds a cluster', async () => {
    const mounts = drill.mounts();
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
    const mounts = drill.mounts();
    const primary = await startPrimary(mounts);
    const retention = Number(
      findObject(drill.objects, 'CronJob', 'postgres-basebackup').spec.jobTemplate.spec.template.spec.containers[0].env.find(
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
    const list = await drill.runAsPod([path.join(drill.toolsBin, 'pg_restore'), '--list', path.join(mounts.backup, 'dump', file)]);
    expect(list.stdout).toMatch(/TABLE public users/);
    await primary.stop();
  }, 180_000);

  it('verify reports an archiver that cannot write, and passes once it has caught up', async () => {
    const mounts = drill.mounts();
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
