import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load';
import { LearnflowStack } from '../lib/learnflow-stack';
import { archiveHistoryScript } from '../scripts/restore-plan';
import { writeDaprResources } from './harness/dapr-components/resources';
import { DAPR_COMPONENTS, locateBuild } from './harness/go-builds';
import { BackupDrill, sleep } from './harness/postgres/backup-drill';
import { postgresToolsMissing } from './harness/postgres/client-tools';
import { requirePostgresEngine } from './harness/postgres/engine';
import { requireEngine } from './support/engines';
import { readDistDir } from './support/synth';

// The data plane of the restore's switch-over (README, "Restore", step 4) on real PostgreSQL 16 with Dapr's
// own state store code (components-contrib's state.postgresql v2, test/harness/dapr-components) and an
// app-like client (a node-postgres Pool as the application role), both writing without pause to the live
// server's address: a point-in-time restore runs beside it, then the live server stops and the live
// StatefulSet's server (its own settings, archiving on) starts on the restored data at the same address,
// as the switch-over's kubectl steps do behind the Service. Neither client is restarted. Counted: every
// operation before the switch and every one after it succeeds, the outage between, and what each server holds.

const SUITE = 'restore switch-over under load';
// archive_timeout 2 s through config, as in the restore drill: the target's WAL reaches the archive quickly.
const OVERRIDE = { postgres: { backup: { enabled: true, archiveTimeoutSeconds: 2 } } };
const built = locateBuild(DAPR_COMPONENTS);
const engineReady = requirePostgresEngine(SUITE) && requireEngine(SUITE, postgresToolsMissing()) && requireEngine(SUITE, built.missing);

interface Operation {
  readonly key: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly ok: boolean;
  readonly error?: string;
}

/** An app-like client: one Pool for the process's life, inserting a user every 50 ms, each bounded to 5 s (a busy machine must not fail one). */
class AppClient {
  readonly operations: Operation[] = [];
  /** Errors of idle pooled connections (the server went away): node-postgres drops those connections. */
  readonly idleErrors: string[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly pool: Pool) {
    // Without a listener, an idle connection's error would crash the process (node-postgres' documentation).
    pool.on('error', (error) => this.idleErrors.push(error.message));
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      await sleep(50);
      const key = `switch-${i}@example.com`;
      const startMs = Date.now();
      try {
        await this.pool.query("INSERT INTO users (email, password_hash, role, full_name) VALUES ($1, '$2a$10$switchover', 'student', $2)", [key, `Switch ${i}`]);
        this.operations.push({ key, startMs, endMs: Date.now(), ok: true });
      } catch (error) {
        this.operations.push({ key, startMs, endMs: Date.now(), ok: false, error: (error as Error).message });
      }
    }
  }

  async stop(): Promise<Operation[]> {
    this.stopped = true;
    await this.loop;
    await this.pool.end();
    return this.operations;
  }
}

/** The dapr-components program's state-load scenario: one initialized state store saving and reading back a key every 50 ms. */
function startStateLoad(resources: string, appId: string, namespace: string, store: string, prefix: string) {
  const child = spawn(built.path!, ['--resources-path', resources, '--app-id', appId, '--namespace', namespace, '--timeout', '10m', 'state-load', store, prefix], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    /** Closes its stdin (the stop signal); resolves with every operation it made. */
    async stop(): Promise<Operation[]> {
      child.stdin.end();
      const exitCode = await closed;
      const result = JSON.parse(stdout || '{}');
      if (exitCode !== 0 || !result.ok) throw new Error(`dapr-components state-load failed (${exitCode}): ${stdout}\n${stderr.slice(-3000)}`);
      return result.operations;
    },
  };
}

