import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigResourceTypes, type ITopicConfig } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KAFKA_LIVE_CHECKS, POSTGRES_LIVE_CHECKS } from '../verify/checks';
import { ClusterUnavailableError } from '../verify/cluster/cluster-reader';
import { directDataPlane } from '../verify/data-plane/data-plane';
import { parsePortForwards } from '../verify/data-plane/endpoints-document';
import { appRoleOf } from '../verify/data-plane/port-forward';
import { type PostgresConnection, parsePostgresUrl } from '../verify/data-plane/postgres-target';
import { loadDist } from '../verify/dist';
import { parseTopicsConf } from '../verify/kafka-topics';
import { runVerify, type VerifyReport } from '../verify/runner';
import { REFERENCE_DIR } from './fixtures/verify/helpers';
import { liveCliEnv, refused, runVerifyCli, serveSecretApi } from './fixtures/verify/live-cli';
import { distTopicsConf, withAdmin } from './harness/kafka/client';
import { DIST_DIR, LoopbackStack, loopbackEnginesAvailable } from './harness/loopback-stack';
import { ROOT, tempDir } from './support/synth';

const KAFKA_IDS = KAFKA_LIVE_CHECKS.map((check) => check.id);
const POSTGRES_IDS = POSTGRES_LIVE_CHECKS.map((check) => check.id);
const VERIFY_CLI = path.join(ROOT, 'build', 'verify', 'main.js');

/** The data-plane checks of the repository's dist/ against the given targets, as `npm run verify` runs them. */
function verifyDataPlane(targets: { kafkaBrokers?: string[]; postgres?: PostgresConnection }, only = [...KAFKA_IDS, ...POSTGRES_IDS], timeoutMs = 10_000): Promise<VerifyReport> {
  return runVerify({
    distDir: DIST_DIR,
    referenceDir: REFERENCE_DIR,
    live: 'auto',
    connect: () => Promise.reject(new ClusterUnavailableError('no cluster in this test')),
    openDataPlane: directDataPlane(targets, timeoutMs),
    only,
  });
}

const failed = (report: VerifyReport) => report.checks.filter((check) => check.status === 'fail' || check.status === 'error').map((check) => check.id);
const messagesOf = (report: VerifyReport, id: string) =>
  report.checks
    .find((check) => check.id === id)!
    .results.filter((result) => result.status === 'fail' || result.status === 'error')
    .map((result) => result.message)
    .join('\n');

