import { createHash, randomBytes } from 'node:crypto';
import type { StaticContext } from '../context';
import type { PostgresTarget } from '../data-plane/postgres-target';
import type { Dist } from '../dist';
import { CURRICULUM_TOPIC_COUNT, LEARNFLOW_TABLES } from '../mission';
import { type Check, type CheckResult, type DistObject, fail, type ObjectRef, pass, refOf, skip, warn } from '../model';
import { createdIndexes } from '../sql';
import { envValue, namespaceOf, objectsOfKind } from '../workloads';

/** Live checks of the LearnFlow database (pg), through --postgres-url or a port-forward. */
export interface PostgresLiveContext extends StaticContext {
  readonly postgres: PostgresTarget;
}

/** A migration as the migrations Job mounts it: migrations/NNN_name.sql from a ConfigMap key. */
interface ShippedMigration {
  readonly version: string;
  readonly name: string;
  readonly sql: string;
  /** sha256 of the file's bytes, as migrate.sh records it in schema_migrations. */
  readonly checksum: string;
  readonly job: DistObject;
  readonly configMap: DistObject;
}

const MIGRATION_PATH = /^migrations\/(\d{3})_([a-z0-9_]+)\.sql$/;

/** Reads the Jobs' ConfigMap volumes exactly as the kubelet projects them (items: key -> path). */
function shippedMigrations(dist: Dist): ShippedMigration[] {
  const configMaps = objectsOfKind(dist, 'ConfigMap');
  const migrations: ShippedMigration[] = [];
  for (const job of objectsOfKind(dist, 'Job')) {
    for (const volume of (job.object.spec?.template?.spec?.volumes ?? []) as { configMap?: { name?: string; items?: { key: string; path: string }[] } }[]) {
      const configMap = configMaps.find((c) => c.object.metadata.name === volume.configMap?.name && namespaceOf(c) === namespaceOf(job));
      for (const item of volume.configMap?.items ?? []) {
        const match = MIGRATION_PATH.exec(item.path);
        const sql = configMap?.object.data?.[item.key];
        if (!match || !configMap || typeof sql !== 'string') continue;
        const checksum = createHash('sha256').update(sql, 'utf8').digest('hex');
        migrations.push({ version: match[1], name: match[2], sql, checksum, job, configMap });
      }
    }
  }
  return migrations.sort((a, b) => a.version.localeCompare(b.version));
}

/** The container env of the Job that runs the migrations (APP_ROLE) or the seed (SEED_TEST_USERS). */
function jobEnv(dist: Dist, name: string): { job: DistObject; value: string } | undefined {
  for (const job of objectsOfKind(dist, 'Job')) {
    for (const container of (job.object.spec?.template?.spec?.containers ?? []) as Record<string, any>[]) {
      const value = envValue(container, name);
      if (value !== undefined) return { job, value };
    }
  }
  return undefined;
}

/** The rows, or undefined when the statement names a table that does not exist (SQLSTATE 42P01). */
async function unlessTableMissing<Row>(rows: Promise<Row[]>): Promise<Row[] | undefined> {
  try {
    return await rows;
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return undefined;
    throw error;
  }
}

const tableRef = (name: string): ObjectRef => ({ kind: 'Table', name: `public.${name}` });
const roleRef = (name: string): ObjectRef => ({ kind: 'Role', name });
const RUN_MIGRATIONS = 'kubectl -n postgres logs job/<migrations job>; re-apply dist/ to run the migrations Job again';

/** The `-c archive_mode=...` setting of the PostgreSQL StatefulSets of dist/. */
function archivingServers(dist: Dist): DistObject[] {
  return objectsOfKind(dist, 'StatefulSet').filter((item) =>
    ((item.object.spec?.template?.spec?.containers ?? []) as { args?: string[] }[]).some((container) => (container.args ?? []).includes('archive_mode=on')),
  );
}

