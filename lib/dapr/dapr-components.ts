import { Construct } from 'constructs';
import { Component, type ComponentSpecMetadata } from '../../imports/dapr-component-dapr.io';
import { Resiliency } from '../../imports/dapr-resiliency-dapr.io';
import { SubscriptionV2Alpha1 } from '../../imports/dapr-subscription-dapr.io';
import { subscriptionName } from '../config/object-names';
import type { DaprConfig } from '../config/schema';
import type { KafkaCluster } from '../kafka/kafka-cluster';
import type { EndpointsSection, ExposesEndpoints } from '../platform/endpoints';
import * as k8s from '../platform/k8s';
import { appLabels } from '../platform/labels';

/** A key of a Secret in the apps namespace. */
export interface SecretKeyReference {
  readonly name: string;
  readonly key: string;
}

export interface DaprComponentsProps {
  /** The apps namespace: components are namespaced, and only sidecars there load them. */
  readonly namespace: string;
  readonly config: DaprConfig;
  readonly kafka: KafkaCluster;
  /** The libpq connection string of the state store's database role. */
  readonly stateStoreConnection: SecretKeyReference;
  /** Secrets of the apps namespace that the secret store may hand to the services. */
  readonly readableSecrets: readonly string[];
}

/**
 * Dapr's view of the infrastructure: pub/sub on Kafka, state on PostgreSQL (v2), Kubernetes Secrets,
 * with resiliency policies, all scoped to the LearnFlow app-ids. Field names and allowed values follow
 * Dapr's component metadata (components-contrib pubsub/kafka, state/postgresql/v2 metadata.yaml).
 */
export class DaprComponents extends Construct implements ExposesEndpoints {
  public readonly pubsubName: string;
  public readonly stateStoreName: string;
  public readonly secretStoreName: string;
  public readonly namespace: string;
  public readonly stateStoreConnection: SecretKeyReference;
  /** The ServiceAccount the LearnFlow services' pods must run as (serviceAccountName) to read Secrets through Dapr. */
  public readonly serviceAccountName: string;
  /** The app-ids every component is scoped to. */
  public readonly appIds: readonly string[];
  /** The brokers of the pub/sub component. */
  public readonly kafkaBootstrapServers: string;

