import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { quantityValue } from '../lib/config/quantity';
import { isPinnedImage } from '../verify/checks/pod-security';
import { parseJavaMaxHeap } from '../verify/jvm-options';
import { parseTopicsConf } from '../verify/kafka-topics';
import { CURRICULUM_TOPIC_COUNT, LEARNFLOW_TABLES } from '../verify/mission';
import { SchemaValidators } from '../verify/schema/schemas';
import { createdTables, insertedRowCount, stripCommentsAndLiterals } from '../verify/sql';
import { REFERENCE_DIR } from './fixtures/verify/helpers';
import { ROOT, tempDir } from './support/synth';

const readSqlDir = (dir: string) =>
  fs
    .readdirSync(path.join(ROOT, dir))
    .filter((name) => name.endsWith('.sql'))
    .map((name) => fs.readFileSync(path.join(ROOT, dir, name), 'utf8'));

describe('verify: the readers behind the checks', () => {
  it.each([
    ['1Gi', 2 ** 30],
    ['512Mi', 512 * 2 ** 20],
    ['250m', 0.25],
    ['1', 1],
    ['1.5', 1.5],
    ['2G', 2e9],
    ['1e3', 1000],
    ['1.', 1],
    ['-1Gi', -(2 ** 30)],
    ['+5E-1', 0.5],
    [' 2Ki ', 2048],
    [3, 3],
  ])('quantity %j is %d', (text, value) => expect(quantityValue(text)).toBe(value));

  it.each(['5GB', '512 Mi', '', 'Gi', '1e', '1e400', '--1', null])('quantity %j is malformed', (text) => expect(quantityValue(text)).toBeUndefined());

  it('reads -Xmx the way the JVM does: binary units, last one wins', () => {
    expect(parseJavaMaxHeap('-Xmx512m -Xms512m')).toBe(512 * 2 ** 20);
    expect(parseJavaMaxHeap('-Xmx1G -XX:+UseG1GC -Xmx2g')).toBe(2 * 2 ** 30);
    expect(parseJavaMaxHeap('-Xms1g')).toBeUndefined();
  });

  it.each([
    ['apache/kafka:4.1.1', true],
    ['postgres:16.13', true],
    [`postgres@sha256:${'a'.repeat(64)}`, true],
    ['registry:5000/team/kafka:1.0', true],
    ['apache/kafka:latest', false],
    ['apache/kafka', false],
    ['registry:5000/team/kafka', false],
  ])('image %s pinned: %s', (image, pinned) => expect(isPinnedImage(image)).toBe(pinned));

  it('parses topics.conf lines and reports malformed ones by line', () => {
    const { topics, errors } = parseTopicsConf('# comment\nlearning.query 3 1 retention.ms=604800000,min.insync.replicas=1\n\nbad line\nx 1 1 novalue\n');
    expect(topics).toEqual([{ name: 'learning.query', partitions: 3, replicationFactor: 1, configs: { 'retention.ms': '604800000', 'min.insync.replicas': '1' }, line: 2 }]);
    expect(errors).toEqual([expect.stringMatching(/^line 4: /), expect.stringMatching(/^line 5: config 'novalue'/)]);
  });

  it('ignores SQL in comments and string literals', () => {
    const sql = "-- CREATE TABLE a (x int);\n/* CREATE TABLE b (x int); */\nINSERT INTO t VALUES ('CREATE TABLE c (x int)', $$CREATE TABLE d$$);\nCREATE TABLE IF NOT EXISTS public.\"e\" (x int);";
    expect(createdTables(sql)).toEqual(['e']);
    expect(stripCommentsAndLiterals("SELECT 'it''s'")).toBe("SELECT ''");
  });

  it('counts the rows of INSERT ... VALUES, also nested in INSERT ... SELECT FROM (VALUES ...)', () => {
    const sql = "INSERT INTO topics (a, b) VALUES (1, f(2, 3)), (4, '(5)') ON CONFLICT DO NOTHING;\nINSERT INTO topics SELECT * FROM (VALUES (1), (2)) AS v(a);\nINSERT INTO other VALUES (9);";
    expect(insertedRowCount(sql, 'topics')).toBe(4);
    expect(insertedRowCount(sql, 'other')).toBe(1);
  });

  it("reads the project's own migrations and seeds: the 9 tables and the 24 curriculum topics", () => {
    const tables = readSqlDir('seed/migrations').flatMap(createdTables);
    expect(LEARNFLOW_TABLES.filter((table) => !tables.includes(table))).toEqual([]);
    const rows = readSqlDir('seed/data').reduce((sum, sql) => sum + insertedRowCount(sql, 'topics'), 0);
    expect(rows).toBe(CURRICULUM_TOPIC_COUNT);
  });

  it('validates the same from compiled code and from the cache of generated code', () => {
    const cacheRoot = tempDir('verify-schema-cache');
    const definitions = path.join(REFERENCE_DIR, 'k8s-schema-1.28', '_definitions.json');
    const crds = [path.join(REFERENCE_DIR, 'dapr-crds', 'components.yaml')];
    const service = (extra: Record<string, unknown>) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's', namespace: 'n' },
      spec: { ports: [{ port: 80, targetPort: 'http' }], ...extra },
    });
    const component = { apiVersion: 'dapr.io/v1alpha1', kind: 'Component', metadata: { name: 'c', labelz: {} }, spec: { type: 'pubsub.kafka', version: 'v1', metadata: [] } };
    const run = (validators: SchemaValidators) => [
      validators.validate(service({})),
      validators.validate(service({ clusterIp: 'None', ports: [{ port: 'eighty' }] })),
      validators.validate(component),
      validators.validate({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }),
    ];
    const compiled = run(new SchemaValidators(definitions, crds, cacheRoot));
    expect(compiled).toEqual([[], ['spec.clusterIp: unknown field', 'spec.ports[0].port: must be integer'], ['metadata.labelz: unknown field'], undefined]);
    const [cacheDir] = fs.readdirSync(cacheRoot);
    expect(fs.readdirSync(path.join(cacheRoot, cacheDir)).sort()).toEqual(['_v1_Service.js', 'dapr.io_v1alpha1_Component.js', 'index.json']);
    expect(run(new SchemaValidators(definitions, crds, cacheRoot))).toEqual(compiled);
  });
});