export const postgresLiveArchiver: Check<PostgresLiveContext> = {
  id: 'postgres-live-archiver',
  description: "WAL archiving is on where dist/ turns it on, and the archiver's last attempt succeeded (pg_stat_archiver)",
  component: 'postgres',
  remediation:
    'kubectl -n postgres logs postgres-0 | grep archive-wal (why the archive_command fails: a full backup volume?); kubectl -n postgres exec postgres-0 -- df -h /var/lib/postgresql/backup',
  run: async ({ dist, postgres }) => {
    const servers = archivingServers(dist);
    if (servers.length === 0) return [skip('no StatefulSet in dist/ sets archive_mode=on (postgres.backup.enabled is false)')];
    const refs = servers.map(refOf);
    const [state] = await postgres.query<{
      mode: string;
      archived: string;
      failed: string;
      last_archived_wal: string | null;
      last_archived_time: Date | null;
      last_failed_wal: string | null;
      last_failed_time: Date | null;
      ready: string | null;
    }>(
      `SELECT current_setting('archive_mode') AS mode, archived_count AS archived, failed_count AS failed,
              last_archived_wal, last_archived_time, last_failed_wal, last_failed_time
         FROM pg_stat_archiver`,
    );
    if (state.mode !== 'on' && state.mode !== 'always') {
      return [fail(refs, `archive_mode is ${state.mode} on the server, dist/ sets on: nothing is archived (restart the server to apply it)`)];
    }
    const failingNow = state.last_failed_time !== null && (state.last_archived_time === null || state.last_failed_time > state.last_archived_time);
    if (failingNow) {
      return [
        fail(
          refs,
          `the WAL archiver is failing: ${state.failed} failed attempts, the last on ${state.last_failed_wal} at ${state.last_failed_time!.toISOString()}; ` +
            `last success ${state.last_archived_wal ?? 'never'}${state.last_archived_time ? ` at ${state.last_archived_time.toISOString()}` : ''}. ` +
            'PostgreSQL keeps the WAL in pg_wal (nothing is lost) and retries, but pg_wal grows and nothing newer can be restored',
        ),
      ];
    }
    return [pass(refs, `archiving on: ${state.archived} segments archived, the last ${state.last_archived_wal ?? '(none yet)'}; ${state.failed} failed attempts, none since`)];
  },
};

export const postgresLiveMigrations: Check<PostgresLiveContext> = {
  id: 'postgres-live-migrations',
  description: 'every migration shipped in dist/ is recorded in schema_migrations with the sha256 of the shipped file',
  component: 'postgres',
  remediation: RUN_MIGRATIONS,
  run: async ({ dist, postgres }) => {
    const shipped = shippedMigrations(dist);
    if (shipped.length === 0) return [skip('no Job in dist/ mounts migrations/NNN_name.sql')];
    const [{ present }] = await postgres.query<{ present: boolean }>(
      `SELECT EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname = 'public' AND c.relname = 'schema_migrations') AS present`,
    );
    const jobRefs = [...new Set(shipped.map((m) => m.job))].map(refOf);
    if (!present) return [fail(jobRefs, 'public.schema_migrations does not exist: the migrations Job has not run in this database')];
    const applied = await postgres.query<{ version: string; name: string; checksum: string }>('SELECT version, name, checksum FROM public.schema_migrations ORDER BY version');
    const results = shipped.map((migration): CheckResult => {
      const file = `${migration.version}_${migration.name}.sql`;
      const refs = [refOf(migration.job), refOf(migration.configMap)];
      const record = applied.find((row) => row.version === migration.version);
      if (!record) return fail(refs, `${file} is not applied`);
      if (record.name !== migration.name || record.checksum !== migration.checksum) {
        return fail(
          refs,
          `${file} was applied as ${record.version}_${record.name}.sql with sha256 ${record.checksum}; dist/ ships sha256 ${migration.checksum}`,
          'applied migrations are immutable: restore the file as it was applied and put the change in a new migration',
        );
      }
      return pass(refs, `${file} applied, sha256 matches`);
    });
    const unknown = applied.filter((row) => !shipped.some((m) => m.version === row.version));
    for (const row of unknown) results.push(warn(jobRefs, `the database has ${row.version}_${row.name}.sql, which dist/ does not ship (dist/ older than the schema?)`));
    return results;
  },
};

