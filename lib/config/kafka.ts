import { createHash } from 'node:crypto';
import { z } from 'zod';
import { jobSettings } from './job';
import { kafkaSecurity, kafkaSecurityDefaults } from './kafka-security';
import { dnsLabel, pinnedImage } from './names';
import { byteQuantity, resources } from './resources';
import { loadTopicConfigDefinitions, topicConfigProblem, topicConfigsFile } from './topic-configs';

// org.apache.kafka.common.internals.Topic: legal characters and maximum length of a topic name.
export const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A retention: '7d', '12h', '30m', '45s', '500ms', a number of milliseconds, or -1 for unlimited. */
const retention = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const match = typeof value === 'string' ? /^(\d+)(ms|s|m|h|d)$/.exec(value) : null;
  const ms = match ? Number(match[1]) * DURATION_UNITS_MS[match[2]] : value;
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < -1) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: "must be a duration such as '7d', '12h' or '30m', a whole number of milliseconds, or -1 (unlimited)",
    });
    return z.NEVER;
  }
  return ms;
});

/**
 * A topic config's value: YAML writes numbers and booleans bare, Kafka reads every value as text. One
 * value, since topics.conf is whitespace- and comma-separated (a list config gets one item).
 */
const topicConfigValue = z.unknown().transform((value, ctx) => {
  if ((typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') && /^[^\s,]+$/.test(String(value))) return String(value);
  ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a single value (a string, number or boolean) without spaces or commas' });
  return z.NEVER;
});

export const topicSpec = z
  .object({
    name: z
      .string()
      .regex(TOPIC_NAME, 'must match [a-zA-Z0-9._-]{1,249} (Kafka topic name rules)')
      .refine((n) => n !== '.' && n !== '..', { message: "must not be '.' or '..'" })
      .refine((n) => !n.startsWith('__'), { message: "must not start with '__' (reserved for Kafka's internal topics)" }),
    partitions: z.number().int('must be a whole number').min(1, 'must be >= 1').max(10_000, 'must be <= 10000'),
    /** Milliseconds after which a segment may be deleted; -1 keeps data forever. */
    retention: retention,
    cleanupPolicy: z.enum(['delete', 'compact']).default('delete'),
    /** @default - the cluster's default replication factor (min(3, brokers)) */
    replicationFactor: z.number().int().min(1, 'must be >= 1').optional(),
    /** @default - the cluster's min.insync.replicas */
    minInsyncReplicas: z.number().int().min(1, 'must be >= 1').optional(),
    /**
     * Further topic-level configs, applied incrementally (never wiping others), checked against the
     * definitions of the image's Kafka version (lib/config/kafka-topic-configs/).
     */
    configs: z.record(z.string().regex(/^[a-z][a-z0-9.]*$/, 'must be a Kafka config name'), topicConfigValue).default({}),
  })
  .strict();

export type TopicSpecInput = z.input<typeof topicSpec>;

/** The voter counts a KRaft quorum may have here (see `controllers`). */
export const CONTROLLER_COUNTS: readonly number[] = [1, 3, 5];

/**
 * A KRaft cluster id as Kafka parses it (org.apache.kafka.common.Uuid.fromString): base64url without
 * padding that decodes to exactly 16 bytes, so 22 characters, the last of which holds 2 bits and 4 zero
 * bits (A, Q, g or w: with another, Java's decoder drops the bits and the id Kafka stores differs from the
 * one configured); and not an id in Uuid.RESERVED (the zero uuid, the metadata topic id).
 */
export const kraftClusterId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{21}[AQgw]$/, "must be a Kafka cluster id: 22 base64url characters encoding 16 bytes, as 'kafka-storage.sh random-uuid' prints")
  .refine((id) => !['AAAAAAAAAAAAAAAAAAAAAA', 'AAAAAAAAAAAAAAAAAAAAAQ'].includes(id), { message: 'is an id Kafka reserves (the zero uuid or the metadata topic id)' });

// The tag names the broker version, which clients (Dapr's Sarama) are told and topic configs are checked against.
const KAFKA_VERSION_TAG = /:(\d+\.\d+\.\d+)(@sha256:[a-f0-9]{64})?$/;

/**
 * The default cluster id of an install: 16 bytes of sha256 over what tells installs apart (cluster domain,
 * namespace, name), as Kafka writes a uuid. Deterministic, so every synth of the install agrees, and a
 * volume of another install (another namespace or name) is refused by the brokers' cluster id guard.
 */
export function derivedClusterId(clusterDomain: string, namespace: string, name: string): string {
  const bytes = createHash('sha256').update(`learnflow-kafka/${clusterDomain}/${namespace}/${name}`).digest().subarray(0, 16);
  return bytes.toString('base64url');
}

/** 'apache/kafka:4.3.1' -> '4.3.1'; the config schema guarantees such a tag. */
export function kafkaVersionOf(image: string): string {
  return KAFKA_VERSION_TAG.exec(image)![1];
}

/**
 * Topic configs that a field of the topic sets: in `configs` they would silently win over the field, or
 * (partitions, replication) are not topic configs at all.
 */
const SET_BY_FIELD: Readonly<Record<string, string>> = {
  'retention.ms': 'retention',
  'cleanup.policy': 'cleanupPolicy',
  'min.insync.replicas': 'minInsyncReplicas',
  'num.partitions': 'partitions',
  'replication.factor': 'replicationFactor',
  'default.replication.factor': 'replicationFactor',
};

type KafkaShape = z.output<typeof kafkaShape>;

/** Every topic's `configs` against the definitions of the image's Kafka version, read only when a topic has some. */
function checkTopicConfigs(kafka: KafkaShape, ctx: z.RefinementCtx): void {
  const configured = kafka.topics.flatMap((topic, i) => Object.entries(topic.configs).map(([name, value]) => ({ path: ['topics', i, 'configs', name], name, value })));
  // A malformed image has its own issue.
  if (configured.length === 0 || !KAFKA_VERSION_TAG.test(kafka.image)) return;
  const version = kafkaVersionOf(kafka.image);
  const definitions = loadTopicConfigDefinitions(version);
  if (!definitions) {
    const message = `has no topic config definitions (${topicConfigsFile(version)}) to check kafka.topics[].configs against; \`npm run kafka-topic-configs -- --kafka-version ${version}\` generates them`;
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['image'], message });
    return;
  }
  for (const { path, name, value } of configured) {
    const field = SET_BY_FIELD[name];
    // A value that is not a single string has its own issue.
    const message = field ? `is set by the topic's ${field} field: set ${field} instead` : typeof value === 'string' ? topicConfigProblem(name, value, definitions) : undefined;
    if (message) ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
  }
}