describe.skipIf(!loopbackEnginesAvailable('verify data-plane suite'))('verify: Kafka and PostgreSQL data-plane checks on the real engines', () => {
  let stack: LoopbackStack;
  let declared: Map<string, ITopicConfig>;

  const kafkaOnly = (only = KAFKA_IDS) => verifyDataPlane({ kafkaBrokers: stack.kafkaBrokers }, only);
  const postgresOnly = (only = POSTGRES_IDS) => verifyDataPlane({ postgres: stack.appConnection }, only);

  /** Deletes a topic and waits until the brokers no longer list it (deletion is asynchronous). */
  async function deleteTopic(topic: string): Promise<void> {
    await withAdmin(stack.kafkaBrokers, async (admin) => {
      await admin.deleteTopics({ topics: [topic], timeout: 10_000 });
      for (let attempt = 0; (await admin.listTopics()).includes(topic); attempt++) {
        if (attempt > 100) throw new Error(`${topic} still listed 10 s after its deletion`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
  }

  /** Creates a topic as topics.conf declares it, with `partitions` overridden. */
  async function createTopic(topic: string, partitions = declared.get(topic)!.numPartitions): Promise<void> {
    await withAdmin(stack.kafkaBrokers, (admin) => admin.createTopics({ topics: [{ ...declared.get(topic)!, numPartitions: partitions }], waitForLeaders: true }));
  }

  beforeAll(async () => {
    stack = await LoopbackStack.start();
    declared = new Map(
      parseTopicsConf(distTopicsConf(stack.kafka)).topics.map((topic) => [
        topic.name,
        {
          topic: topic.name,
          numPartitions: topic.partitions,
          replicationFactor: topic.replicationFactor,
          configEntries: Object.entries(topic.configs).map(([name, value]) => ({ name, value })),
        },
      ]),
    );
  }, 600_000);

  afterAll(async () => {
    await stack?.close();
  }, 120_000);

  it('healthy stack: every data-plane check passes, the writes leave nothing behind', async () => {
    const [before] = await withAdmin(stack.kafkaBrokers, (admin) => admin.fetchTopicOffsets('learnflow.verify'));
    const report = await verifyDataPlane({ kafkaBrokers: stack.kafkaBrokers, postgres: stack.appConnection });
    // dist/ is the minikube profile: backups off, so the archiver check has nothing to judge (test/postgres-backup.test.ts judges it).
    expect(report.checks.map((check) => `${check.id}: ${check.status}`)).toEqual(
      [...KAFKA_IDS, ...POSTGRES_IDS].map((id) => `${id}: ${id === 'postgres-live-archiver' ? 'skip' : 'pass'}`),
    );
    expect(report.exitCode).toBe(0);
    expect(report.dataPlane).toEqual({ checked: true, description: `Kafka ${stack.kafkaBrokers.join(',')}; PostgreSQL learnflow@127.0.0.1:${stack.postgres.port}/learnflow_db` });

    // The Kafka round trip really wrote (one more message), the PostgreSQL one left no row behind.
    const [after] = await withAdmin(stack.kafkaBrokers, (admin) => admin.fetchTopicOffsets('learnflow.verify'));
    expect(Number(after.high)).toBe(Number(before.high) + 1);
    expect(await stack.asSuperuser(`SELECT slug FROM topics WHERE slug LIKE 'learnflow-verify-%'`)).toEqual([]);
    expect((await stack.asSuperuser<{ n: number }>('SELECT count(*)::int AS n FROM topics'))[0].n).toBe(24);
  });

  it('healthy stack through the CLI: exit 0 with static and data-plane checks, the password never printed', () => {
    const { KUBECONFIG: _ignored, ...env } = process.env;
    for (const output of ['human', 'json']) {
      const result = spawnSync(process.execPath, [VERIFY_CLI, '--kafka-brokers', stack.kafkaBrokers.join(','), '--postgres-url', stack.appUrl, '--output', output], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...env, HOME: tempDir('verify-data-plane-home') },
      });
      expect(result.status, result.stdout + result.stderr).toBe(0);
      expect(result.stdout + result.stderr).not.toContain(stack.app.password);
      if (output === 'human') {
        expect(result.stdout).toMatch(/✓ kafka-live-round-trip/);
        expect(result.stdout).toMatch(/✓ postgres-live-write-round-trip/);
        expect(result.stdout).toContain(`data plane: Kafka ${stack.kafkaBrokers.join(',')}; PostgreSQL learnflow@127.0.0.1:${stack.postgres.port}/learnflow_db`);
      } else {
        const report = JSON.parse(result.stdout);
        expect(report.checks.filter((check: { id: string }) => [...KAFKA_IDS, ...POSTGRES_IDS].includes(check.id)).length).toBe(KAFKA_IDS.length + POSTGRES_IDS.length);
      }
    }
  });

  it('--live: port-forwards as dist/infra-endpoints.txt lists them, the password read from its Secret, stopped at exit', async () => {
    // The broker binds its own forwarded port (localhost:19092); PostgreSQL is reached through the forward.
    const env = (kubeconfig: string) => liveCliEnv(kubeconfig, { 'kafka/pod/kafka-0': '', 'postgres/svc/postgres': `127.0.0.1:${stack.postgres.port}` });
    const args = ['--live', '--check', ...KAFKA_IDS, ...POSTGRES_IDS];

    const api = await serveSecretApi([{ namespace: 'postgres', name: 'learnflow-postgres-app', data: { password: stack.app.password, username: 'learnflow' } }]);
    try {
      const result = await runVerifyCli(args, env(api.kubeconfig));
      expect(result.status, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toContain('data plane: Kafka localhost:19092; PostgreSQL learnflow@127.0.0.1:15432/learnflow_db (kubectl port-forward)');
      // postgres-live-archiver skips: the minikube dist/ has backups off.
      expect(result.stdout).toMatch(/12 checks: 11 passed, 0 failed, 0 warnings, 1 skipped/);
      expect(result.stdout + result.stderr).not.toContain(stack.app.password);
      expect(api.requests).toContain('/api/v1/namespaces/postgres/secrets/learnflow-postgres-app');
      // The forward went away with the verifier.
      expect(await refused(15432)).toBe(true);
    } finally {
      api.close();
    }

    const noSecret = await serveSecretApi([]);
    try {
      const result = await runVerifyCli(args, env(noSecret.kubeconfig));
      expect(result.status).toBe(2);
      expect(result.stdout).toContain('could not check: reading key password of Secret postgres/learnflow-postgres-app: HTTP 404');
      expect(await refused(15432)).toBe(true);
    } finally {
      noSecret.close();
    }
  });

  it('a missing topic fails kafka-live-topics only', async () => {
    await deleteTopic('struggle.detected');
    try {
      const report = await kafkaOnly();
      expect(failed(report)).toEqual(['kafka-live-topics']);
      expect(messagesOf(report, 'kafka-live-topics')).toBe('topic struggle.detected does not exist');
      expect(report.exitCode).toBe(1);
    } finally {
      await createTopic('struggle.detected');
    }
  });

  it('fewer partitions than declared fails kafka-live-topics', async () => {
    await deleteTopic('exercise.graded');
    await createTopic('exercise.graded', 1);
    try {
      const report = await kafkaOnly();
      expect(failed(report)).toEqual(['kafka-live-topics']);
      expect(messagesOf(report, 'kafka-live-topics')).toBe('exercise.graded: 1 partitions, dist/ declares 2');
    } finally {
      await deleteTopic('exercise.graded');
      await createTopic('exercise.graded');
    }
  });

  it('more partitions than declared fails kafka-live-topics, with a fix that does not pretend partitions shrink', async () => {
    await withAdmin(stack.kafkaBrokers, (admin) => admin.createPartitions({ topicPartitions: [{ topic: 'learning.query', count: 5 }] }));
    try {
      const report = await kafkaOnly();
      expect(failed(report)).toEqual(['kafka-live-topics']);
      const failure = report.checks.find((check) => check.id === 'kafka-live-topics')!.results.find((result) => result.status === 'fail')!;
      expect(failure.message).toBe('learning.query: 5 partitions, dist/ declares 3');
      expect(failure.remediation).toContain('partitions cannot be removed');
    } finally {
      await deleteTopic('learning.query');
      await createTopic('learning.query');
    }
  });

  it('a wrong retention fails kafka-live-topic-configs only', async () => {
    const topic = declared.get('progress.updated')!;
    const withRetention = (value: string) => topic.configEntries!.map((entry) => (entry.name === 'retention.ms' ? { ...entry, value } : entry));
    // kafkajs alterConfigs replaces every dynamic config of the topic: here that is the point (and the
    // restore below gives back exactly the declared set).
    const alter = (configEntries: { name: string; value: string }[]) =>
      withAdmin(stack.kafkaBrokers, (admin) => admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic.topic, configEntries }] }));
    await alter(withRetention('3600000'));
    try {
      const report = await kafkaOnly();
      expect(failed(report)).toEqual(['kafka-live-topic-configs']);
      expect(messagesOf(report, 'kafka-live-topic-configs')).toBe('progress.updated: retention.ms=3600000, dist/ declares 2592000000');
    } finally {
      await alter(topic.configEntries as { name: string; value: string }[]);
    }
    expect(failed(await kafkaOnly(['kafka-live-topic-configs']))).toEqual([]);
  });

  it('a tampered migration record fails postgres-live-migrations only', async () => {
    const [{ checksum }] = await stack.asSuperuser<{ checksum: string }>(`SELECT checksum FROM schema_migrations WHERE version = '002'`);
    await stack.asSuperuser(`UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = '002'`);
    try {
      const report = await postgresOnly();
      expect(failed(report)).toEqual(['postgres-live-migrations']);
      expect(messagesOf(report, 'postgres-live-migrations')).toBe(
        `002_curriculum.sql was applied as 002_curriculum.sql with sha256 ${'0'.repeat(64)}; dist/ ships sha256 ${checksum}`,
      );
    } finally {
      await stack.asSuperuser(`UPDATE schema_migrations SET checksum = $1 WHERE version = '002'`, [checksum]);
    }
  });

  it('CREATE on schema public granted to the application role fails postgres-live-role-privileges only', async () => {
    await stack.asSuperuser('GRANT CREATE ON SCHEMA public TO learnflow');
    try {
      const report = await postgresOnly();
      expect(failed(report)).toEqual(['postgres-live-role-privileges']);
      expect(messagesOf(report, 'postgres-live-role-privileges')).toBe('learnflow has CREATE on schema public');
    } finally {
      await stack.asSuperuser('REVOKE CREATE ON SCHEMA public FROM learnflow');
    }
  });

  it('a write privilege on the migration history fails postgres-live-role-privileges', async () => {
    await stack.asSuperuser('GRANT UPDATE ON schema_migrations TO learnflow');
    try {
      const report = await postgresOnly(['postgres-live-role-privileges']);
      expect(messagesOf(report, 'postgres-live-role-privileges')).toBe('learnflow may UPDATE on schema_migrations (the migration history must be read-only to services)');
    } finally {
      await stack.asSuperuser('REVOKE UPDATE ON schema_migrations FROM learnflow');
    }
  });

  it('unreachable targets are "could not check" (exit 2), bounded by the timeout', async () => {
    const started = Date.now();
    const report = await verifyDataPlane({ kafkaBrokers: ['127.0.0.1:1'], postgres: { ...stack.appConnection, port: 1 } }, undefined, 2_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(report.exitCode).toBe(2);
    // Every check, the archiver's too: it comes after the first that found the server unreachable, so it is not
    // run (the runner reports one connection error once) and points at that check.
    expect(new Set(report.checks.map((check) => check.status))).toEqual(new Set(['error']));
    expect(report.checks.find((check) => check.id === 'postgres-live-archiver')!.blockedBy).toBeDefined();
    expect(messagesOf(report, 'kafka-live-brokers')).toMatch(/^could not check: Kafka 127\.0\.0\.1:1: /);
    expect(messagesOf(report, 'postgres-live-migrations')).toMatch(/^could not check: PostgreSQL learnflow@127\.0\.0\.1:1\/learnflow_db: .*ECONNREFUSED/);
  });

  it('a wrong password is "could not check", and the password is not in the report', async () => {
    const wrong = await verifyDataPlane({ postgres: { ...stack.appConnection, password: 'not-the-password-123' } }, POSTGRES_IDS);
    expect(wrong.exitCode).toBe(2);
    expect(messagesOf(wrong, 'postgres-live-migrations')).toContain('password authentication failed for user "learnflow"');
    expect(JSON.stringify(wrong)).not.toContain('not-the-password-123');
  });

  // After the cases that need every table.
  it('a dropped table fails postgres-live-tables only', async () => {
    await stack.asSuperuser('DROP TABLE struggle_alerts');
    const report = await postgresOnly();
    expect(failed(report)).toEqual(['postgres-live-tables']);
    expect(messagesOf(report, 'postgres-live-tables')).toBe('table public.struggle_alerts does not exist');
  });

  // Last: the single broker of the minikube profile does not come back for the cases above.
  it('the broker stopped: Kafka checks are "could not check" (exit 2), PostgreSQL still judged', async () => {
    await stack.kafka.stop(0);
    const started = Date.now();
    const report = await verifyDataPlane({ kafkaBrokers: stack.kafkaBrokers, postgres: stack.appConnection }, [...KAFKA_IDS, 'postgres-live-migrations'], 3_000);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(report.exitCode).toBe(2);
    expect(report.checks.filter((check) => check.component === 'kafka').map((check) => check.status)).toEqual(KAFKA_IDS.map(() => 'error'));
    expect(report.checks.find((check) => check.id === 'postgres-live-migrations')!.status).toBe('pass');
  });
});

