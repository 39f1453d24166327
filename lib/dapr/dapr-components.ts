import { Construct } from 'constructs';
import { Component, type ComponentSpecMetadata } from '../../imports/dapr-component-dapr.io';
import { Resiliency } from '../../imports/dapr-resiliency-dapr.io';
import { SubscriptionV2Alpha1 } from '../../imports/dapr-subscription-dapr.io';
import { appCredentialsSecret, appPrincipal, KAFKA_CA_SECRET } from '../config/kafka-security';
import { subscriptionName } from '../config/object-names';
import type { DaprConfig } from '../config/schema';
import type { KafkaCluster } from '../kafka/kafka-cluster';
import { SASL_MECHANISM } from '../kafka/kafka-tls';
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

/** One app-id's pub/sub component: its name, and with kafka.security the Kafka principal it logs in as. */
export interface AppPubSub {
  readonly appId: string;
  /** `<dapr.pubsub.name>-<appId>`: the pubsub name the app's code publishes and subscribes through. */
  readonly name: string;
  /** The SCRAM user and its password's Secret (keys username, password); undefined without kafka.security. */
  readonly principal?: string;
  readonly credentials?: SecretKeyReference;
}

/** The CA the sidecars verify the brokers with: the contract's copy in the apps namespace (`npm run secrets`). */
const KAFKA_CA: SecretKeyReference = { name: KAFKA_CA_SECRET, key: 'ca.crt' };

/**
 * Dapr's view of the infrastructure: pub/sub on Kafka, state on PostgreSQL (v2), Kubernetes Secrets,
 * with resiliency policies, all scoped to the LearnFlow app-ids. Field names and allowed values follow
 * Dapr's component metadata (components-contrib pubsub/kafka, state/postgresql/v2 metadata.yaml).
 *
 * Pub/sub is one `pubsub.kafka` component per app-id, scoped to that app-id alone, in every profile (so a
 * service's code is the same on minikube and in production). Dapr cannot give one component different
 * credentials per app: daprd templates only metadata *values* ({uuid}, {podName}, {namespace}, {appID};
 * dapr/dapr pkg/runtime/meta/meta.go convertItemsToProps), while the operator resolves a secretKeyRef by its
 * literal name (pkg/operator/api/components.go processComponentSecrets), and a component name is unique in
 * its namespace. So each app-id's SCRAM user (its least-privilege ACLs) gets a component of its own.
 */
export class DaprComponents extends Construct implements ExposesEndpoints {
  /** The pub/sub component of every app-id, in dapr.appIds order. */
  public readonly pubsubs: readonly AppPubSub[];
  public readonly stateStoreName: string;
  public readonly secretStoreName: string;
  public readonly namespace: string;
  public readonly stateStoreConnection: SecretKeyReference;
  /** The ServiceAccount the LearnFlow services' pods must run as (serviceAccountName) to read Secrets through Dapr. */
  public readonly serviceAccountName: string;
  /** The LearnFlow app-ids: the state and secret stores are scoped to all of them, each pub/sub to one. */
  public readonly appIds: readonly string[];
  /** The brokers of the pub/sub components. */
  public readonly kafkaBootstrapServers: string;
  private readonly kafkaNamespace: string;

  constructor(scope: Construct, id: string, props: DaprComponentsProps) {
    super(scope, id);
    const { config, namespace, kafka } = props;
    this.stateStoreName = config.stateStore.name;
    this.secretStoreName = config.secretStore.name;
    this.namespace = namespace;
    this.stateStoreConnection = props.stateStoreConnection;
    this.serviceAccountName = config.serviceAccount;
    this.appIds = [...config.appIds];
    this.kafkaBootstrapServers = kafka.bootstrapServers;
    this.kafkaNamespace = kafka.namespace;
    const labels = appLabels('dapr', 'component');
    const scopes = [...config.appIds];
    // In Kubernetes mode the operator resolves secretKeyRefs of components whose store is 'kubernetes'
    // (dapr/dapr pkg/operator/api/components.go), so the sidecars need no Secret access for them.
    const auth = { secretStore: 'kubernetes' };
    const value = (name: string, v: string): ComponentSpecMetadata => ({ name, value: v });

    const secured = kafka.tls.enabled;
    this.pubsubs = config.appIds.map((appId) => ({
      appId,
      name: `${config.pubsub.name}-${appId}`,
      ...(secured ? { principal: appPrincipal(appId), credentials: { name: appCredentialsSecret(appId), key: 'password' } } : {}),
    }));
    for (const pubsub of this.pubsubs) {
      // components-contrib common/component/kafka (v1.18.4): authType 'password' is SASL with saslUsername and
      // saslPassword (auth.go updatePasswordAuthInfo; SHA-512 selects SCRAM-SHA-512), and TLS stays on unless
      // disableTls or authType 'none' (updateTLSConfig); caCert is read whatever the authType (metadata.go) and
      // becomes the only root Sarama trusts. Sarama verifies the host it dials (broker.go validServerNameTLS):
      // the bootstrap Service and the brokers' headless names, both DNS names of the nodes' certificate.
      const authentication: ComponentSpecMetadata[] =
        pubsub.principal && pubsub.credentials
          ? [
              value('authType', 'password'),
              value('saslUsername', pubsub.principal),
              { name: 'saslPassword', secretKeyRef: { ...pubsub.credentials } },
              value('saslMechanism', SASL_MECHANISM.replace(/^SCRAM-/, '')),
              value('disableTls', 'false'),
              { name: 'caCert', secretKeyRef: { ...KAFKA_CA } },
            ]
          : // Required by the component's code even though metadata.yaml does not mark it so; 'none' is the
            // in-cluster plaintext listener (and disables TLS in auth.go).
            [value('authType', 'none')];
      new Component(this, `PubSub-${pubsub.appId}`, {
        metadata: { name: pubsub.name, namespace, labels },
        auth,
        // One app-id: the component carries that app's credentials, and only its sidecars may load them.
        scopes: [pubsub.appId],
        spec: {
          type: 'pubsub.kafka',
          version: 'v1',
          metadata: [
            // The INTERNAL listener (SASL_SSL with kafka.security).
            value('brokers', kafka.bootstrapServers),
            ...authentication,
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
    }

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
            ...Object.fromEntries(
              this.pubsubs.map((pubsub) => [
                pubsub.name,
                {
                  inbound: { timeout: 'delivery', retry: 'infra', circuitBreaker: 'infra' },
                  outbound: { timeout: 'outbound', retry: 'infra', circuitBreaker: 'infra' },
                },
              ]),
            ),
            [this.stateStoreName]: { outbound: { timeout: 'outbound', retry: 'infra', circuitBreaker: 'infra' } },
          },
        },
      },
    });

