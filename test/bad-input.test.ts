import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { readTree, runSynthCli, tempDir } from './support/synth';

const topic = (overrides: Record<string, unknown>) => ({ name: 'learning.query', partitions: 3, retention: '7d', ...overrides });

interface BadInput {
  readonly case: string;
  readonly override?: unknown;
  readonly args?: readonly string[];
  /** The field path the message must name. */
  readonly path: string;
  /** Text of the offending value the message must show. */
  readonly value: string;
  /** Words of the rule the message must state. @default - not asserted */
  readonly rule?: string;
}

// Each case is one broken setting; the error must name where it is, what it is, and the rule.
const BAD_INPUTS: BadInput[] = [
  { case: 'topic name with a space', override: { kafka: { topics: [topic({ name: 'learning query' })] } }, path: 'kafka.topics[0].name', value: '"learning query"' },
  { case: 'topic name over 249 characters', override: { kafka: { topics: [topic({ name: 'a'.repeat(250) })] } }, path: 'kafka.topics[0].name', value: 'aaaa' },
  { case: 'reserved internal topic name', override: { kafka: { topics: [topic({ name: '__consumer_offsets' })] } }, path: 'kafka.topics[0].name', value: '__consumer_offsets' },
  { case: 'zero partitions', override: { kafka: { topics: [topic({ partitions: 0 })] } }, path: 'kafka.topics[0].partitions', value: '0' },
  { case: 'fractional partitions', override: { kafka: { topics: [topic({ partitions: 1.5 })] } }, path: 'kafka.topics[0].partitions', value: '1.5' },
  { case: 'replication factor above brokers', override: { kafka: { topics: [topic({ replicationFactor: 3 })] } }, path: 'kafka.topics[0].replicationFactor', value: '3' },
  { case: 'min.insync.replicas above replication factor', override: { kafka: { topics: [topic({ minInsyncReplicas: 2 })] } }, path: 'kafka.topics[0].minInsyncReplicas', value: '2' },
  { case: 'retention in words', override: { kafka: { topics: [topic({ retention: '7 days' })] } }, path: 'kafka.topics[0].retention', value: '7 days' },
  { case: 'retention below -1', override: { kafka: { topics: [topic({ retention: -2 })] } }, path: 'kafka.topics[0].retention', value: '-2' },
  { case: 'duplicate topic', override: { kafka: { topics: [topic({}), topic({})] } }, path: 'kafka.topics[1].name', value: 'learning.query' },
  { case: "'.' and '_' collision", override: { kafka: { topics: [topic({}), topic({ name: 'learning_query' })] } }, path: 'kafka.topics[1].name', value: 'learning_query' },
  { case: 'topic config value with a comma', override: { kafka: { topics: [topic({ configs: { 'segment.ms': '1,2' } })] } }, path: 'kafka.topics[0].configs.segment.ms', value: '1,2' },
  { case: "memory '5GB'", override: { kafka: { resources: { limits: { memory: '5GB' } } } }, path: 'kafka.resources.limits.memory', value: '5GB' },
  { case: "memory in milli ('512m')", override: { kafka: { resources: { requests: { memory: '512m' } } } }, path: 'kafka.resources.requests.memory', value: '512m' },
  { case: 'cpu request above limit', override: { kafka: { resources: { requests: { cpu: '2' } } } }, path: 'kafka.resources.requests.cpu', value: '2' },
  { case: 'storage size with a space', override: { kafka: { storage: { size: '10 GiB' } } }, path: 'kafka.storage.size', value: '10 GiB' },
  { case: 'namespace not DNS-1123', override: { platform: { namespaces: { kafka: 'Kafka_NS' } } }, path: 'platform.namespaces.kafka', value: 'Kafka_NS' },
  { case: 'two concerns in one namespace', override: { platform: { namespaces: { postgres: 'kafka' } } }, path: 'platform.namespaces.postgres', value: 'kafka' },
  { case: 'unknown key', override: { kafka: { replicas: 3 } }, path: 'kafka.replicas', value: '3' },
  { case: 'misspelt top-level key', override: { kafak: { brokers: 3 } }, path: 'kafak', value: 'brokers' },
  { case: "image tagged 'latest'", override: { kafka: { image: 'apache/kafka:latest' } }, path: 'kafka.image', value: 'apache/kafka:latest', rule: 'pinned' },
  { case: "postgres image tagged 'latest'", override: { postgres: { image: 'postgres:latest' } }, path: 'postgres.image', value: 'postgres:latest', rule: 'pinned' },
  { case: 'image without a tag', override: { kafka: { image: 'apache/kafka' } }, path: 'kafka.image', value: 'apache/kafka' },
  { case: 'zero brokers', override: { kafka: { brokers: 0 } }, path: 'kafka.brokers', value: '0' },
  { case: 'malformed cluster id', override: { kafka: { clusterId: 'short' } }, path: 'kafka.clusterId', value: 'short' },
  { case: 'heap share too large', override: { kafka: { heapPercent: 90 } }, path: 'kafka.heapPercent', value: '90' },
  { case: 'database name not an identifier', override: { postgres: { database: 'Learnflow-DB' } }, path: 'postgres.database', value: 'Learnflow-DB' },
  { case: 'postgres storage in GB', override: { postgres: { storage: { size: '5GB' } } }, path: 'postgres.storage.size', value: '5GB' },
  { case: 'no Dapr app-ids', override: { dapr: { appIds: [] } }, path: 'dapr.appIds', value: '[]' },
  { case: 'profile set in an override', override: { profile: 'production' }, path: 'profile', value: 'production', rule: '--profile' },
  { case: 'development flag set in an override', override: { development: true }, path: 'development', value: 'true', rule: '--profile' },
  { case: 'dead-letter topic not declared', override: { dapr: { subscriptions: [{ topic: 'learning.query', route: '/q', appIds: ['triage-agent'], deadLetterTopic: 'dlq' }] } }, path: 'dapr.subscriptions[0].deadLetterTopic', value: 'dlq' },
  { case: 'subscription for an app-id outside the scopes', override: { dapr: { subscriptions: [{ topic: 'learning.query', route: '/q', appIds: ['stranger'] }] } }, path: 'dapr.subscriptions[0].appIds[0]', value: 'stranger' },
  { case: 'unknown profile', args: ['--profile', 'staging'], path: 'profile', value: 'staging' },
  { case: 'override file is not a mapping', override: ['a', 'list'], path: '(root)', value: 'list' },
];

