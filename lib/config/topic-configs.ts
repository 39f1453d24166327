import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../platform/project-files';

/** A topic-level config as Kafka defines it (its ConfigDef.ConfigKey); the data files' "fields" entry says more. */
export interface TopicConfigDefinition {
  readonly type: string;
  readonly min?: string;
  readonly max?: string;
  readonly values?: readonly string[];
  /** A validator synth cannot evaluate, in Kafka's own words: the broker enforces it. */
  readonly rule?: string;
}

/** The topic configs of one Kafka version, generated from its jars (`npm run kafka-topic-configs`). */
export interface TopicConfigDefinitions {
  readonly kafkaVersion: string;
  readonly configs: Readonly<Record<string, TopicConfigDefinition>>;
}

/** Where the definitions of a Kafka version are kept, relative to the project root. */
export function topicConfigsFile(kafkaVersion: string): string {
  return `lib/config/kafka-topic-configs/${kafkaVersion}.json`;
}

/** The definitions of a Kafka version, or undefined when none were generated for it. */
export function loadTopicConfigDefinitions(kafkaVersion: string): TopicConfigDefinitions | undefined {
  const file = path.join(projectRoot(), topicConfigsFile(kafkaVersion));
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as TopicConfigDefinitions) : undefined;
}

/** How Kafka reads a value of a ConfigDef type (ConfigDef.parseType); undefined when it cannot. */
interface ValueType {
  readonly expected: string;
  parse(text: string): bigint | number | string | undefined;
}

function wholeNumber(bits: number): ValueType {
  const limit = 2n ** BigInt(bits - 1);
  return {
    expected: `a whole number from ${-limit} to ${limit - 1n}`,
    parse: (text) => {
      const value = /^[+-]?\d+$/.test(text) ? BigInt(text) : undefined;
      return value !== undefined && value >= -limit && value < limit ? value : undefined;
    },
  };
}

/** The types of the topic configs (test/kafka-topic-configs.test.ts: every type of the definitions has one). */
export const VALUE_TYPES: Readonly<Record<string, ValueType>> = {
  BOOLEAN: { expected: 'true or false', parse: (text) => (/^(true|false)$/i.test(text) ? text : undefined) },
  INT: wholeNumber(32),
  LONG: wholeNumber(64),
  DOUBLE: { expected: 'a number', parse: (text) => (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : undefined) },
  STRING: { expected: 'a string', parse: (text) => text },
  // One item: a topics.conf value holds no comma.
  LIST: { expected: 'a list', parse: (text) => text },
};

/** What is wrong with setting a topic config to `value` (a single value, no spaces or commas), or undefined. */
export function topicConfigProblem(name: string, value: string, definitions: TopicConfigDefinitions): string | undefined {
  const definition = definitions.configs[name];
  const of = `Kafka ${definitions.kafkaVersion}`;
  if (!definition) return `is not a topic config of ${of} (${topicConfigsFile(definitions.kafkaVersion)} lists them)`;
  const type = VALUE_TYPES[definition.type];
  const parsed = type.parse(value);
  if (parsed === undefined) return `must be ${type.expected}: ${name} is of type ${definition.type} in ${of}`;
  if (definition.min !== undefined && parsed < type.parse(definition.min)!) return `must be at least ${definition.min} (${name} in ${of})`;
  if (definition.max !== undefined && parsed > type.parse(definition.max)!) return `must be at most ${definition.max} (${name} in ${of})`;
  if (definition.values && !definition.values.includes(value)) return `must be one of ${definition.values.join(', ')} (${name} in ${of})`;
  return undefined;
}