  constructor(scope: Construct, id: string, props: DaprComponentsProps) {
    super(scope, id);
    const { config, namespace, kafka } = props;
    this.pubsubName = config.pubsub.name;
    this.stateStoreName = config.stateStore.name;
    this.secretStoreName = config.secretStore.name;
    this.namespace = namespace;
    this.stateStoreConnection = props.stateStoreConnection;
    this.serviceAccountName = config.serviceAccount;
    this.appIds = [...config.appIds];
    this.kafkaBootstrapServers = kafka.bootstrapServers;
    const labels = appLabels('dapr', 'component');
    const scopes = [...config.appIds];
    // In Kubernetes mode the operator resolves secretKeyRefs of components whose store is 'kubernetes'
    // (dapr/dapr pkg/operator/api/components.go), so the sidecars need no Secret access for them.
    const auth = { secretStore: 'kubernetes' };
    const value = (name: string, v: string): ComponentSpecMetadata => ({ name, value: v });

    new Component(this, 'PubSub', {
      metadata: { name: this.pubsubName, namespace, labels },
      auth,
      scopes,
      spec: {
        type: 'pubsub.kafka',
        version: 'v1',
        metadata: [
          value('brokers', kafka.bootstrapServers),
          // Required by the component's code even though metadata.yaml does not mark it so; 'none'
          // is the in-cluster plaintext listener (and disables TLS in auth.go).
          value('authType', 'none'),
          // Each app-id is its own consumer group (every app sees every event; replicas share the load);
          // {appID} is a Dapr metadata template tag.
          value('consumerGroup', '{appID}'),
          value('clientID', '{appID}'),
          value('initialOffset', config.pubsub.initialOffset),
          // Sarama picks protocol versions from this; Kafka 4 removed the oldest ones (KIP-896).
          value('version', kafka.version),
        ],
      },
    });

    new Component(this, 'StateStore', {
      metadata: { name: this.stateStoreName, namespace, labels },
      auth,
      scopes,
      spec: {
        type: 'state.postgresql',
        version: 'v2',
        metadata: [
          { name: 'connectionString', secretKeyRef: { ...props.stateStoreConnection } },
          value('tablePrefix', config.stateStore.tablePrefix),
          value('cleanupInterval', config.stateStore.cleanupInterval),
          value('timeout', config.stateStore.timeout),
          // Each sidecar's pool; the Dapr role's CONNECTION LIMIT is this times the sidecars (lib/config/postgres-security.ts).
          value('maxConns', String(config.stateStore.maxConns)),
        ],
      },
    });

    new Component(this, 'SecretStore', {
      metadata: { name: this.secretStoreName, namespace, labels },
      scopes,
      // No metadata: the sidecar reads Secrets of its own namespace (NAMESPACE env), which is what we want.
      spec: { type: 'secretstores.kubernetes', version: 'v1', metadata: [] },
    });

    // The services' own identity. Bound to 'default' instead, the Secrets would go to every pod of the
    // namespace that names no service account (LearnFlow runs untrusted student code there).
    new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { name: this.serviceAccountName, namespace, labels },
      // The daprd sidecar reads Secrets with this token (secretstores.kubernetes): the API server mounts
      // it into every container of the pod, the injected sidecar too (re-run after the injector's patch).
      automountServiceAccountToken: true,
    });

    // The sidecars read Secrets with their pod's service account: only these names, only get.
    new k8s.KubeRole(this, 'SecretReader', {
      metadata: { name: `${this.secretStoreName}-reader`, namespace, labels },
      rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: [...props.readableSecrets], verbs: ['get'] }],
    });
    const readers = [...new Set([this.serviceAccountName, ...config.secretStore.readerServiceAccounts])];
    new k8s.KubeRoleBinding(this, 'SecretReaderBinding', {
      metadata: { name: `${this.secretStoreName}-reader`, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${this.secretStoreName}-reader` },
      subjects: readers.map((name) => ({ kind: 'ServiceAccount', name, namespace })),
    });

    const { resiliency } = config;
    const breaker = { maxRequests: 1, timeout: resiliency.breakerTimeout, trip: `consecutiveFailures > ${resiliency.breakerTrip}` };
    const retry = { policy: 'exponential', maxInterval: resiliency.maxRetryInterval, maxRetries: resiliency.maxRetries };
    new Resiliency(this, 'Resiliency', {
      metadata: { name: 'learnflow-infra', namespace, labels },
      scopes,
      spec: {
        policies: {
          // Calls to Kafka and PostgreSQL: at least the state store's own operation timeout.
          // Deliveries to an app: LLM-backed agents take long, and a timed-out delivery is redone.
          timeouts: { outbound: resiliency.outboundTimeout, delivery: resiliency.deliveryTimeout },
          retries: { infra: retry },
          circuitBreakers: { infra: breaker },
        },
        targets: {
          components: {
            [this.pubsubName]: {
              inbound: { timeout: 'delivery', retry: 'infra', circuitBreaker: 'infra' },
              outbound: { timeout: 'outbound', retry: 'infra', circuitBreaker: 'infra' },
            },
            [this.stateStoreName]: { outbound: { timeout: 'outbound', retry: 'infra', circuitBreaker: 'infra' } },
          },
        },
      },
    });

    for (const subscription of config.subscriptions) {
      new SubscriptionV2Alpha1(this, `Subscription-${subscription.topic}`, {
        metadata: { name: subscriptionName(subscription.topic), namespace, labels },
        scopes: [...subscription.appIds],
        spec: {
          pubsubname: this.pubsubName,
          topic: subscription.topic,
          routes: { default: subscription.route },
          deadLetterTopic: subscription.deadLetterTopic,
        },
      });
    }
  }

  endpoints(): EndpointsSection {
    return {
      heading: `Dapr (components in namespace ${this.namespace}; the Dapr control plane is a prerequisite)`,
      lines: [
        `pub/sub:      ${this.pubsubName}  (pubsub.kafka -> ${this.kafkaBootstrapServers}; consumer group = app-id)`,
        `state store:  ${this.stateStoreName}  (state.postgresql v2; connection string from Secret ${this.stateStoreConnection.name})`,
        `secret store: ${this.secretStoreName}  (secretstores.kubernetes)`,
        `service account: ${this.serviceAccountName}  (every LearnFlow service pod must set serviceAccountName: ${this.serviceAccountName}; its Dapr sidecar reads Secrets with it)`,
        `scoped to app-ids: ${this.appIds.join(', ')}`,
      ],
    };
  }
}