describe('verify: reading the data-plane targets', () => {
  it('reads the port-forwards of dist/infra-endpoints.txt, by section', () => {
    const forwards = parsePortForwards(fs.readFileSync(path.join(DIST_DIR, 'infra-endpoints.txt'), 'utf8'));
    expect(forwards).toEqual([
      { section: 'Kafka', localPort: 19092, command: ['kubectl', 'port-forward', '-n', 'kafka', 'pod/kafka-0', '19092:9094'] },
      { section: 'PostgreSQL', localPort: 15432, command: ['kubectl', 'port-forward', '-n', 'postgres', 'svc/postgres', '15432:5432'] },
    ]);
  });

  it("finds the application role, its database and the Secret key of its password (a file of the migrations Job's Secret volume)", () => {
    const role = appRoleOf(loadDist(DIST_DIR))!;
    expect(role.job.object.metadata.name).toMatch(/^postgres-migrations-/);
    expect({ user: role.user, database: role.database, secret: role.secret, login: role.login }).toEqual({
      user: 'learnflow',
      database: 'learnflow_db',
      secret: { name: 'learnflow-postgres-app', key: 'password' },
      // After `npm run secrets -- --rotate app` the Secret's password is its twin's: the verifier logs in as the login it names.
      login: { name: 'learnflow-postgres-app', key: 'username' },
    });
  });

  it('reads --postgres-url, percent-escapes included, and rejects what it cannot use without echoing it', () => {
    expect(parsePostgresUrl('postgresql://learnflow:p%40ss%2Fw0rd@localhost:15432/learnflow_db?sslmode=disable')).toEqual({
      host: 'localhost',
      port: 15432,
      user: 'learnflow',
      password: 'p@ss/w0rd',
      database: 'learnflow_db',
    });
    expect(parsePostgresUrl('postgres://learnflow@db/learnflow_db').port).toBe(5432);
    for (const url of ['learnflow:hunter2@localhost/learnflow_db', 'mysql://learnflow:hunter2@localhost/x', 'postgresql://learnflow:hunter2@localhost/']) {
      expect(() => parsePostgresUrl(url)).toThrow(/--postgres-url/);
      try {
        parsePostgresUrl(url);
      } catch (error) {
        expect((error as Error).message).not.toContain('hunter2');
      }
    }
  });
});
