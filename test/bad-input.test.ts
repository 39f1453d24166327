import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../lib/exit-codes';
import { readTree, runSynthCli, tempDir } from './support/synth';

const topic = (overrides: Record<string, unknown>) => ({ name: 'learning.query', partitions: 3, retention: '7d', ...overrides });

interface BadInput {
  readonly case: string;
  readonly override?: unknown;
  /** The override file's text, verbatim (YAML that yaml.dump would not write). @default - override, dumped */
  readonly overrideText?: string;
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
  { case: 'topic name with a space', override: { kafka: { topics: [topic({ name: 'learning query' })] } }, path: 'kafka.topics[learning query].name', value: '"learning query"' },
  { case: 'topic name over 249 characters', override: { kafka: { topics: [topic({ name: 'a'.repeat(250) })] } }, path: `kafka.topics[${'a'.repeat(57)}...].name`, value: 'aaaa' },
  { case: 'reserved internal topic name', override: { kafka: { topics: [topic({ name: '__consumer_offsets' })] } }, path: 'kafka.topics[__consumer_offsets].name', value: '__consumer_offsets' },
  { case: 'zero partitions', override: { kafka: { topics: [topic({ partitions: 0 })] } }, path: 'kafka.topics[learning.query].partitions', value: '0' },
  { case: 'fractional partitions', override: { kafka: { topics: [topic({ partitions: 1.5 })] } }, path: 'kafka.topics[learning.query].partitions', value: '1.5' },
  { case: 'replication factor above brokers', override: { kafka: { topics: [topic({ replicationFactor: 3 })] } }, path: 'kafka.topics[learning.query].replicationFactor', value: '3' },
  { case: 'min.insync.replicas above replication factor', override: { kafka: { topics: [topic({ minInsyncReplicas: 2 })] } }, path: 'kafka.topics[learning.query].minInsyncReplicas', value: '2' },
  // What `npm run verify` would refuse (kafka-min-insync-replicas, pdb-availability) is refused at synth too.
  { case: 'min.insync.replicas equal to the replication factor', args: ['--profile', 'production'], override: { kafka: { topics: [topic({ minInsyncReplicas: 3 })] } }, path: 'kafka.topics[learning.query].minInsyncReplicas', value: '3', rule: 'one broker down' },
  { case: 'a topic of one replica in production', args: ['--profile', 'production'], override: { kafka: { topics: [topic({ replicationFactor: 1 })] } }, path: 'kafka.topics[learning.query].replicationFactor', value: '1', rule: 'min.insync.replicas 1 in production' },
  { case: 'one broker in production', args: ['--profile', 'production'], override: { kafka: { brokers: 1 } }, path: 'kafka.brokers', value: '1', rule: '>= 3 in production' },
  { case: 'preferred anti-affinity in production', args: ['--profile', 'production'], override: { kafka: { antiAffinity: 'preferred' } }, path: 'kafka.antiAffinity', value: 'preferred', rule: "'required' in production" },
  { case: 'retention in words', override: { kafka: { topics: [topic({ retention: '7 days' })] } }, path: 'kafka.topics[learning.query].retention', value: '7 days' },
  { case: 'retention below -1', override: { kafka: { topics: [topic({ retention: -2 })] } }, path: 'kafka.topics[learning.query].retention', value: '-2' },
  { case: 'duplicate topic', override: { kafka: { topics: [topic({}), topic({})] } }, path: 'kafka.topics[learning.query].name', value: 'learning.query', rule: 'listed twice' },
  { case: "'.' and '_' collision", override: { kafka: { topics: [topic({}), topic({ name: 'learning_query' })] } }, path: 'kafka.topics[learning_query].name', value: 'learning_query', rule: 'collides with topic learning.query' },
  { case: 'topic config value with a comma', override: { kafka: { topics: [topic({ configs: { 'segment.ms': '1,2' } })] } }, path: 'kafka.topics[learning.query].configs.segment.ms', value: '1,2' },
  // Topic configs against Kafka's own definitions (lib/config/kafka-topic-configs/).
  { case: 'unknown topic config', override: { kafka: { topics: [topic({ configs: { 'retention.hours': '12' } })] } }, path: 'kafka.topics[learning.query].configs.retention.hours', value: '12', rule: 'is not a topic config of Kafka 4.3.1' },
  { case: 'topic config of the wrong type', override: { kafka: { topics: [topic({ configs: { 'unclean.leader.election.enable': 'sometimes' } })] } }, path: 'kafka.topics[learning.query].configs.unclean.leader.election.enable', value: 'sometimes', rule: 'true or false' },
  { case: 'topic config that a field sets', override: { kafka: { topics: [topic({ configs: { 'retention.ms': '3600000' } })] } }, path: 'kafka.topics[learning.query].configs.retention.ms', value: '3600000', rule: "topic's retention field" },
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
  { case: 'digest too short', override: { postgres: { image: 'postgres:16.13@sha256:abc123' } }, path: 'postgres.image', value: 'postgres:16.13@sha256:abc123', rule: '@sha256:<64 lower-case hex digits>' },
  { case: 'digest of another algorithm', override: { kafka: { image: `apache/kafka:4.3.1@sha512:${'a'.repeat(128)}` } }, path: 'kafka.image', value: 'apache/kafka:4.3.1@sha512', rule: '@sha256:<64 lower-case hex digits>' },
  { case: 'digest in upper case', override: { postgres: { image: `postgres:16.13@sha256:${'A'.repeat(64)}` } }, path: 'postgres.image', value: 'postgres:16.13@sha256:AAAA', rule: '@sha256:<64 lower-case hex digits>' },
  { case: 'zero brokers', override: { kafka: { brokers: 0 } }, path: 'kafka.brokers', value: '0' },
  { case: 'malformed cluster id', override: { kafka: { clusterId: 'short' } }, path: 'kafka.clusterId', value: 'short' },
  // Java's decoder would drop the last character's low bits: Kafka would store another id than the config's.
  { case: 'cluster id that does not encode 16 bytes exactly', override: { kafka: { clusterId: 'TGVhcm5GbG93S2Fma2EwMB' } }, path: 'kafka.clusterId', value: 'TGVhcm5GbG93S2Fma2EwMB', rule: 'encoding 16 bytes' },
  { case: 'reserved cluster id', override: { kafka: { clusterId: 'AAAAAAAAAAAAAAAAAAAAAA' } }, path: 'kafka.clusterId', value: 'AAAAAAAAAAAAAAAAAAAAAA', rule: 'reserves' },
  { case: 'an even number of KRaft voters', args: ['--profile', 'production'], override: { kafka: { controllers: 4 } }, path: 'kafka.controllers', value: '4', rule: 'must be 1, 3 or 5' },
  { case: 'more than 5 KRaft voters', args: ['--profile', 'production'], override: { kafka: { controllers: 7 } }, path: 'kafka.controllers', value: '7', rule: 'must be 1, 3 or 5' },
  { case: 'two combined nodes (a 2-voter quorum)', override: { kafka: { brokers: 2, controllers: 2 } }, path: 'kafka.controllers', value: '2', rule: 'even count' },
  { case: 'brokers other than voters on combined nodes', override: { kafka: { brokers: 3 } }, path: 'kafka.brokers', value: '3', rule: 'must equal kafka.controllers (1) while kafka.dedicatedControllers is false' },
  { case: 'fewer brokers than a topic replicates to', args: ['--profile', 'production'], override: { kafka: { brokers: 2, topics: [topic({ replicationFactor: 3 })] } }, path: 'kafka.topics[learning.query].replicationFactor', value: '3', rule: 'kafka.brokers = 2' },
  { case: 'heap share too large', override: { kafka: { heapPercent: 90 } }, path: 'kafka.heapPercent', value: '90' },
  { case: 'database name not an identifier', override: { postgres: { database: 'Learnflow-DB' } }, path: 'postgres.database', value: 'Learnflow-DB' },
  { case: 'postgres storage in GB', override: { postgres: { storage: { size: '5GB' } } }, path: 'postgres.storage.size', value: '5GB' },
  // Backups (postgres.backup).
  { case: 'backup schedule not a cron expression', override: { postgres: { backup: { schedule: 'every night' } } }, path: 'postgres.backup.schedule', value: 'every night', rule: 'cron expression of five fields' },
  { case: 'backup schedule out of range', override: { postgres: { backup: { schedule: '0 25 * * *' } } }, path: 'postgres.backup.schedule', value: '0 25 * * *', rule: 'expected range 0-23' },
  { case: 'backup schedule with seconds', override: { postgres: { backup: { schedule: '0 0 2 * * *' } } }, path: 'postgres.backup.schedule', value: '0 0 2 * * *', rule: 'five fields' },
  { case: 'dump schedule not a cron expression', override: { postgres: { backup: { dump: { schedule: '@fortnightly' } } } }, path: 'postgres.backup.dump.schedule', value: '@fortnightly', rule: 'cron expression' },
  { case: 'backup retention 0', override: { postgres: { backup: { retention: 0 } } }, path: 'postgres.backup.retention', value: '0', rule: 'must be >= 1' },
  { case: 'dump retention 0', override: { postgres: { backup: { dump: { retention: 0 } } } }, path: 'postgres.backup.dump.retention', value: '0', rule: 'must be >= 1' },
  {
    case: 'backup volume smaller than the data volume',
    override: { postgres: { storage: { size: '20Gi' }, backup: { enabled: true, storage: { size: '10Gi' } } } },
    path: 'postgres.backup.storage.size',
    value: '10Gi',
    rule: 'a base backup of a full data volume must fit',
  },
  { case: 'backup role equal to the app role', override: { postgres: { backup: { role: 'learnflow' } } }, path: 'postgres.backup.role', value: 'learnflow', rule: 'must differ from postgres.appRole' },
  { case: 'no Dapr app-ids', override: { dapr: { appIds: [] } }, path: 'dapr.appIds', value: '[]' },
  { case: 'profile set in an override', override: { profile: 'production' }, path: 'profile', value: 'production', rule: '--profile' },
  { case: 'development flag set in an override', override: { development: true }, path: 'development', value: 'true', rule: '--profile' },
  { case: 'dead-letter topic not declared', override: { dapr: { subscriptions: [{ topic: 'learning.query', route: '/q', appIds: ['triage-agent'], deadLetterTopic: 'dlq' }] } }, path: 'dapr.subscriptions[learning.query].deadLetterTopic', value: 'dlq' },
  { case: 'subscription for an app-id outside the scopes', override: { dapr: { subscriptions: [{ topic: 'learning.query', route: '/q', appIds: ['stranger'] }] } }, path: 'dapr.subscriptions[learning.query].appIds[0]', value: 'stranger' },
  { case: 'unknown profile', args: ['--profile', 'staging'], path: 'profile', value: 'staging' },
  { case: 'scraper namespace not a DNS label', override: { observability: { scraper: { namespace: 'Monitoring' } } }, path: 'observability.scraper.namespace', value: 'Monitoring', rule: 'DNS-1123' },
  { case: 'metrics agent image unpinned', override: { observability: { kafkaAgent: { image: 'ghcr.io/open-telemetry/opentelemetry-operator/autoinstrumentation-java:latest' } } }, path: 'observability.kafkaAgent.image', value: 'latest', rule: 'pinned' },
  { case: 'monitoring role reserved by PostgreSQL', override: { observability: { postgresExporter: { role: 'pg_monitor' } } }, path: 'observability.postgresExporter.role', value: 'pg_monitor', rule: "must not start with 'pg_'" },
  { case: 'override file is not a mapping', override: ['a', 'list'], path: '(root)', value: 'list' },
  // Names Kubernetes would refuse for the objects derived from a field (lib/config/object-names.ts).
  { case: 'kafka name too long for its Job', override: { kafka: { name: `kafka-${'x'.repeat(40)}` } }, path: 'kafka.name', value: 'kafka-xxx', rule: 'must be at most 42 characters' },
  { case: 'postgres name not a Service name', override: { postgres: { name: '16-postgres' } }, path: 'postgres.name', value: '16-postgres', rule: 'DNS-1035' },
  { case: 'cluster domain with an underscore', override: { platform: { clusterDomain: 'cluster_local' } }, path: 'platform.clusterDomain', value: 'cluster_local', rule: 'DNS-1123 subdomain' },
  { case: 'zero storage', override: { kafka: { storage: { size: '0' } } }, path: 'kafka.storage.size', value: '"0"', rule: 'greater than zero' },
  { case: 'negative storage', override: { postgres: { storage: { size: '-5Gi' } } }, path: 'postgres.storage.size', value: '-5Gi', rule: 'greater than zero' },
  { case: 'negative cpu limit', override: { kafka: { resources: { limits: { cpu: '-1' } } } }, path: 'kafka.resources.limits.cpu', value: '-1', rule: 'greater than zero' },
  // Lists of named things merge by name; an entry is removed with $remove.
  { case: 'removing a topic that is not declared', override: { kafka: { topics: [{ name: 'learning.qeury', $remove: true }] } }, path: 'kafka.topics[learning.qeury].name', value: 'learning.qeury', rule: 'cannot be removed' },
  { case: '$remove other than true', override: { kafka: { topics: [{ name: 'learning.query', $remove: 'yes' }] } }, path: 'kafka.topics[learning.query].$remove', value: 'yes', rule: 'must be true' },
  { case: '$remove beside settings', override: { kafka: { topics: [{ name: 'learning.query', $remove: true, partitions: 6 }] } }, path: 'kafka.topics[learning.query].$remove', value: '{"partitions":6}', rule: 'no other settings' },
  { case: 'topic entry without a name', override: { kafka: { topics: [{ partitions: 6 }] } }, path: 'kafka.topics[0].name', value: '{"partitions":6}', rule: 'merged by name' },
  { case: 'subscription listed twice', override: { dapr: { subscriptions: [1, 2].map((i) => ({ topic: 'learning.query', route: `/q${i}`, appIds: ['triage-agent'] })) } }, path: 'dapr.subscriptions[learning.query].topic', value: 'learning.query', rule: 'listed twice' },
  // Messages stay short whatever the input: values, keys and lists are cut.
  { case: 'enum value of 10,000 characters', override: { kafka: { topics: [topic({ cleanupPolicy: 'x'.repeat(10_000) })] } }, path: 'kafka.topics[learning.query].cleanupPolicy', value: 'xxxx...', rule: 'must be one of delete, compact' },
  { case: 'a list of 10,000 where a number belongs', override: { kafka: { brokers: Array.from({ length: 10_000 }, (_, i) => i) } }, path: 'kafka.brokers', value: '[0,1,2,' },
  { case: 'a key of 10,000 characters', override: { kafka: { ['k'.repeat(10_000)]: 1 } }, path: `kafka.${'k'.repeat(57)}...`, value: '1', rule: 'unknown key' },
  // YAML that expands without bound: a bounded-time error, not an hour or a crash.
  { case: 'billion laughs', overrideText: billionLaughs(), path: '(root)', value: 'billion-laughs', rule: 'YAML aliases' },
  { case: 'a value that contains itself', overrideText: 'kafka: &loop { topics: [*loop] }\n', path: '(root)', value: 'contains-itself', rule: 'refers to itself' },
  { case: 'override file over 1 MiB', overrideText: `kafka: { brokers: 1 }\n${'#'.repeat(1024 * 1024)}\n`, path: '(file)', value: 'over-1-MiB', rule: 'larger than 1024 KiB' },
];

