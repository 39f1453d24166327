import type { StaticContext } from '../context';
import type { Dist } from '../dist';
import { CURRICULUM_TOPIC_COUNT, LEARNFLOW_TABLES } from '../mission';
import { type Check, type CheckResult, type DistObject, fail, pass, refOf, skip } from '../model';
import { createdTables, insertedRowCount } from '../sql';
import { objectsOfKind, postgresStatefulSets } from '../workloads';

interface SqlFile {
  readonly configMap: DistObject;
  readonly key: string;
  readonly sql: string;
}

/** Every .sql file shipped in a ConfigMap of dist/ (migrations and seeds ship verbatim, reviewable). */
function sqlFiles(dist: Dist): SqlFile[] {
  return objectsOfKind(dist, 'ConfigMap').flatMap((configMap) =>
    Object.entries((configMap.object.data ?? {}) as Record<string, unknown>)
      .filter(([key, sql]) => key.endsWith('.sql') && typeof sql === 'string')
      .map(([key, sql]) => ({ configMap, key, sql: sql as string })),
  );
}

/** Skip when PostgreSQL is not part of dist/ at all; fail when it runs without the SQL it needs. */
function withSql(dist: Dist, judge: (files: SqlFile[]) => CheckResult[]): CheckResult[] {
  const files = sqlFiles(dist);
  if (files.length > 0) return judge(files);
  const servers = postgresStatefulSets(dist);
  return servers.length === 0
    ? [skip('no PostgreSQL StatefulSet and no SQL ConfigMap in dist/')]
    : [fail(servers.map(refOf), 'PostgreSQL runs but no ConfigMap in dist/ ships .sql migrations or seeds')];
}

export const postgresTablesDeclared: Check<StaticContext> = {
  id: 'postgres-tables-declared',
  description: 'the migrations shipped in dist/ create the 9 LearnFlow tables',
  component: 'postgres',
  remediation: 'add a migration under seed/migrations that creates the table, then npm run synth',
  run: ({ dist }) =>
    withSql(dist, (files) => {
      const creators = new Map<string, SqlFile>();
      for (const file of files) for (const table of createdTables(file.sql)) if (!creators.has(table)) creators.set(table, file);
      return LEARNFLOW_TABLES.map((table) => {
        const file = creators.get(table);
        return file
          ? pass([refOf(file.configMap)], `table ${table} created by ${file.key}`)
          : fail([...new Set(files.map((f) => f.configMap))].map(refOf), `no migration creates table ${table}`);
      });
    }),
};

export const postgresSeedCurriculum: Check<StaticContext> = {
  id: 'postgres-seed-curriculum',
  description: `the seed SQL inserts the ${CURRICULUM_TOPIC_COUNT}-topic Python curriculum (8 modules x 3 topics)`,
  component: 'postgres',
  remediation: 'seed every curriculum topic with INSERT INTO topics ... VALUES (...), one row per topic',
  run: ({ dist }) =>
    withSql(dist, (files) => {
      const seeding = files.map((file) => ({ file, rows: insertedRowCount(file.sql, 'topics') })).filter((entry) => entry.rows > 0);
      const rows = seeding.reduce((sum, entry) => sum + entry.rows, 0);
      const refs = [...new Set(seeding.map((entry) => entry.file.configMap))].map(refOf);
      return rows >= CURRICULUM_TOPIC_COUNT
        ? [pass(refs, `${rows} curriculum topics seeded by ${seeding.map((entry) => entry.file.key).join(', ')}`)]
        : [fail(refs.length > 0 ? refs : [...new Set(files.map((f) => f.configMap))].map(refOf), `${rows} curriculum topics seeded, LearnFlow needs ${CURRICULUM_TOPIC_COUNT}`)];
    }),
};