    // A Subscription names one pubsub, and each app-id has its own: one Subscription per app-id, scoped to it.
    // An entry without a route is a programmatic subscription (the app's code declares it to its sidecar).
    for (const subscription of config.subscriptions) {
      const { route } = subscription;
      if (route === undefined) continue;
      for (const appId of subscription.appIds) {
        new SubscriptionV2Alpha1(this, `Subscription-${subscription.topic}-${appId}`, {
          metadata: { name: subscriptionName(subscription.topic, appId), namespace, labels },
          scopes: [appId],
          spec: {
            pubsubname: this.pubsubNameOf(appId),
            topic: subscription.topic,
            routes: { default: route },
            deadLetterTopic: subscription.deadLetterTopic,
          },
        });
      }
    }
  }

  /** The pub/sub component an app-id publishes and subscribes through. */
  pubsubNameOf(appId: string): string {
    const pubsub = this.pubsubs.find((each) => each.appId === appId);
    if (!pubsub) throw new Error(`app-id '${appId}' is not one of dapr.appIds (${this.appIds.join(', ')})`);
    return pubsub.name;
  }

  endpoints(): EndpointsSection {
    const [first] = this.pubsubs;
    const pattern = first.name.slice(0, -first.appId.length);
    const width = Math.max(...this.appIds.map((appId) => appId.length));
    const transport = first.principal
      ? `SASL ${SASL_MECHANISM} as user ${appPrincipal('<app-id>')}, TLS verified against the CA of Secret ${KAFKA_CA.name}`
      : 'plaintext, no authentication';
    return {
      heading: `Dapr (components in namespace ${this.namespace}; the Dapr control plane is a prerequisite)`,
      lines: [
        `pub/sub:      one pubsub.kafka component per app-id, scoped to it: an app publishes and subscribes through pubsub name '${pattern}<its app-id>'`,
        `              (-> ${this.kafkaBootstrapServers}; ${transport}; consumer group = app-id)`,
        ...this.pubsubs.map((pubsub) => `  ${pubsub.appId.padEnd(width)}  pubsub name ${pubsub.name}`),
        `state store:  ${this.stateStoreName}  (state.postgresql v2; connection string from Secret ${this.stateStoreConnection.name})`,
        `secret store: ${this.secretStoreName}  (secretstores.kubernetes)`,
        `service account: ${this.serviceAccountName}  (every LearnFlow service pod must set serviceAccountName: ${this.serviceAccountName}; its Dapr sidecar reads Secrets with it)`,
        `state and secret stores scoped to app-ids: ${this.appIds.join(', ')}`,
        ...this.kafkaCredentialLines(),
      ],
    };
  }

  /** The secret contract of the pub/sub components' Kafka credentials (kafka.security), as the verifier's secret-references reads it. */
  private kafkaCredentialLines(): string[] {
    if (!this.pubsubs[0].credentials) return [];
    return [
      '',
      "### Dapr's Kafka credentials (created by `npm run secrets`; values never appear in dist/; the Dapr operator resolves them)",
      ...this.pubsubs.flatMap((pubsub) => [
        `${pubsub.credentials!.name}  (namespaces: ${this.kafkaNamespace}, ${this.namespace})`,
        '  keys:    username, password',
        `  readers: the Kafka users Job (namespace ${this.kafkaNamespace}); Dapr component ${pubsub.name} (namespace ${this.namespace}, key password; user ${pubsub.principal})`,
      ]),
      `${KAFKA_CA.name}  (namespaces: ${this.namespace})`,
      `  keys:    ${KAFKA_CA.key}`,
      `  readers: every pub/sub component (caCert; a copy of the ca.crt of Kafka's certificate Secret)`,
    ];
  }
}
