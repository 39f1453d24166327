import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load';
import { LearnflowStack } from '../lib/learnflow-stack';
import { generateSecretValues, type PostgresSecrets, TEST_USERS } from '../lib/postgres/secrets';
import { PostgresEngine, requirePostgresEngine } from './harness/postgres/engine';
import { JobPod, type JobResult, type SecretStore } from './harness/postgres/job-pod';
import { findObject, type K8sObject, ROOT, readDistDir, synthObjects } from './support/synth';

// The Jobs exactly as shipped: script and SQL from the ConfigMaps in dist/, run with psql against a
// real PostgreSQL 16 that was started with the StatefulSet's own settings.
const MOUNT = '/etc/learnflow/postgres';
const TABLES = ['chat_history', 'exercises', 'progress', 'struggle_alerts', 'students', 'submissions', 'teachers', 'topics', 'users'];
const DATABASE = 'learnflow_db';
const ROLES = ['learnflow', 'learnflow_dapr', 'learnflow_owner'];

/** Values for every Secret of the contract, made as `npm run secrets` makes them. */
function secretStore(contract: PostgresSecrets): SecretStore {
  return Object.fromEntries(contract.all.map((secret) => [secret.name, secret.render(generateSecretValues(secret))]));
}

const expectSuccess = (result: JobResult) => expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(0);

