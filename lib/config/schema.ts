import { z } from 'zod';
import { daprConfig } from './dapr';
import { derivedClusterId, kafkaConfig } from './kafka';
import { checkKafkaSecurity } from './kafka-security';
import { checkObjectNames } from './object-names';
import { observabilityConfig } from './observability';
import { platformConfig } from './platform';
import { postgresConfig } from './postgres';
import { checkPostgresSecurity } from './postgres-security';

export const PROFILES = ['minikube', 'production'] as const;
export type ProfileName = (typeof PROFILES)[number];

const configShape = z
  .object({
    profile: z.enum(PROFILES),
    /** Development profiles seed test users; production never does. */
    development: z.boolean(),
    platform: platformConfig,
    kafka: kafkaConfig,
    postgres: postgresConfig,
    dapr: daprConfig,
    observability: observabilityConfig,
  })
  .strict();

/** The cross-field rules a single field's schema cannot see. */
function checkTopics(config: z.infer<typeof configShape>, ctx: z.RefinementCtx): void {
  const { brokers, topics, controllers, dedicatedControllers } = config.kafka;
  const production = config.profile === 'production';
  // Combined nodes: every broker is a KRaft voter, so the broker count is the voter count (1, 3 or 5; this
  // also refuses 2 brokers, a 2-voter quorum that needs both up).
  if (!dedicatedControllers && brokers !== controllers) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['kafka', 'brokers'],
      message: `must equal kafka.controllers (${controllers}) while kafka.dedicatedControllers is false: every broker is then a KRaft voter, and a broker count that is not a voter count would change the quorum; set kafka.dedicatedControllers: true to scale brokers apart from the voters`,
    });
  }
  // acks=all needs min.insync.replicas >= 2 for a write to outlive one broker, so 3 replicas with one free
  // (a matter of replication, whoever the voters are).
  else if (production && brokers < 3) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['kafka', 'brokers'], message: 'must be >= 3 in production (min.insync.replicas 2 with one broker free to be down)' });
  }
  if (production && config.kafka.antiAffinity !== 'required') {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['kafka', 'antiAffinity'], message: "must be 'required' in production: Kafka pods sharing a node lose several replicas or KRaft voters with it" });
  }
  const seen = new Map<string, number>();
  topics.forEach((topic, i) => {
    const path = ['kafka', 'topics', i];
    // Kafka refuses a topic whose name differs from another only by '.' versus '_' (metric names collide).
    // (Two entries of the same name cannot get here: overrides merge topics by name.)
    const collisionKey = topic.name.replace(/\./g, '_');
    const other = seen.get(collisionKey);
    if (other !== undefined) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [...path, 'name'],
        message: `collides with topic ${topics[other].name} ('.' and '_' are the same in Kafka metric names)`,
      });
    } else {
      seen.set(collisionKey, i);
    }
    if (topic.replicationFactor !== undefined && topic.replicationFactor > brokers) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [...path, 'replicationFactor'],
        message: `must not exceed the number of brokers (kafka.brokers = ${brokers})`,
      });
    }
    const replicationFactor = topic.replicationFactor ?? defaultReplicationFactor(brokers);
    if (topic.minInsyncReplicas !== undefined && topic.minInsyncReplicas > replicationFactor) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [...path, 'minInsyncReplicas'],
        message: `must not exceed the topic's replication factor (${replicationFactor})`,
      });
    } else if (topic.minInsyncReplicas !== undefined && replicationFactor > 1 && topic.minInsyncReplicas === replicationFactor) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [...path, 'minInsyncReplicas'],
        message: `must be below the topic's replication factor (${replicationFactor}): one broker down (a roll, a drain) would fail every acks=all producer`,
      });
    }
    const minInsyncReplicas = topic.minInsyncReplicas ?? defaultMinInsyncReplicas(replicationFactor);
    if (production && brokers >= 3 && minInsyncReplicas < 2) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [...path, topic.minInsyncReplicas === undefined ? 'replicationFactor' : 'minInsyncReplicas'],
        message: 'gives min.insync.replicas 1 in production: an acks=all write on one replica is lost with that broker (needs replication factor >= 3 and min.insync.replicas >= 2)',
      });
    }
  });
  const declared = new Set(topics.map((t) => t.name));
  const checkAppIds = (list: 'subscriptions' | 'publications', i: number, appIds: readonly string[]) =>
    appIds.forEach((appId, j) => {
      if (!config.dapr.appIds.includes(appId)) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['dapr', list, i, 'appIds', j],
          message: 'must be one of dapr.appIds (the components are scoped to those)',
        });
      }
    });
  config.dapr.subscriptions.forEach((subscription, i) => {
    if (!declared.has(subscription.topic)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['dapr', 'subscriptions', i, 'topic'], message: 'must be one of the declared kafka.topics' });
    }
    if (subscription.deadLetterTopic !== undefined && !declared.has(subscription.deadLetterTopic)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['dapr', 'subscriptions', i, 'deadLetterTopic'],
        message: 'must be one of the declared kafka.topics (topics are never auto-created)',
      });
    }
    checkAppIds('subscriptions', i, subscription.appIds);
  });
  config.dapr.publications.forEach((publication, i) => {
    if (!declared.has(publication.topic)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['dapr', 'publications', i, 'topic'], message: 'must be one of the declared kafka.topics (an app may write only to those)' });
    }
    checkAppIds('publications', i, publication.appIds);
  });
  const namespaces = Object.entries(config.platform.namespaces);
  namespaces.forEach(([key, name], i) => {
    const clash = namespaces.findIndex(([, other]) => other === name);
    if (clash < i) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['platform', 'namespaces', key],
        message: `must differ from platform.namespaces.${namespaces[clash][0]}`,
      });
    }
  });
}

/** Three copies where there are three brokers, otherwise one per broker. */
export function defaultReplicationFactor(brokers: number): number {
  return Math.min(3, brokers);
}

/** With three or more replicas, one may be down while acks=all writes still succeed. */
export function defaultMinInsyncReplicas(replicationFactor: number): number {
  return replicationFactor >= 3 ? 2 : 1;
}

export const learnflowConfig = configShape.superRefine(checkTopics).superRefine(checkObjectNames).superRefine(checkPostgresSecurity).superRefine(checkKafkaSecurity).transform((config) => {
  const replicationFactor = defaultReplicationFactor(config.kafka.brokers);
  return {
    ...config,
    kafka: {
      ...config.kafka,
      clusterId: config.kafka.clusterId ?? derivedClusterId(config.platform.clusterDomain, config.platform.namespaces.kafka, config.kafka.name),
      defaultReplicationFactor: replicationFactor,
      minInsyncReplicas: defaultMinInsyncReplicas(replicationFactor),
      topics: config.kafka.topics.map((topic) => {
        const topicReplicationFactor = topic.replicationFactor ?? replicationFactor;
        return {
          ...topic,
          replicationFactor: topicReplicationFactor,
          minInsyncReplicas: topic.minInsyncReplicas ?? defaultMinInsyncReplicas(topicReplicationFactor),
        };
      }),
    },
  };
});

/** Validated, fully defaulted configuration: what constructs receive. */
export type LearnflowConfig = z.output<typeof learnflowConfig>;
export type KafkaConfig = LearnflowConfig['kafka'];
export type TopicSpec = KafkaConfig['topics'][number];
export type PostgresConfig = LearnflowConfig['postgres'];
export type DaprConfig = LearnflowConfig['dapr'];
export type PlatformConfig = LearnflowConfig['platform'];
export type ObservabilityConfig = LearnflowConfig['observability'];