const kafkaShape = z
  .object({
    name: dnsLabel,
    // The tag names the broker version, which clients (Dapr's Sarama) are told.
    image: pinnedImage.refine((image) => KAFKA_VERSION_TAG.test(image), {
      message: "must be tagged with the Kafka version, e.g. 'apache/kafka:4.3.1' (optionally @sha256:...)",
    }),
    brokers: z.number().int('must be a whole number').min(1, 'must be >= 1').max(99, 'must be <= 99'),
    /**
     * KRaft voters. A majority must be up: 2 of 2 tolerates no more failures than 1 of 1, and every voter
     * beyond 5 slows each metadata commit for no availability a cluster of this size needs.
     */
    controllers: z
      .number()
      .int('must be a whole number')
      .refine((n) => CONTROLLER_COUNTS.includes(n), {
        message: 'must be 1, 3 or 5: a KRaft quorum needs a majority of its voters, so an even count tolerates no more failures than one voter fewer, and more than 5 voters slow every metadata commit',
      }),
    /**
     * The voters in their own StatefulSet, apart from the brokers (production), or every broker also a
     * voter (one combined node on minikube): then brokers must equal controllers.
     */
    dedicatedControllers: z.boolean(),
    /** The controller pods' resources and storage (dedicatedControllers only): the metadata log is small. */
    controllerResources: resources,
    controllerStorage: z.object({ size: byteQuantity, storageClassName: dnsLabel.optional() }).strict(),
    /**
     * KRaft cluster id: 16 bytes, base64url without padding (what `kafka-storage.sh random-uuid` prints).
     * @default - derived from the install's identity (cluster domain, namespace, kafka.name): stable across
     * synths, different for every install of another namespace or name. Set it to pin a random one.
     */
    clusterId: kraftClusterId.optional(),
    storage: z
      .object({ size: byteQuantity, storageClassName: dnsLabel.optional() })
      .strict(),
    resources,
    /** Share of the container memory limit given to the JVM heap; the rest is page cache and off-heap. */
    heapPercent: z.number().int().min(25, 'must be >= 25').max(75, 'must be <= 75'),
    /** How strictly brokers are spread over nodes. */
    antiAffinity: z.enum(['preferred', 'required']),
    /** Broker i's external listener is advertised as localhost:(externalPortBase + i). */
    externalPortBase: z.number().int().min(1024).max(65000),
    /** Namespaces besides the apps namespace whose pods may connect to the client port. */
    extraClientNamespaces: z.array(dnsLabel),
    topics: z.array(topicSpec),
    topicsJob: jobSettings,
    /** The rebalance Job (lib/kafka/rebalance.sh): spreads the declared topics' replicas over the brokers. */
    rebalanceJob: jobSettings,
    /** Replication throttle while the rebalance Job moves partitions (kafka-reassign-partitions.sh --throttle). */
    rebalanceThrottleBytesPerSecond: z.number().int('must be a whole number').min(1_048_576, 'must be >= 1048576 (1 MiB/s)'),
    /** The features Job (lib/kafka/features.sh): raises metadata.version to the image's release after an upgrade. */
    featuresJob: jobSettings,
    /** The users Job (lib/kafka/users.sh, kafka.security only): the app-ids' and the verifier's SCRAM users and ACLs. */
    usersJob: jobSettings,
    /** Listeners' authentication and TLS (lib/kafka/kafka-tls.ts). */
    security: kafkaSecurity,
  })
  .strict();