/** What the clients saw around the switch: failures before, during and after it, and the longest gap between successes. */
function summarize(operations: readonly Operation[], stoppingAt: number, acceptingAt: number) {
  const succeeded = operations.filter((op) => op.ok);
  let longestGapMs = 0;
  for (let i = 1; i < succeeded.length; i++) longestGapMs = Math.max(longestGapMs, succeeded[i].endMs - succeeded[i - 1].endMs);
  return {
    operations: operations.length,
    failedBefore: operations.filter((op) => !op.ok && op.endMs < stoppingAt).length,
    failedDuring: operations.filter((op) => !op.ok && op.endMs >= stoppingAt && op.startMs < acceptingAt).length,
    failedAfter: operations.filter((op) => !op.ok && op.startMs >= acceptingAt).length,
    succeededAfter: operations.filter((op) => op.ok && op.startMs >= acceptingAt).length,
    longestGapMs,
    firstErrors: [...new Set(operations.filter((op) => !op.ok).map((op) => op.error))].slice(0, 4),
  };
}

describe.skipIf(!engineReady)('the restore switch-over on PostgreSQL 16, with Dapr state store and app traffic', () => {
  const config = loadConfig({ override: OVERRIDE });
  const stack = new LearnflowStack(config);
  const contract = stack.postgres.secrets;
  const appId = config.dapr.appIds[0];
  const stateTable = `${config.postgres.daprSchema}.${config.dapr.stateStore.tablePrefix}state`;
  let drill: BackupDrill;

  beforeAll(() => {
    drill = new BackupDrill(OVERRIDE);
  });

  afterAll(async () => {
    await drill?.close();
  });

  it('both clients ride through: every operation before and after the switch succeeds, the restored data plus what came after', async () => {
    const mounts = drill.mounts();
    const primary = await drill.startPrimary(mounts);
    const backup = await drill.runCronJob('basebackup', primary, mounts);
    expect(backup.exitCode, backup.stderr).toBe(0);

    // The clients know the live server's address only (the Service): the Component's Secret points there.
    const toLoopback = (value: string) => value.replace(/\bhost=\S+/, 'host=127.0.0.1').replace(/\bport=\d+/, `port=${primary.port}`);
    const daprSecret = drill.secrets[contract.dapr.name];
    const resources = writeDaprResources(
      drill.newDir('dapr-resources'),
      readDistDir(drill.distDir).filter((o) => o.kind === 'Component'),
      { [contract.dapr.name]: { ...daprSecret, connectionString: toLoopback(daprSecret.connectionString) } },
    );
    const dapr = startStateLoad(resources, appId, stack.dapr.namespace, stack.dapr.stateStoreName, 'switch');
    const appSecret = drill.secrets[contract.app.name];
    const app = new AppClient(
      new Pool({ host: '127.0.0.1', port: primary.port, user: appSecret.username, password: appSecret.password, database: config.postgres.database, max: 4, connectionTimeoutMillis: 5_000, query_timeout: 5_000 }),
    );
    const keysIn = async (engine = primary) => {
      const [{ keys }] = await drill.sql(engine, `SELECT count(*)::int AS keys FROM ${stateTable}`).catch(() => [{ keys: 0 }]);
      return keys as number;
    };
    for (let i = 0; i < 600 && (await keysIn()) < 10; i++) await sleep(100);
    expect(await keysIn(), 'the state store saved nothing within 60 s').toBeGreaterThanOrEqual(10);

    // The bad moment, then more writes the restore must not bring back; its WAL reaches the archive.
    await sleep(1_000);
    const target = Date.now();
    await sleep(1_000);
    await primary.query('SELECT pg_switch_wal()');
    await drill.archivedUpToNow(primary, mounts);
    const restored = await drill.restore(mounts, new Date(target).toISOString());
    expect(restored.init.exitCode, restored.init.stderr).toBe(0);

    const { engine, stoppingAt, acceptingAt } = await drill.switchOver(primary, restored, mounts);
    await sleep(5_000);
    const daprOps = await dapr.stop();
    const appOps = await app.stop();

    const daprSummary = summarize(daprOps, stoppingAt, acceptingAt);
    const appSummary = summarize(appOps, stoppingAt, acceptingAt);
    console.log(
      `switch-over: the server was down ${acceptingAt - stoppingAt} ms (stop, start on the restored data, accepting); ` +
        `Dapr state store ${JSON.stringify(daprSummary)}; app client ${JSON.stringify(appSummary)}, idle-connection errors ${app.idleErrors.length}`,
    );
    for (const summary of [daprSummary, appSummary]) {
      expect(summary.failedBefore, JSON.stringify(summary)).toBe(0);
      expect(summary.failedAfter, JSON.stringify(summary)).toBe(0);
      // Enough traffic after the switch for "every operation succeeds" to mean something (5 s at 20/s).
      expect(summary.succeededAfter).toBeGreaterThan(20);
    }

    // The switched server: the live settings (archiving on), the data as of the target, then the new writes.
    const [{ archiveMode, inRecovery }] = await engine.query<{ archiveMode: string; inRecovery: boolean }>(
      "SELECT current_setting('archive_mode') AS \"archiveMode\", pg_is_in_recovery() AS \"inRecovery\"",
    );
    expect({ archiveMode, inRecovery }).toEqual({ archiveMode: 'on', inRecovery: false });
    const emails = new Set((await drill.sql(engine, "SELECT email FROM users WHERE email LIKE 'switch-%'")).map((row) => row.email as string));
    // Keys as daprd stores them, under the app-id prefix: the program's operations name them so.
    const keys = new Set((await drill.sql(engine, `SELECT key FROM ${stateTable}`)).map((row) => row.key as string));
    for (const [ops, stored] of [
      [appOps, emails],
      [daprOps, keys],
    ] as const) {
      const acknowledgedBeforeTarget = ops.filter((op) => op.ok && op.endMs < target);
      const afterTargetOnOldServer = ops.filter((op) => op.ok && op.startMs > target && op.endMs < stoppingAt);
      const acknowledgedAfterSwitch = ops.filter((op) => op.ok && op.startMs >= acceptingAt);
      expect(acknowledgedBeforeTarget.length).toBeGreaterThan(0);
      expect(afterTargetOnOldServer.length).toBeGreaterThan(0);
      expect(acknowledgedBeforeTarget.filter((op) => !stored.has(op.key))).toEqual([]);
      // Undone by the restore, as intended: written on the old timeline after the target.
      expect(afterTargetOnOldServer.filter((op) => stored.has(op.key))).toEqual([]);
      expect(acknowledgedAfterSwitch.filter((op) => !stored.has(op.key))).toEqual([]);
    }

    // Archiving is back: the new timeline's WAL reaches the shared archive.
    await engine.query('SELECT pg_switch_wal()');
    await drill.archivedUpToNow(engine, mounts);
    const [{ segment }] = await engine.query<{ segment: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment');
    expect(segment.slice(0, 8)).not.toBe('00000001');
    const timeline = segment.slice(0, 8);
    const archive = () => fs.readdirSync(path.join(mounts.backup, 'wal'));
    expect(archive().some((name) => name.startsWith(timeline))).toBe(true);
    // ...but not its history file: the restore promoted with archiving off, so PostgreSQL never marked it.
    // The switch-over's step 6 archives it with the live server's own archive_command.
    expect(archive()).not.toContain(`${timeline}.history`);
    const history = await drill.runInServerContainer(archiveHistoryScript(drill.statefulSet), engine, mounts, restored.dataDir!);
    expect(history.exitCode, history.stderr).toBe(0);
    expect(history.stdout.trim()).toBe(`archived ${timeline}.history`);
    expect(archive()).toContain(`${timeline}.history`);
    expect(fs.readFileSync(path.join(mounts.backup, 'wal', `${timeline}.history`), 'utf8')).toMatch(/^1\t[0-9A-F]+\/[0-9A-F]+\t/);
  }, 300_000);
});