/** Ten references to ten references ... to ten values: 10^9 values when expanded, 300 bytes of YAML. */
function billionLaughs(): string {
  const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i <= 8; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
  return [...lines, 'kafka: { topics: *a8 }', ''].join('\n');
}

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
    if (badInput.override !== undefined || badInput.overrideText !== undefined) {
      const file = path.join(work, `${badInput.case.replace(/\W+/g, '-')}.yaml`);
      fs.writeFileSync(file, badInput.overrideText ?? yaml.dump(badInput.override));
      args.push('--config', file);
    }
    const result = runSynthCli(args);
    expect(result.status).toBe(EXIT.usage);
    const problemLine = result.stderr.split('\n').find((line) => line.includes(`${badInput.path}:`));
    expect(problemLine, result.stderr).toBeDefined();
    expect(problemLine).toContain(badInput.value);
    if (badInput.rule) expect(problemLine).toContain(badInput.rule);
    for (const line of result.stderr.split('\n')) expect(line.length, line.slice(0, 200)).toBeLessThan(500);
    expect(result.stderr).toContain('left unchanged');
    expect(readTree(outDir)).toEqual(before);
  });

  it('reports a missing override file by name', () => {
    const result = runSynthCli(['--config', path.join(work, 'nope.yaml'), '--out', outDir]);
    expect(result.status).toBe(EXIT.usage);
    expect(result.stderr).toMatch(/nope\.yaml.*cannot be read/s);
    expect(readTree(outDir)).toEqual(before);
  });

  it('reports invalid YAML in the override file', () => {
    const file = path.join(work, 'broken.yaml');
    fs.writeFileSync(file, 'kafka: {brokers: [1,\n');
    const result = runSynthCli(['--config', file, '--out', outDir]);
    expect(result.status).toBe(EXIT.usage);
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
