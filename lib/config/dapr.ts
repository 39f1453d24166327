import { z } from 'zod';
import { dnsLabel } from './names';

// Dapr durations are Go durations (time.ParseDuration).
const goDuration = z.string().regex(/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/, "must be a Go duration such as '500ms', '10s' or '1h'");

const subscription = z
  .object({
    topic: z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be a Kafka topic name'),
    /**
     * The app's HTTP path that receives the events: a declarative Subscription is synthesized for it.
     * @default - none: the app subscribes in its code (Dapr's programmatic subscription); the entry still gives
     * its app-ids their Kafka rights (READ on the topic and in their consumer group, with kafka.security)
     */
    route: z.string().regex(/^\/[\w\-./]*$/, "must be an absolute path such as '/events/learning-query'").optional(),
    /** App-ids that receive this topic. */
    appIds: z.array(dnsLabel).min(1, 'must list at least one app-id'),
    /** @default - no dead-letter topic */
    deadLetterTopic: z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be a Kafka topic name').optional(),
  })
  .strict();

const publication = z
  .object({
    topic: z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be a Kafka topic name'),
    /** App-ids that publish to this topic (with kafka.security, the only principals that may write to it). */
    appIds: z.array(dnsLabel).min(1, 'must list at least one app-id'),
  })
  .strict();

export const daprConfig = z
  .object({
    /** Dapr app-ids every component is scoped to. */
    appIds: z.array(dnsLabel).min(1, 'must list at least one app-id'),
    /** The ServiceAccount synth creates in the apps namespace for the LearnFlow services' pods. */
    serviceAccount: dnsLabel.refine((name) => name !== 'default', {
      message: "must not be 'default' (every pod that names no service account runs as it)",
    }),
    pubsub: z
      .object({
        /** Each app-id gets its own pub/sub component, `<name>-<app-id>` (its own Kafka credentials), scoped to it. */
        name: dnsLabel,
        /** Where a new consumer group starts: 'oldest' loses nothing published before its first start. */
        initialOffset: z.enum(['oldest', 'newest']),
      })
      .strict(),
    stateStore: z
      .object({
        name: dnsLabel,
        tablePrefix: z.string().regex(/^[a-z_][a-z0-9_]{0,30}$/, 'must be a lower-case SQL identifier prefix'),
        cleanupInterval: goDuration,
        timeout: goDuration,
        /** Connections each sidecar's pool may open (the component's maxConns). */
        maxConns: z.number().int('must be a whole number').min(1, 'must be >= 1').max(100, 'must be <= 100'),
        /** Replicas of one app-id at most (during a rolling update too): with maxConns, the Dapr role's CONNECTION LIMIT. */
        maxReplicasPerAppId: z.number().int('must be a whole number').min(1, 'must be >= 1').max(100, 'must be <= 100'),
      })
      .strict(),
    secretStore: z
      .object({
        name: dnsLabel,
        /** Service accounts (in the apps namespace) besides serviceAccount whose sidecars may read the contract's Secrets. */
        readerServiceAccounts: z.array(dnsLabel),
      })
      .strict(),
    resiliency: z
      .object({
        /** Publish and state calls; keep it at least stateStore.timeout. */
        outboundTimeout: goDuration,
        /** Delivery of an event to an app (LLM-backed agents answer slowly). */
        deliveryTimeout: goDuration,
        maxRetries: z.number().int().min(0).max(100),
        maxRetryInterval: goDuration,
        /** Consecutive failures that open the circuit breaker. */
        breakerTrip: z.number().int().min(1).max(1000),
        breakerTimeout: goDuration,
      })
      .strict(),
    /** Which app-ids receive which topics: a declarative Subscription where a route is given, and their Kafka rights. */
    subscriptions: z.array(subscription),
    /** Which app-ids publish to which topics: with kafka.security, their WRITE rights (lib/kafka/kafka-acls.ts). */
    publications: z.array(publication),
  })
  .strict();

export type DaprConfigInput = z.input<typeof daprConfig>;

export const daprDefaults: DaprConfigInput = {
  appIds: ['triage-agent', 'concepts-agent', 'code-review-agent', 'debug-agent', 'exercise-agent', 'progress-agent', 'frontend'],
  pubsub: { name: 'pubsub', initialOffset: 'oldest' },
  stateStore: { name: 'statestore', tablePrefix: 'learnflow_', cleanupInterval: '1h', timeout: '20s', maxConns: 2, maxReplicasPerAppId: 2 },
  serviceAccount: 'learnflow-services',
  secretStore: { name: 'secretstore', readerServiceAccounts: [] },
  resiliency: { outboundTimeout: '30s', deliveryTimeout: '120s', maxRetries: 5, maxRetryInterval: '10s', breakerTrip: 5, breakerTimeout: '30s' },
  subscriptions: [],
  publications: [],
};

export const daprProfiles = {
  minikube: {},
  production: { stateStore: { ...daprDefaults.stateStore, maxConns: 4, maxReplicasPerAppId: 3 } },
} satisfies Record<string, Partial<DaprConfigInput>>;