export const postgresLiveTables: Check<PostgresLiveContext> = {
  id: 'postgres-live-tables',
  description: 'the 9 LearnFlow tables exist in schema public, each with the indexes the shipped migrations create on it',
  component: 'postgres',
  remediation: RUN_MIGRATIONS,
  run: async ({ dist, postgres }) => {
    const indexes = shippedMigrations(dist).flatMap((migration) => createdIndexes(migration.sql));
    const relations = await postgres.query<{ name: string; kind: string }>(
      `SELECT c.relname AS name, c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'i', 'I')`,
    );
    const tables = new Set(relations.filter((r) => r.kind === 'r' || r.kind === 'p').map((r) => r.name));
    const indexNames = new Set(relations.filter((r) => r.kind === 'i' || r.kind === 'I').map((r) => r.name));
    return LEARNFLOW_TABLES.map((table) => {
      if (!tables.has(table)) return fail([tableRef(table)], `table public.${table} does not exist`);
      const expected = indexes.filter((index) => index.table === table).map((index) => index.name);
      const missing = expected.filter((name) => !indexNames.has(name));
      return missing.length === 0
        ? pass([tableRef(table)], `public.${table} exists${expected.length ? ` with its indexes ${expected.join(', ')}` : ''}`)
        : fail([tableRef(table)], `public.${table} lacks index(es) ${missing.join(', ')}`);
    });
  },
};

export const postgresLiveSeed: Check<PostgresLiveContext> = {
  id: 'postgres-live-seed',
  description: `the seed is loaded: ${CURRICULUM_TOPIC_COUNT} curriculum topics, and the admin, teacher and student test users where dist/ seeds them (SEED_TEST_USERS=true)`,
  component: 'postgres',
  remediation: 'kubectl -n postgres logs job/<seed job>; re-apply dist/ to run the seed Job again (it only inserts missing rows)',
  run: async ({ dist, postgres }) => {
    const counted = await unlessTableMissing(postgres.query<{ topics: number }>('SELECT count(*)::int AS topics FROM public.topics'));
    if (!counted) return [skip('public.topics does not exist (see postgres-live-tables)')];
    const [{ topics }] = counted;
    const results = [
      topics >= CURRICULUM_TOPIC_COUNT
        ? pass([tableRef('topics')], `${topics} curriculum topics`)
        : fail([tableRef('topics')], `${topics} curriculum topics, LearnFlow needs ${CURRICULUM_TOPIC_COUNT}`),
    ];
    // The profile as dist/ says it: development profiles set SEED_TEST_USERS=true on the seed Job.
    const testUsers = jobEnv(dist, 'SEED_TEST_USERS');
    if (testUsers?.value !== 'true') return results;
    const rows = await unlessTableMissing(
      postgres.query<{ role: string; users: number }>(
        `SELECT role::text, count(*)::int AS users FROM public.users WHERE role::text IN ('admin', 'teacher', 'student') GROUP BY role`,
      ),
    );
    if (!rows) return [...results, skip('public.users does not exist (see postgres-live-tables)')];
    const missing = ['admin', 'teacher', 'student'].filter((role) => !rows.some((row) => row.role === role && row.users > 0));
    const refs = [tableRef('users'), refOf(testUsers.job)];
    results.push(
      missing.length === 0
        ? pass(refs, 'test users: an admin, a teacher and a student')
        : fail(refs, `${refOf(testUsers.job).name} seeds test users, but there is no ${missing.join(', ')} user`),
    );
    return results;
  },
};

