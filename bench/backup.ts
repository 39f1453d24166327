import { loadConfig } from '../lib/config/load';
import { BackupDrill, sleep } from '../test/harness/postgres/backup-drill';
import { atMost, type Measurement } from './measure';

// Backups on real PostgreSQL 16 with the production settings of archiving (PRODUCT.md: RPO <= archive_timeout,
// the restore time of a 1 GB database recorded): the drill's server, CronJob and restore
// (test/harness/postgres/backup-drill.ts).
const OVERRIDE = { postgres: { backup: { enabled: true } } };
const RPO_SAMPLES = 3;
// About 1 GiB of table: 1,050,000 rows of 960 characters and their tuple headers.
const ROWS = 1_050_000;

export async function benchBackup(): Promise<Measurement[]> {
  const archiveTimeoutMs = loadConfig({ override: OVERRIDE }).postgres.backup.archiveTimeoutSeconds * 1000;
  const drill = new BackupDrill(OVERRIDE);
  try {
    const mounts = drill.mounts();
    const primary = await drill.startPrimary(mounts);
    // Right after a start the checkpointer sleeps up to checkpoint_timeout before it first honours
    // archive_timeout (README, "Backups"): a CHECKPOINT wakes it, and it times its next sleep by both.
    await primary.query('CHECKPOINT');
    await primary.query('SELECT pg_switch_wal()');
    await drill.archivedUpToNow(primary, mounts);

    // RPO: a commit at a moment unrelated to the segment's start, then how long until its segment is archived.
    await drill.sql(primary, 'CREATE TABLE rpo (id int PRIMARY KEY)');
    const rpoMs: number[] = [];
    for (let i = 0; i < RPO_SAMPLES; i++) {
      await sleep(Math.random() * archiveTimeoutMs);
      await drill.sql(primary, 'INSERT INTO rpo VALUES ($1)', [i]);
      rpoMs.push(await drill.archivedUpToNow(primary, mounts, 2 * archiveTimeoutMs + 30_000));
    }

    const loadStarted = Date.now();
    await drill.sql(primary, `CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 30) AS body FROM generate_series(1, ${ROWS}) g`);
    const [{ mib }] = await drill.sql<{ mib: number }>(primary, "SELECT round(pg_database_size('learnflow_db') / 1048576.0)::int AS mib");
    const loadMs = Date.now() - loadStarted;
    const backupStarted = Date.now();
    const backup = await drill.runCronJob('basebackup', primary, mounts);
    if (backup.exitCode !== 0) throw new Error(`the base backup failed:\n${backup.stderr}`);
    const backupMs = Date.now() - backupStarted;
    await drill.sql(primary, 'INSERT INTO rpo VALUES (-1)');
    await primary.query('SELECT pg_switch_wal()');
    await drill.archivedUpToNow(primary, mounts);
    await primary.stop();

    const restored = await drill.restore(mounts, 'latest');
    if (!restored.engine) throw new Error(`the restore failed:\n${restored.init.stderr}`);
    const [{ rows }] = await drill.sql<{ rows: number }>(restored.engine, 'SELECT count(*)::int AS rows FROM big');
    if (rows !== ROWS) throw new Error(`the restore holds ${rows} rows of ${ROWS}`);
    const restoreMs = restored.init.durationMs + (restored.replayMs ?? 0);
    process.stderr.write(
      `backup: RPO samples ${rpoMs.map((ms) => ms.toFixed(0)).join(', ')} ms (archive_timeout ${archiveTimeoutMs} ms); ` +
        `${mib} MiB database written in ${loadMs} ms, base backup (with pg_verifybackup) ${backupMs} ms; ` +
        `restore ${restoreMs} ms (backup verified and copied ${restored.init.durationMs} ms, WAL replay and promotion ${restored.replayMs} ms)\n`,
    );
    return [
      atMost('backup: RPO, a commit to its WAL segment in the archive (worst of 3)', Math.max(...rpoMs), archiveTimeoutMs),
      atMost('backup: base backup of a 1 GiB database, pg_verifybackup included', backupMs, 600_000),
      atMost('backup: restore of a 1 GiB database to latest (verify, copy, replay, promote)', restoreMs, 600_000),
    ];
  } finally {
    await drill.close();
  }
}