describe.skipIf(!requirePostgresEngine('PostgreSQL Jobs suite'))('migrations and seed Jobs on PostgreSQL 16', () => {
  let engine: PostgresEngine;
  let objects: K8sObject[];
  let migrations: JobPod;
  let seed: JobPod;
  let contract: PostgresSecrets;
  let secrets: SecretStore;

  const network = () => ({ host: '127.0.0.1', port: engine.port });
  const migrate = (options: Partial<Parameters<JobPod['run']>[0]> = {}) => migrations.run({ network: network(), secrets, ...options });
  const runSeed = (options: Partial<Parameters<JobPod['run']>[0]> = {}) => seed.run({ network: network(), secrets, ...options });
  const app = () => ({ user: 'learnflow', password: secrets['learnflow-postgres-app'].password, database: DATABASE });
  const inDatabase = <Row extends Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    engine.query<Row>(sql, params, { ...engine.superuser, database: DATABASE });
  const fresh = () => engine.reset(DATABASE, ROLES);

  /** Everything a re-run could change: migration records, catalog definitions, every row. */
  async function snapshot(): Promise<Record<string, unknown>> {
    const [catalog] = await inDatabase<{ digest: string }>(`
      SELECT md5(string_agg(def, E'\\n' ORDER BY def)) AS digest FROM (
        SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
        UNION ALL SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || coalesce(column_default, '') FROM information_schema.columns WHERE table_schema = 'public'
        UNION ALL SELECT c.relname || ' ' || coalesce(array_to_string(c.relacl, ','), '') FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
      ) AS definitions`);
    const rows: Record<string, unknown> = {
      catalog: catalog.digest,
      migrations: await inDatabase('SELECT * FROM schema_migrations ORDER BY version'),
    };
    for (const table of TABLES) {
      rows[table] = (await inDatabase<{ digest: string }>(`SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS digest FROM ${table} t`))[0].digest;
    }
    return rows;
  }

  beforeAll(async () => {
    objects = readDistDir(path.join(ROOT, 'dist'));
    const server = findObject(objects, 'StatefulSet', 'postgres').spec.template.spec.containers[0];
    const initdbArgs = server.env.find((e: { name: string }) => e.name === 'POSTGRES_INITDB_ARGS').value.split(' ');
    contract = new LearnflowStack(loadConfig()).postgres.secrets;
    secrets = secretStore(contract);
    // args[0] is the entrypoint's 'postgres'; the rest are the server's own -c settings.
    engine = await PostgresEngine.start({
      args: server.args.slice(1),
      initdbArgs,
      superuserPassword: secrets[contract.superuser.name].password,
    });
    migrations = new JobPod(objects, 'migrations');
    seed = new JobPod(objects, 'seed');
  });

  afterAll(async () => {
    await engine?.stop();
  });

  it("accepts the StatefulSet's server settings and initdb arguments", async () => {
    const settings = await engine.query<{ name: string; setting: string; unit: string | null }>(
      "SELECT name, setting, unit FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'max_connections', 'data_checksums', 'huge_pages', 'server_version_num')",
    );
    const byName = Object.fromEntries(settings.map((s) => [s.name, s.setting]));
    expect(Number(byName.server_version_num)).toBeGreaterThanOrEqual(160000);
    expect(Number(byName.server_version_num)).toBeLessThan(170000);
    // shared_buffers is in 8 kB pages: 256 MB of a 1 Gi limit.
    expect(Number(byName.shared_buffers) * 8).toBe(256 * 1024);
    expect(byName.max_connections).toBe('50');
    expect(byName.data_checksums).toBe('on');
    expect(byName.huge_pages).toBe('off');
  });

  it('creates the 9 tables with their keys, constraints and indexes', async () => {
    await fresh();
    const result = await migrate();
    expectSuccess(result);
    expect(result.stdout).toContain('applying 001_identity.sql');
    expect(result.stdout).toContain('schema is at version 003');

    const tables = await inDatabase<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(tables.map((t) => t.table_name)).toEqual([...TABLES, 'schema_migrations'].sort());

    const constraints = await inDatabase<{ table: string; name: string; type: string; definition: string }>(
      "SELECT conrelid::regclass::text AS table, conname AS name, contype AS type, pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
    );
    for (const table of TABLES) {
      expect(constraints.filter((c) => c.table === table && c.type === 'p'), `${table} primary key`).toHaveLength(1);
    }
    const foreignKeys = constraints.filter((c) => c.type === 'f').map((c) => `${c.table} ${c.definition.replace(/ ON .*/, '')}`);
    expect(foreignKeys).toEqual(
      expect.arrayContaining([
        'students FOREIGN KEY (user_id, user_role) REFERENCES users(id, role)',
        'teachers FOREIGN KEY (user_id, user_role) REFERENCES users(id, role)',
        'exercises FOREIGN KEY (topic_id) REFERENCES topics(id)',
        'submissions FOREIGN KEY (student_id) REFERENCES students(id)',
        'submissions FOREIGN KEY (exercise_id) REFERENCES exercises(id)',
        'progress FOREIGN KEY (student_id) REFERENCES students(id)',
        'progress FOREIGN KEY (topic_id) REFERENCES topics(id)',
        'chat_history FOREIGN KEY (student_id) REFERENCES students(id)',
        'struggle_alerts FOREIGN KEY (student_id) REFERENCES students(id)',
        'struggle_alerts FOREIGN KEY (teacher_id) REFERENCES teachers(id)',
      ]),
    );
    const check = (name: string) => constraints.find((c) => c.name === name)?.definition ?? `no constraint ${name}`;
    expect(check('users_role_check')).toMatch(/'admin'.*'teacher'.*'student'/);
    expect(check('struggle_alerts_severity_check')).toMatch(/'low'.*'medium'.*'high'/);
    expect(check('submissions_status_check')).toMatch(/'pending'.*'running'.*'passed'.*'failed'.*'error'/);
    expect(check('progress_mastery_score_check')).toMatch(/mastery_score >= .*0.*mastery_score <= .*100/);
    expect(check('progress_student_topic_key')).toBe('UNIQUE (student_id, topic_id)');
    expect(check('users_email_key')).toBe('UNIQUE (email)');

    const indexes = new Map(
      (await inDatabase<{ indexname: string; indexdef: string }>("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")).map(
        (i) => [i.indexname, i.indexdef],
      ),
    );
    expect(indexes.get('submissions_student_exercise_idx')).toContain('(student_id, exercise_id, submitted_at DESC)');
    expect(indexes.get('struggle_alerts_unresolved_idx')).toMatch(/\(teacher_id, created_at DESC\) WHERE \(resolved_at IS NULL\)/);
    expect(indexes.get('chat_history_session_idx')).toContain('(session_id, created_at)');
    expect(indexes.get('progress_student_topic_key')).toContain('(student_id, topic_id)');

    // Recorded with the checksum of exactly the file the ConfigMap ships.
    const files = migrations.files();
    const recorded = await inDatabase<{ version: string; name: string; checksum: string }>('SELECT version, name, checksum FROM schema_migrations ORDER BY version');
    expect(recorded.map((r) => [r.version, r.name])).toEqual([
      ['001', 'identity'],
      ['002', 'curriculum'],
      ['003', 'learning_activity'],
    ]);
    for (const row of recorded) {
      const content = files.get(`${MOUNT}/migrations/${row.version}_${row.name}.sql`)!;
      expect(row.checksum).toBe(createHash('sha256').update(content).digest('hex'));
    }
  });

  it('seeds 24 topics in 8 modules of rising difficulty and 3 users with verifiable bcrypt hashes', async () => {
    const result = await runSeed();
    expectSuccess(result);

    const modules = await inDatabase<{ module_number: number; module_name: string; topics: number; difficulty: number }>(
      'SELECT module_number, module_name, count(*)::int AS topics, max(difficulty) AS difficulty FROM topics GROUP BY 1, 2 ORDER BY 1',
    );
    expect(modules.map((m) => m.module_name)).toEqual(['Basics', 'Control Flow', 'Data Structures', 'Functions', 'OOP', 'Files', 'Errors', 'Libraries']);
    expect(modules.every((m) => m.topics === 3)).toBe(true);
    const difficulties = modules.map((m) => m.difficulty);
    expect(difficulties).toEqual([...difficulties].sort((a, b) => a - b));
    expect(difficulties[0]).toBeLessThan(difficulties[7]);
    const [{ exercises, topicless }] = await inDatabase<{ exercises: number; topicless: number }>(
      'SELECT count(*)::int AS exercises, count(*) FILTER (WHERE topic_id IS NULL)::int AS topicless FROM exercises',
    );
    expect(exercises).toBeGreaterThanOrEqual(8);
    expect(topicless).toBe(0);

    const seedPasswords = secrets['learnflow-postgres-seed-users'];
    for (const user of TEST_USERS) {
      const [row] = await inDatabase<{ hash: string; verifies: boolean; wrong: boolean }>(
        `SELECT password_hash AS hash, password_hash = crypt($1, password_hash) AS verifies, password_hash = crypt('not-the-password', password_hash) AS wrong
           FROM users WHERE role = $2`,
        [seedPasswords[user.passwordKey], user.role],
      );
      expect(row.hash).toMatch(/^\$2a\$10\$/);
      expect(row.verifies, `${user.role} password`).toBe(true);
      expect(row.wrong).toBe(false);
    }
    const [link] = await inDatabase<{ teacher: string }>(
      'SELECT tu.full_name AS teacher FROM students s JOIN users su ON su.id = s.user_id JOIN teachers t ON t.id = s.teacher_id JOIN users tu ON tu.id = t.user_id',
    );
    expect(link.teacher).toBe('Mr. Rodriguez');
    // The passwords went through the environment, never the log.
    for (const value of Object.values(seedPasswords)) expect(result.stdout + result.stderr).not.toContain(value);
  });

  it('lets the application role read and write rows but not create, alter or drop anything', async () => {
    const [role] = await engine.query<Record<string, boolean>>(
      "SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolbypassrls FROM pg_roles WHERE rolname = 'learnflow'",
    );
    expect(role).toEqual({ rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolcanlogin: true, rolbypassrls: false });
    const [owned] = await inDatabase<{ count: number }>("SELECT count(*)::int AS count FROM pg_class WHERE relowner = 'learnflow'::regrole");
    expect(owned.count).toBe(0);

    const [student] = await engine.query<{ id: string }>('SELECT id FROM students LIMIT 1', [], app());
    const session = '6f1d2c1e-4b8a-4c59-9a0e-2f4d1c3b5a77';
    await engine.query("INSERT INTO chat_history (student_id, session_id, sender, message) VALUES ($1, $2, 'student', 'I am stuck')", [student.id, session], app());
    await engine.query("UPDATE chat_history SET metadata = '{\"read\": true}' WHERE session_id = $1", [session], app());
    const [message] = await engine.query<{ metadata: unknown }>('SELECT metadata FROM chat_history WHERE session_id = $1', [session], app());
    expect(message.metadata).toEqual({ read: true });
    await engine.query('DELETE FROM chat_history WHERE session_id = $1', [session], app());

    const denied = async (sql: string) => {
      const error = await engine.query(sql, [], app()).then(() => undefined, (e: { code?: string; message: string }) => e);
      expect(error?.code, `${sql} must be refused`).toBe('42501');
    };
    await denied('CREATE TABLE scratch (id int)');
    await denied('DROP TABLE topics');
    await denied('ALTER TABLE topics ADD COLUMN hacked text');
    await denied('TRUNCATE chat_history');
    await denied("INSERT INTO schema_migrations (version, name, checksum) VALUES ('999', 'x', repeat('0', 64))");
    await denied('CREATE SCHEMA scratch');
    await denied('CREATE TABLE dapr_state.scratch (id int)');

    // Constraints hold for the role the services use.
    const violation = await engine
      .query("UPDATE users SET role = 'superhero' WHERE email = 'admin@learnflow.dev'", [], app())
      .then(() => undefined, (e: { code?: string }) => e.code);
    expect(violation).toBe('23514');
  });

  it("lets Dapr's state store create its tables in its own schema, through the Secret's connection string, and nothing else", () => {
    const component = objects.find((o) => o.kind === 'Component' && o.spec?.type === 'state.postgresql')!;
    const tablePrefix = component.spec.metadata.find((m: { name: string }) => m.name === 'tablePrefix')?.value ?? '';
    const connectionRef = component.spec.metadata.find((m: { name: string }) => m.name === 'connectionString').secretKeyRef;
    // The component's Secret key, pointed at this server: the harness's only rewrite.
    const connectionString = secrets[connectionRef.name][connectionRef.key]
      .replace(/host=\S+/, 'host=127.0.0.1')
      .replace(/port=\S+/, `port=${engine.port}`);
    const psql = (sql: string) => spawnSync('psql', ['-X', '-qAt', '-v', 'ON_ERROR_STOP=1', connectionString, '-c', sql], { encoding: 'utf8' });
    // What state.postgresql v2 runs at start-up (components-contrib common/component/sql/migrations/postgres
    // and state/postgresql/v2), with its unqualified names.
    const startup = [
      'CREATE TABLE IF NOT EXISTS dapr_metadata (key text NOT NULL PRIMARY KEY, value text NOT NULL)',
      "INSERT INTO dapr_metadata (key, value) VALUES ('lock', 'lock') ON CONFLICT (key) DO NOTHING",
      `CREATE TABLE ${tablePrefix}state (key text NOT NULL PRIMARY KEY, value bytea NOT NULL, etag uuid NOT NULL DEFAULT gen_random_uuid(), created_at timestamp with time zone NOT NULL DEFAULT now(), updated_at timestamp with time zone, expires_at timestamp with time zone)`,
      `CREATE INDEX ON ${tablePrefix}state (expires_at)`,
      `INSERT INTO dapr_metadata (key, value) VALUES ('migrations-state-v2-${tablePrefix}', '1') ON CONFLICT (key) DO UPDATE SET value = '1'`,
      `INSERT INTO ${tablePrefix}state (key, value, etag, expires_at) VALUES ('progress-agent||k', 'v', gen_random_uuid(), NULL)`,
    ];
    for (const sql of startup) {
      const result = psql(sql);
      expect(result.status, `${sql}\n${result.stderr}`).toBe(0);
    }
    const placed = psql("SELECT string_agg(relname || ' ' || relnamespace::regnamespace || ' ' || relowner::regrole, ', ' ORDER BY relname) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'dapr_state'::regnamespace");
    expect(placed.stdout.trim()).toBe(`dapr_metadata dapr_state learnflow_dapr, ${tablePrefix}state dapr_state learnflow_dapr`);
    const refused = psql('SELECT count(*) FROM public.users');
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('permission denied for schema public');
  });

  it('changes nothing on a second and a third run', async () => {
    const before = await snapshot();
    for (let run = 0; run < 2; run++) {
      const migrated = await migrate();
      expectSuccess(migrated);
      expect(migrated.stdout).not.toContain('applying');
      expectSuccess(await runSeed());
      expect(await snapshot()).toEqual(before);
    }
  });

  it("never overwrites a seeded row that an operator edited", async () => {
    await inDatabase("UPDATE topics SET name = 'Variables, Values and Types', difficulty = 2 WHERE slug = 'variables-and-data-types'");
    await inDatabase("UPDATE users SET full_name = 'Maya J.', password_hash = crypt('changed-by-the-student', gen_salt('bf', 4)) WHERE email = 'student@learnflow.dev'");
    await inDatabase("UPDATE exercises SET points = 50 WHERE slug = 'fizzbuzz'");
    const before = await snapshot();
    expectSuccess(await runSeed());
    expect(await snapshot()).toEqual(before);
    const [topic] = await inDatabase<{ name: string }>("SELECT name FROM topics WHERE slug = 'variables-and-data-types'");
    expect(topic.name).toBe('Variables, Values and Types');
    const [student] = await inDatabase<{ ok: boolean }>(
      "SELECT password_hash = crypt('changed-by-the-student', password_hash) AS ok FROM users WHERE email = 'student@learnflow.dev'",
    );
    expect(student.ok).toBe(true);
  });

  it('applies a new migration, whose tables the application role can use', async () => {
    const next = {
      [`${MOUNT}/migrations/004_topic_notes.sql`]: [
        "ALTER TABLE topics ADD COLUMN tags text[] NOT NULL DEFAULT '{}';",
        'CREATE TABLE topic_notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, topic_id uuid NOT NULL REFERENCES topics (id), note text NOT NULL);',
        '',
      ].join('\n'),
    };
    const result = await migrate({ edit: next });
    expectSuccess(result);
    expect(result.stdout).toContain('applying 004_topic_notes.sql');
    expect(result.stdout).not.toContain('applying 003');
    const versions = await inDatabase<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(versions.map((v) => v.version)).toEqual(['001', '002', '003', '004']);
    await engine.query(
      "INSERT INTO topic_notes (topic_id, note) SELECT id, 'remember the colon' FROM topics WHERE slug = 'conditionals'",
      [],
      app(),
    );
    const [{ tags }] = await engine.query<{ tags: string[] }>("SELECT tags FROM topics WHERE slug = 'lists'", [], app());
    expect(tags).toEqual([]);

    // The previous Job (without 004) now meets a database that is ahead of it, and says so.
    const older = await migrate();
    expect(older.exitCode).not.toBe(0);
    expect(older.stderr).toContain('the database has migrations this Job does not ship: 004_topic_notes.sql');
  });

  it('fails clearly on a changed migration and applies nothing', async () => {
    await fresh();
    expectSuccess(await migrate());
    const tampered = `${MOUNT}/migrations/002_curriculum.sql`;
    const result = await migrate({
      edit: {
        [tampered]: `${migrations.files().get(tampered)}\nALTER TABLE topics ADD COLUMN sneaky text;\n`,
        [`${MOUNT}/migrations/004_later.sql`]: 'CREATE TABLE later (id int);\n',
      },
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/migration 002_curriculum\.sql has changed since it was applied .*recorded sha256 [0-9a-f]{64}, file sha256 [0-9a-f]{64}/);
    expect(result.stderr).toContain('put the change in a new migration');
    const [state] = await inDatabase<{ later: string | null; sneaky: number; versions: number }>(
      "SELECT to_regclass('public.later')::text AS later, (SELECT count(*)::int FROM information_schema.columns WHERE column_name = 'sneaky') AS sneaky, (SELECT count(*)::int FROM schema_migrations) AS versions",
    );
    expect(state).toEqual({ later: null, sneaky: 0, versions: 3 });
  });

  it('leaves one correct result when two migrations and two seed Jobs run at once', async () => {
    await fresh();
    // The seeds start first and wait for the schema, as after `kubectl apply -f dist/`.
    const results = await Promise.all([runSeed(), runSeed(), migrate(), migrate()]);
    results.forEach(expectSuccess);
    const applied = results.slice(2).map((r) => (r.stdout.match(/applying/g) ?? []).length);
    expect(applied.reduce((a, b) => a + b)).toBe(3);
    const [counts] = await inDatabase<{ migrations: number; topics: number; exercises: number; users: number; students: number }>(
      'SELECT (SELECT count(*)::int FROM schema_migrations) AS migrations, (SELECT count(*)::int FROM topics) AS topics, (SELECT count(*)::int FROM exercises) AS exercises, (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM students) AS students',
    );
    expect(counts).toEqual({ migrations: 3, topics: 24, exercises: 8, users: 3, students: 1 });
  });

  it('gives up waiting for the schema after WAIT_TIMEOUT_SECONDS with a clear message', async () => {
    await fresh();
    const result = await runSeed({ envOverrides: { WAIT_TIMEOUT_SECONDS: '10' } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/gave up after 10s waiting for learnflow_db .*has the migrations Job run\?/);
    expect(result.durationMs).toBeLessThan(20_000);
  }, 30_000);

  it('gives up waiting for the server after WAIT_TIMEOUT_SECONDS', async () => {
    const closed = await migrations.run({ network: { host: '127.0.0.1', port: 1 }, secrets, envOverrides: { WAIT_TIMEOUT_SECONDS: '10' } });
    expect(closed.exitCode).toBe(1);
    expect(closed.stderr).toContain('did not accept connections within 10s');
    expect(closed.durationMs).toBeLessThan(25_000);
  }, 30_000);

  it('gives up waiting for a concurrent run that holds the lock after WAIT_TIMEOUT_SECONDS', async () => {
    expectSuccess(await migrate());
    const holder = new Client({ host: '127.0.0.1', port: engine.port, ...engine.superuser, database: DATABASE });
    await holder.connect();
    try {
      await holder.query("SELECT pg_advisory_lock(hashtext('learnflow.schema_migrations'))");
      const result = await migrate({ envOverrides: { WAIT_TIMEOUT_SECONDS: '10' } });
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toContain('canceling statement due to lock timeout');
      expect(result.durationMs).toBeLessThan(20_000);
    } finally {
      await holder.end();
    }
  }, 30_000);

  it('refuses a test-user password that is short or not printable ASCII, without printing it', async () => {
    for (const password of ['too-short', 'contraseña-con-eñe-12']) {
      const result = await runSeed({ secrets: { ...secrets, 'learnflow-postgres-seed-users': { ...secrets['learnflow-postgres-seed-users'], 'teacher-password': password } } });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/teacher-password must hold 12 to 72 printable ASCII characters/);
      expect(result.stdout + result.stderr).not.toContain(password);
    }
  });

  it('seeds no test users in the production profile', async () => {
    await fresh();
    // This server speaks plaintext: the production Jobs over TLS are test/postgres-tls.test.ts's.
    const plaintext = { profile: 'production', override: { postgres: { tls: { enabled: false, insecurePlaintextInProduction: true } } } };
    const production = synthObjects(plaintext);
    const productionSecrets = {
      ...secretStore(new LearnflowStack(loadConfig(plaintext)).postgres.secrets),
      // The server is already initialised: its superuser password is the one it was started with.
      [contract.superuser.name]: secrets[contract.superuser.name],
    };
    expect(productionSecrets['learnflow-postgres-seed-users']).toBeUndefined();
    const options = { network: network(), secrets: productionSecrets };
    expectSuccess(await new JobPod(production, 'migrations').run(options));
    expectSuccess(await new JobPod(production, 'seed').run(options));
    const [counts] = await inDatabase<{ users: number; topics: number }>(
      'SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM topics) AS topics',
    );
    expect(counts).toEqual({ users: 0, topics: 24 });
  });
});

describe.skipIf(!requirePostgresEngine('PostgreSQL statement-log suite'))('no password in the server log of PostgreSQL 16, with every statement logged', () => {
  let engine: PostgresEngine;
  let secrets: SecretStore;
  let objects: K8sObject[];

  beforeAll(async () => {
    objects = readDistDir(path.join(ROOT, 'dist'));
    const server = findObject(objects, 'StatefulSet', 'postgres').spec.template.spec.containers[0];
    secrets = secretStore(new LearnflowStack(loadConfig()).postgres.secrets);
    // The StatefulSet's settings, then the most a DBA could turn on: every statement with its
    // duration, every statement behind any message, bind parameters in full. (-c: the last one wins.)
    const logEverything = [
      ['log_statement', 'all'],
      ['log_min_duration_statement', '0'],
      ['log_min_error_statement', 'debug5'],
      ['log_parameter_max_length', '-1'],
      ['log_parameter_max_length_on_error', '-1'],
    ].flatMap(([name, value]) => ['-c', `${name}=${value}`]);
    engine = await PostgresEngine.start({
      args: [...server.args.slice(1), ...logEverything],
      initdbArgs: server.env.find((e: { name: string }) => e.name === 'POSTGRES_INITDB_ARGS').value.split(' '),
      superuserPassword: secrets['learnflow-postgres-superuser'].password,
    });
  });

  afterAll(async () => {
    await engine?.stop();
  });

  /** The server log once it holds everything logged so far (a marker statement is logged last). */
  async function serverLog(): Promise<string> {
    const marker = `log-marker-${Date.now()}`;
    await engine.query(`SELECT '${marker}'`);
    for (let waited = 0; !engine.serverLog().includes(marker); waited += 100) {
      if (waited > 10_000) throw new Error('the server log never showed the marker statement');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return engine.serverLog();
  }

  it('runs the migrations and the seed, a failing seed included, without logging a password', async () => {
    const options = { network: { host: '127.0.0.1', port: engine.port }, secrets };
    expectSuccess(await new JobPod(objects, 'migrations').run(options));
    // Every insert of a test user fails, and PostgreSQL logs the failing statement with the error.
    await engine.query('ALTER TABLE users ADD CONSTRAINT no_new_users CHECK (false) NOT VALID', [], { ...engine.superuser, database: DATABASE });
    const failed = await new JobPod(objects, 'seed').run(options);
    expect(failed.exitCode).not.toBe(0);
    expect(failed.stderr).toContain('no_new_users');
    await engine.query('ALTER TABLE users DROP CONSTRAINT no_new_users', [], { ...engine.superuser, database: DATABASE });
    expectSuccess(await new JobPod(objects, 'seed').run(options));

    const log = await serverLog();
    // Statement logging was on and saw the test users' inserts, the failing one with its error.
    expect(log).toMatch(/LOG: {2}statement: .*INSERT INTO users/s);
    expect(log).toMatch(/ERROR: {2}new row for relation "users" violates check constraint "no_new_users"[\s\S]*?STATEMENT: {2}.*INSERT INTO users/);
    const passwords = Object.entries(secrets).flatMap(([name, keys]) =>
      Object.entries(keys)
        .filter(([key]) => /password/i.test(key))
        .map(([key, value]) => ({ where: `${name}/${key}`, value })),
    );
    expect(passwords.length).toBeGreaterThanOrEqual(6);
    for (const { where, value } of passwords) expect(log.includes(value), `${where} is in the server log`).toBe(false);
  }, 60_000);
});
