import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { type Admin, ConfigResourceTypes, ConfigSource, Kafka, type KafkaConfig, logLevel, Partitioners } from 'kafkajs';
import { requireEngine } from '../../support/engines';
import { ROOT, runSynthCli, tempDir } from '../../support/synth';
import type { KafkaTestCluster } from './cluster';

/** A line of topics.conf: `<name> <partitions> <replication-factor> [key=value,...]`. */
export interface DeclaredTopic {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
}

export function parseTopicsConf(text: string): DeclaredTopic[] {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((line) => {
      const [name, partitions, replicationFactor, configs = ''] = line.split(/\s+/);
      const pairs = configs.split(',').filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]);
      return { name, partitions: Number(partitions), replicationFactor: Number(replicationFactor), configs: Object.fromEntries(pairs) };
    });
}

/** topics.conf as dist/ ships it in the topics Job's ConfigMap. */
export function distTopicsConf(cluster: KafkaTestCluster): string {
  const volumes: { configMap?: { name: string } }[] = cluster.manifests.topicsJob.spec.template.spec.volumes ?? [];
  const names = volumes.map((v) => v.configMap?.name).filter(Boolean);
  const configMap = cluster.manifests.configMaps.find((c) => names.includes(c.metadata.name) && c.data?.['topics.conf'] !== undefined);
  if (!configMap) throw new Error('the topics Job mounts no ConfigMap with topics.conf');
  return configMap.data!['topics.conf'];
}

export interface TopicState {
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Configs set on the topic itself (not inherited from the broker). */
  readonly topicConfigs: Record<string, string>;
}

/** kafkajs's TLS and SASL settings (`KafkaTestCluster.clientConfig()`); none for plaintext listeners. */
export type ClientSecurity = Pick<KafkaConfig, 'ssl' | 'sasl'>;

function client(brokers: string[], security: ClientSecurity = {}): Kafka {
  return new Kafka({
    ...security,
    clientId: 'learnflow-kafka-tests',
    brokers,
    // Transient errors (a coordinator still loading) are retried; failures surface as rejections.
    logLevel: logLevel.NOTHING,
    // Brokers may be stopped on purpose: fail over quickly instead of backing off for minutes.
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 2_000 },
    connectionTimeout: 3_000,
  });
}

export async function withAdmin<T>(brokers: string[], use: (admin: Admin) => Promise<T>, security: ClientSecurity = {}): Promise<T> {
  const admin = client(brokers, security).admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/** What the brokers say about the topics, read with kafkajs (independently of the Kafka tools). */
export async function describeTopics(brokers: string[], names: readonly string[], security: ClientSecurity = {}): Promise<Map<string, TopicState>> {
  return withAdmin(brokers, async (admin) => {
    const metadata = await admin.fetchTopicMetadata({ topics: [...names] });
    const configs = await admin.describeConfigs({
      resources: names.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
      includeSynonyms: false,
    });
    const state = new Map<string, TopicState>();
    for (const topic of metadata.topics) {
      const resource = configs.resources.find((r) => r.resourceName === topic.name);
      const topicConfigs = Object.fromEntries(
        (resource?.configEntries ?? []).filter((e) => e.configSource === ConfigSource.TOPIC_CONFIG).map((e) => [e.configName, e.configValue]),
      );
      state.set(topic.name, { partitions: topic.partitions.length, replicationFactor: topic.partitions[0].replicas.length, topicConfigs });
    }
    return state;
  }, security);
}

export async function produce(brokers: string[], topic: string, messages: readonly string[], acks = -1, security: ClientSecurity = {}): Promise<void> {
  const producer = client(brokers, security).producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, acks, messages: messages.map((value, i) => ({ key: `key-${i}`, value })) });
  } finally {
    await producer.disconnect();
  }
}

/** Consume a topic from the beginning through consumer group `groupId` until `expected` messages arrived. */
export async function consume(
  brokers: string[],
  topic: string,
  groupId: string,
  expected: number,
  timeoutMs = 60_000,
  security: ClientSecurity = {},
): Promise<string[]> {
  const consumer = client(brokers, security).consumer({ groupId });
  const received: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${received.length} of ${expected} messages from ${topic} within ${timeoutMs} ms`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ message }) => {
          received.push(message.value!.toString());
          if (received.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return received;
}

/** Whether java and mvn can run; in CI (CI=true) their absence fails the suite instead of skipping it. */
export function kafkaEnginesAvailable(suite: string): boolean {
  const missing = ['java', 'mvn'].filter((tool) => spawnSync(tool, ['-version'], { stdio: 'ignore' }).status !== 0);
  return requireEngine(suite, missing.length === 0 ? undefined : `${missing.join(' and ')} not found (Apache Kafka runs on Java 17 from Maven Central jars)`);
}

/**
 * The dist directory a Kafka suite runs against: the repository's dist/ for the default profile, a fresh
 * synth into a temporary directory for another profile. LEARNFLOW_KAFKA_CONFIG (a YAML override, e.g.
 * `kafka: { image: apache/kafka:<version> }`) makes both synthesize with it, to try another Kafka version.
 * `kafka` settings are merged over those (e.g. another `brokers` count, or `security`); `dapr` settings (the
 * publications and subscriptions the users Job's ACLs come from) are set too.
 * The production profile has kafka.security on, as synthesized by default.
 */
export function kafkaDistDir(
  profile: 'minikube' | 'production',
  options: { brokers?: number; image?: string; kafka?: Record<string, unknown>; dapr?: Record<string, unknown> } = {},
): string {
  let override = process.env.LEARNFLOW_KAFKA_CONFIG;
  const kafka = {
    ...(options.brokers === undefined ? {} : { brokers: options.brokers }),
    ...(options.image === undefined ? {} : { image: options.image }),
    ...options.kafka,
  };
  if (profile === 'minikube' && !override && Object.keys(kafka).length === 0) return path.join(ROOT, 'dist');
  const out = tempDir(`dist-${profile}`);
  if (Object.keys(kafka).length > 0) {
    // The same install with other Kafka settings (broker count, image, security): LEARNFLOW_KAFKA_CONFIG's, these merged over them.
    const settings = (override ? yaml.load(fs.readFileSync(override, 'utf8')) : {}) as { kafka?: Record<string, unknown> };
    override = path.join(out, '..', `${path.basename(out)}-override.yaml`);
    fs.writeFileSync(override, yaml.dump({ ...settings, kafka: { ...settings.kafka, ...kafka }, ...(options.dapr ? { dapr: options.dapr } : {}) }));
  }
  const result = runSynthCli(['--quiet', '--profile', profile, '--out', out, ...(override ? ['--config', override] : [])]);
  if (result.status !== 0) throw new Error(`synth --profile ${profile} failed:\n${result.stderr}`);
  return out;
}