export const postgresLiveRolePrivileges: Check<PostgresLiveContext> = {
  id: 'postgres-live-role-privileges',
  description: 'the application role reads and writes the LearnFlow tables and nothing more: no superuser, no CREATE in schema public, no writes to schema_migrations',
  component: 'postgres',
  remediation: 'REVOKE the extra privilege, then re-apply dist/ so that the migrations Job re-runs privileges.sql',
  run: async ({ dist, postgres }) => {
    const role = jobEnv(dist, 'APP_ROLE')?.value ?? postgres.user;
    const results: CheckResult[] = [];
    // Its rotation twin acts as the role from login (seed/cluster.sql): the same privileges.
    if (role !== postgres.user && postgres.user !== jobEnv(dist, 'APP_ROLE_TWIN')?.value) {
      results.push(warn([roleRef(postgres.user)], `connected as ${postgres.user}, not the application role ${role}: the write round trip ran with that role's privileges`));
    }
    const [attributes] = await postgres.query<{ rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean; rolbypassrls: boolean; schema_create: boolean }>(
      `SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, has_schema_privilege(rolname, 'public', 'CREATE') AS schema_create
         FROM pg_roles WHERE rolname = $1`,
      [role],
    );
    if (!attributes) return [...results, fail([roleRef(role)], `role ${role} does not exist`, RUN_MIGRATIONS)];
    const extra = [
      ...(['rolsuper', 'rolcreaterole', 'rolcreatedb', 'rolbypassrls'] as const).filter((flag) => attributes[flag]).map((flag) => flag.replace(/^rol/, '').toUpperCase()),
      ...(attributes.schema_create ? ['CREATE on schema public'] : []),
    ];
    results.push(
      extra.length === 0
        ? pass([roleRef(role)], `${role}: not superuser, cannot create roles, databases or objects in schema public`)
        : fail([roleRef(role)], `${role} has ${extra.join(', ')}`),
    );
    const grants = await postgres.query<{ name: string; select: boolean; insert: boolean; update: boolean; delete: boolean }>(
      `SELECT c.relname AS name,
              has_table_privilege($1, c.oid, 'SELECT') AS select, has_table_privilege($1, c.oid, 'INSERT') AS insert,
              has_table_privilege($1, c.oid, 'UPDATE') AS update, has_table_privilege($1, c.oid, 'DELETE') AS delete
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY($2)`,
      [role, [...LEARNFLOW_TABLES, 'schema_migrations']],
    );
    const dml = ['select', 'insert', 'update', 'delete'] as const;
    for (const table of LEARNFLOW_TABLES) {
      const grant = grants.find((row) => row.name === table);
      if (!grant) continue; // postgres-live-tables reports the missing table.
      const lacking = dml.filter((privilege) => !grant[privilege]).map((privilege) => privilege.toUpperCase());
      results.push(lacking.length === 0 ? pass([tableRef(table)], `${role} may SELECT, INSERT, UPDATE, DELETE on ${table}`) : fail([tableRef(table)], `${role} may not ${lacking.join(', ')} on ${table}`));
    }
    const history = grants.find((row) => row.name === 'schema_migrations');
    const writes = history ? (['insert', 'update', 'delete'] as const).filter((privilege) => history[privilege]).map((privilege) => privilege.toUpperCase()) : [];
    if (writes.length > 0) results.push(fail([tableRef('schema_migrations')], `${role} may ${writes.join(', ')} on schema_migrations (the migration history must be read-only to services)`));
    return results;
  },
};

export const postgresLiveWriteRoundTrip: Check<PostgresLiveContext> = {
  id: 'postgres-live-write-round-trip',
  description: 'as the connecting role, a curriculum topic is inserted, updated, read and deleted in a transaction that is rolled back, leaving nothing behind',
  component: 'postgres',
  remediation: 'the error names the failing statement: a missing privilege (see postgres-live-role-privileges), a read-only server, or a full disk',
  run: async ({ postgres }) => {
    const slug = `learnflow-verify-${randomBytes(6).toString('hex')}`;
    const refs = [tableRef('topics'), roleRef(postgres.user)];
    let step = 'BEGIN';
    try {
      await postgres.query('BEGIN');
      try {
        step = 'INSERT';
        // Module 99, position 99: inside the CHECK ranges and far from the 8-module curriculum.
        const [inserted] = await postgres.query<{ id: string }>(
          `INSERT INTO public.topics (slug, module_number, module_name, position, name, difficulty)
           VALUES ($1, 99, 'learnflow verify', 99, 'learnflow verify round trip', 1) RETURNING id`,
          [slug],
        );
        step = 'UPDATE';
        await postgres.query(`UPDATE public.topics SET description = 'written by npm run verify, rolled back' WHERE id = $1`, [inserted.id]);
        step = 'SELECT';
        const [read] = await postgres.query<{ description: string }>('SELECT description FROM public.topics WHERE id = $1', [inserted.id]);
        if (read?.description !== 'written by npm run verify, rolled back') return [fail(refs, 'the row read back inside the transaction is not the one written')];
        step = 'DELETE';
        await postgres.query('DELETE FROM public.topics WHERE id = $1', [inserted.id]);
      } finally {
        await postgres.query('ROLLBACK');
      }
      step = 'the check after ROLLBACK';
      const [{ left }] = await postgres.query<{ left: number }>('SELECT count(*)::int AS left FROM public.topics WHERE slug = $1', [slug]);
      return left === 0
        ? [pass(refs, `INSERT, UPDATE, SELECT, DELETE on topics as ${postgres.user}, rolled back, nothing left behind`)]
        : [fail(refs, `${left} row(s) with slug ${slug} left behind after ROLLBACK`, `DELETE FROM topics WHERE slug = '${slug}'`)];
    } catch (error) {
      if ((error as { code?: string }).code === undefined) throw error;
      return [fail(refs, `${step} failed: ${(error as Error).message}`)];
    }
  },
};