describe('bad input: one clear error, non-zero exit, dist/ untouched', () => {
  let outDir: string;
  let before: Record<string, string>;
  const work = tempDir('bad-input');

  beforeAll(() => {
    outDir = path.join(work, 'dist');
    const first = runSynthCli(['--out', outDir]);
    expect(first.status, first.stderr).toBe(0);
    before = readTree(outDir);
  });

  it('has at least 20 cases', () => {
    expect(BAD_INPUTS.length).toBeGreaterThanOrEqual(20);
  });

  it.each(BAD_INPUTS.map((c) => [c.case, c] as const))('%s', (_name, badInput) => {
    const args = [...(badInput.args ?? []), '--out', outDir];
    if (badInput.override !== undefined) {
      const file = path.join(work, `${badInput.case.replace(/\W+/g, '-')}.yaml`);
      fs.writeFileSync(file, yaml.dump(badInput.override));
      args.push('--config', file);
    }
    const result = runSynthCli(args);
    expect(result.status).toBe(1);
    const problemLine = result.stderr.split('\n').find((line) => line.includes(`${badInput.path}:`));
    expect(problemLine, result.stderr).toBeDefined();
    expect(problemLine).toContain(badInput.value);
    if (badInput.rule) expect(problemLine).toContain(badInput.rule);
    expect(result.stderr).toContain('left unchanged');
    expect(readTree(outDir)).toEqual(before);
  });

  it('reports a missing override file by name', () => {
    const result = runSynthCli(['--config', path.join(work, 'nope.yaml'), '--out', outDir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/nope\.yaml.*cannot be read/s);
    expect(readTree(outDir)).toEqual(before);
  });

  it('reports invalid YAML in the override file', () => {
    const file = path.join(work, 'broken.yaml');
    fs.writeFileSync(file, 'kafka: {brokers: [1,\n');
    const result = runSynthCli(['--config', file, '--out', outDir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('is not valid YAML');
    expect(readTree(outDir)).toEqual(before);
  });

  it('accepts a valid override and applies it', () => {
    const file = path.join(work, 'good.yaml');
    fs.writeFileSync(file, yaml.dump({ kafka: { storage: { size: '20Gi' } } }));
    const goodOut = path.join(work, 'good-dist');
    const result = runSynthCli(['--config', file, '--out', goodOut]);
    expect(result.status, result.stderr).toBe(0);
    expect(fs.readFileSync(path.join(goodOut, '10-kafka.yaml'), 'utf8')).toContain('storage: 20Gi');
  });
});