export const kafkaConfig = kafkaShape.superRefine(checkTopicConfigs);

export type KafkaConfigInput = z.input<typeof kafkaConfig>;

/** The topic `npm run verify -- --live` writes to and reads back. */
export const VERIFY_TOPIC = 'learnflow.verify';

/** The 9 LearnFlow topics (PRODUCT.md) and the verifier's round-trip topic. */
export const LEARNFLOW_TOPICS: TopicSpecInput[] = [
  { name: 'learning.query', partitions: 3, retention: '7d' },
  { name: 'learning.response', partitions: 3, retention: '7d' },
  { name: 'code.execution.request', partitions: 3, retention: '3d' },
  { name: 'code.execution.result', partitions: 3, retention: '3d' },
  { name: 'exercise.assigned', partitions: 2, retention: '30d' },
  { name: 'exercise.submitted', partitions: 2, retention: '30d' },
  { name: 'exercise.graded', partitions: 2, retention: '30d' },
  { name: 'struggle.detected', partitions: 2, retention: '7d' },
  { name: 'progress.updated', partitions: 2, retention: '30d' },
  { name: VERIFY_TOPIC, partitions: 1, retention: '1h' },
];

export const kafkaDefaults: KafkaConfigInput = {
  name: 'kafka',
  // The newest 4.x whose tools are all on Maven Central and that passes the real-broker tests with
  // kafkajs 2.2.4 (README, "Kafka version"): 4.4.0's kafka-tools jars are not published.
  image: 'apache/kafka:4.3.1',
  brokers: 1,
  controllers: 1,
  dedicatedControllers: false,
  // Unused while every broker is a voter (minikube); production sizes them.
  controllerResources: { requests: { cpu: '250m', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } },
  controllerStorage: { size: '5Gi' },
  storage: { size: '10Gi' },
  resources: { requests: { cpu: '250m', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } },
  heapPercent: 50,
  antiAffinity: 'preferred',
  externalPortBase: 19092,
  extraClientNamespaces: [],
  topics: LEARNFLOW_TOPICS,
  topicsJob: {
    // The script runs up to 3 tool JVMs at once (~100 MiB each); a CPU limit below 1 core stretches
    // a first run of the 10 topics past 40 s.
    resources: { requests: { cpu: '100m', memory: '512Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    backoffLimit: 6,
    ttlSecondsAfterFinished: 86_400,
    waitTimeoutSeconds: 300,
    activeDeadlineSeconds: 1800,
  },
  rebalanceJob: {
    // One tool JVM at a time (~210 MiB resident with -Xmx128m).
    resources: { requests: { cpu: '100m', memory: '384Mi' }, limits: { cpu: '1', memory: '384Mi' } },
    backoffLimit: 6,
    ttlSecondsAfterFinished: 86_400,
    // The wait covers the moves too: 100 GiB of replicas for a new broker at the throttle below is ~35 min.
    waitTimeoutSeconds: 3_000,
    activeDeadlineSeconds: 3_600,
  },
  // Kafka's operations guide throttles reassignments to 50 MB/s in its example; a third of a 1 Gbit/s link,
  // leaving the rest to producers and consumers.
  rebalanceThrottleBytesPerSecond: 52_428_800,
  featuresJob: {
    // One tool JVM at a time, as the rebalance Job.
    resources: { requests: { cpu: '100m', memory: '384Mi' }, limits: { cpu: '1', memory: '384Mi' } },
    backoffLimit: 6,
    ttlSecondsAfterFinished: 86_400,
    // npm run deploy applies it after the StatefulSets rolled out; the wait covers a roll still under way
    // when another tool applies every file at once (kubectl apply -f dist/, Argo CD without waves).
    waitTimeoutSeconds: 900,
    activeDeadlineSeconds: 1_200,
  },
  usersJob: {
    // One tool JVM at a time, as the rebalance Job.
    resources: { requests: { cpu: '100m', memory: '384Mi' }, limits: { cpu: '1', memory: '384Mi' } },
    backoffLimit: 6,
    ttlSecondsAfterFinished: 86_400,
    waitTimeoutSeconds: 300,
    activeDeadlineSeconds: 1_200,
  },
  security: kafkaSecurityDefaults,
};

export const kafkaProfiles = {
  minikube: {},
  production: {
    brokers: 3,
    // Voters apart from brokers: brokers scale, roll and drain without touching the quorum.
    controllers: 3,
    dedicatedControllers: true,
    controllerResources: { requests: { cpu: '500m', memory: '2Gi' }, limits: { cpu: '1', memory: '2Gi' } },
    controllerStorage: { size: '10Gi' },
    antiAffinity: 'required',
    storage: { size: '100Gi' },
    resources: { requests: { cpu: '1', memory: '4Gi' }, limits: { cpu: '2', memory: '4Gi' } },
    security: { ...kafkaSecurityDefaults, enabled: true },
  },
} satisfies Record<string, Partial<KafkaConfigInput>>;
