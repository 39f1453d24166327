import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { kafkaDefaults, kafkaVersionOf } from '../lib/config/kafka';
import { ConfigError, loadConfig } from '../lib/config/load';
import { loadTopicConfigDefinitions, topicConfigsFile, VALUE_TYPES } from '../lib/config/topic-configs';
import { kafkaJarsDir } from './harness/kafka/jars';
import { renderTopicConfigs } from './harness/kafka/topic-configs';
import { requireEngine } from './support/engines';
import { ROOT } from './support/synth';

const VERSION = kafkaVersionOf(kafkaDefaults.image);

/** Why the generator cannot run here: no JVM, or the Kafka jars the engine preparation fetches are missing. */
function generatorMissing(): string | undefined {
  if (spawnSync('java', ['-version'], { stdio: 'ignore' }).status !== 0) return 'java not found (the generator reads the definitions on the JVM)';
  try {
    kafkaJarsDir(VERSION);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

const generatorRuns = requireEngine('kafka topic config definitions', generatorMissing());

const withConfigs = (configs: Record<string, unknown>, image?: string) => ({
  kafka: { ...(image ? { image } : {}), topics: [{ name: 'learning.query', configs }] },
});

/** The one problem loading the override reports. */
function problemOf(override: unknown): { path: string; rule: string } {
  try {
    loadConfig({ override });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(1);
    return (error as ConfigError).problems[0];
  }
  throw new Error('the config was accepted');
}

describe("topic configs, checked against Kafka's own definitions", () => {
  it.skipIf(!generatorRuns)(`the committed ${topicConfigsFile(VERSION)} is what Kafka ${VERSION}'s jars define, byte for byte`, () => {
    expect(renderTopicConfigs(kafkaJarsDir(VERSION))).toBe(fs.readFileSync(path.join(ROOT, topicConfigsFile(VERSION)), 'utf8'));
  }, 120_000);

  it('knows how to read every type the definitions use', () => {
    const definitions = loadTopicConfigDefinitions(VERSION)!;
    expect(definitions.kafkaVersion).toBe(VERSION);
    expect(Object.keys(definitions.configs)).toContain('segment.bytes');
    const types = new Set(Object.values(definitions.configs).map((definition) => definition.type));
    expect([...types].filter((type) => VALUE_TYPES[type] === undefined)).toEqual([]);
  });

  it('accepts configs of the right name, type and range, YAML numbers and booleans included', () => {
    const configs = { 'segment.bytes': 536870912, 'compression.type': 'zstd', preallocate: true, 'min.cleanable.dirty.ratio': '0.25', 'retention.bytes': '-1' };
    const [topic] = loadConfig({ override: withConfigs(configs) }).kafka.topics;
    expect(topic.configs).toEqual({ 'segment.bytes': '536870912', 'compression.type': 'zstd', preallocate: 'true', 'min.cleanable.dirty.ratio': '0.25', 'retention.bytes': '-1' });
  });

  it.each([
    ['an unknown name', { 'segment.byte': '1048576' }, 'configs.segment.byte', `is not a topic config of Kafka ${VERSION}`],
    ['a word for an INT', { 'segment.bytes': 'big' }, 'configs.segment.bytes', 'must be a whole number from -2147483648 to 2147483647: segment.bytes is of type INT'],
    ['an INT beyond 32 bits', { 'max.message.bytes': '3000000000' }, 'configs.max.message.bytes', 'must be a whole number from -2147483648 to 2147483647'],
    ['a fraction for a LONG', { 'retention.bytes': '1.5' }, 'configs.retention.bytes', 'must be a whole number'],
    ['yes for a BOOLEAN', { preallocate: 'yes' }, 'configs.preallocate', 'must be true or false'],
    ['a word for a DOUBLE', { 'min.cleanable.dirty.ratio': 'half' }, 'configs.min.cleanable.dirty.ratio', 'must be a number'],
    ['a value below the range', { 'segment.bytes': 1024 }, 'configs.segment.bytes', 'must be at least 1048576'],
    ['a value above the range', { 'min.cleanable.dirty.ratio': 1.5 }, 'configs.min.cleanable.dirty.ratio', 'must be at most 1'],
    ['a value outside the choices', { 'compression.type': 'brotli' }, 'configs.compression.type', 'must be one of uncompressed, zstd, lz4, snappy, gzip, producer'],
    ['a list', { 'compression.type': ['zstd'] }, 'configs.compression.type', 'must be a single value'],
    ['retention.ms beside retention', { 'retention.ms': '1000' }, 'configs.retention.ms', "is set by the topic's retention field"],
    ['min.insync.replicas beside minInsyncReplicas', { 'min.insync.replicas': '1' }, 'configs.min.insync.replicas', "is set by the topic's minInsyncReplicas field"],
    ['cleanup.policy beside cleanupPolicy', { 'cleanup.policy': 'compact' }, 'configs.cleanup.policy', "is set by the topic's cleanupPolicy field"],
    ['num.partitions for partitions', { 'num.partitions': '6' }, 'configs.num.partitions', "is set by the topic's partitions field"],
    ['replication.factor for replicationFactor', { 'replication.factor': '1' }, 'configs.replication.factor', "is set by the topic's replicationFactor field"],
  ])('refuses %s', (_case, configs, field, rule) => {
    const problem = problemOf(withConfigs(configs));
    expect(problem.path).toBe(`kafka.topics[learning.query].${field}`);
    expect(problem.rule).toContain(rule);
  });

  it('refuses configs for a Kafka version without definitions, naming the command that makes them', () => {
    const problem = problemOf(withConfigs({ 'segment.bytes': '1048576' }, 'apache/kafka:4.1.1'));
    expect(problem.path).toBe('kafka.image');
    expect(problem.rule).toContain('npm run kafka-topic-configs -- --kafka-version 4.1.1');
    // Without configs, nothing needs them: another Kafka version works as before.
    expect(loadConfig({ override: { kafka: { image: 'apache/kafka:4.1.1' } } }).kafka.image).toBe('apache/kafka:4.1.1');
  });
});
