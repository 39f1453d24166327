import { describe, expect, it } from 'vitest';
import { appCredentialsSecret, appPrincipal, KAFKA_CA_SECRET } from '../lib/config/kafka-security';
import { validateComponent } from '../lib/dapr/component-metadata';
import { findObject, type K8sObject, synthObjects } from './support/synth';

const APP_IDS = ['triage-agent', 'concepts-agent', 'code-review-agent', 'debug-agent', 'exercise-agent', 'progress-agent', 'frontend'];
const pubsubs = (objects: K8sObject[]) => components(objects).filter((c) => c.spec.type === 'pubsub.kafka');
const envOf = (container: { env: { name: string; value?: string }[] }, name: string) => container.env.find((e) => e.name === name)?.value;

const components = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'Component');
const metadataOf = (component: K8sObject) =>
  Object.fromEntries(component.spec.metadata.map((m: { name: string; value?: string; secretKeyRef?: unknown }) => [m.name, m.value ?? m.secretKeyRef]));

describe('Dapr components', () => {
  const minikube = synthObjects();
  const production = synthObjects({ profile: 'production' });

  it.each([
    ['minikube', minikube],
    ['production', production],
  ])('synthesizes one pub/sub per app-id, scoped to it alone, and statestore and secretstore scoped to every app-id (%s)', (_profile, objects) => {
    expect(components(objects).map((c) => c.metadata.name).sort()).toEqual([...APP_IDS.map((appId) => `pubsub-${appId}`), 'secretstore', 'statestore'].sort());
    for (const component of components(objects)) {
      expect(component.metadata.namespace).toBe('learnflow');
      const appId = /^pubsub-(.+)$/.exec(component.metadata.name)?.[1];
      expect(component.scopes, component.metadata.name).toEqual(appId ? [appId] : APP_IDS);
    }
  });

  it.each([
    ['minikube', minikube],
    ['production', production],
  ])('passes Dapr component metadata validation (%s)', (_profile, objects) => {
    for (const component of components(objects)) {
      expect(validateComponent(component), component.metadata.name).toEqual([]);
    }
  });

  it('points pub/sub at the Kafka bootstrap Service, plaintext, with the broker version (minikube)', () => {
    expect(pubsubs(minikube)).toHaveLength(APP_IDS.length);
    for (const component of pubsubs(minikube)) {
      const pubsub = metadataOf(component);
      expect(pubsub.brokers).toBe('kafka-bootstrap.kafka.svc.cluster.local:9092');
      expect(pubsub.authType).toBe('none');
      expect(pubsub.consumerGroup).toBe('{appID}');
      expect(Object.keys(pubsub).filter((name) => /^sasl|caCert/.test(name))).toEqual([]);
      const image = findObject(minikube, 'StatefulSet', 'kafka').spec.template.spec.containers[0].image as string;
      expect(image.endsWith(`:${pubsub.version}`)).toBe(true);
    }
  });

  it("production: each app's pub/sub logs in as its own SCRAM user, with the mechanism the brokers enable, over TLS verified against the CA Secret", () => {
    const broker = findObject(production, 'StatefulSet', 'kafka').spec.template.spec.containers[0];
    const listeners = Object.fromEntries(envOf(broker, 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP')!.split(',').map((pair) => pair.split(':')));
    expect(listeners.INTERNAL).toBe('SASL_SSL');
    for (const appId of APP_IDS) {
      const pubsub = metadataOf(findObject(production, 'Component', `pubsub-${appId}`));
      expect(pubsub.authType).toBe('password');
      expect(pubsub.saslUsername).toBe(appPrincipal(appId));
      expect(pubsub.saslPassword).toEqual({ name: appCredentialsSecret(appId), key: 'password' });
      // Sarama's SHA-512 is SCRAM-SHA-512, the one mechanism the brokers enable.
      expect(`SCRAM-${pubsub.saslMechanism}`).toBe(envOf(broker, 'KAFKA_SASL_ENABLED_MECHANISMS'));
      expect(pubsub.disableTls).toBe('false');
      expect(pubsub.caCert).toEqual({ name: KAFKA_CA_SECRET, key: 'ca.crt' });
      // The INTERNAL listener's port on the bootstrap Service.
      expect(pubsub.brokers).toBe('kafka-bootstrap.kafka.svc.cluster.local:9092');
    }
  });

  it('production: the host the pub/sub dials, and the brokers it is sent on to, are DNS names of the certificate the brokers present', () => {
    const certificate = findObject(production, 'Certificate', 'kafka-node').spec;
    const covered = (host: string) =>
      (certificate.dnsNames as string[]).some((name) => name === host || (name.startsWith('*.') && host.slice(host.indexOf('.') + 1) === name.slice(2)));
    const [host] = (metadataOf(findObject(production, 'Component', 'pubsub-frontend')).brokers as string).split(':');
    expect(covered(host)).toBe(true);
    // After the bootstrap Sarama connects to each broker's advertised INTERNAL address (and checks that name).
    const broker = findObject(production, 'StatefulSet', 'kafka').spec.template.spec.containers[0];
    const advertised = /INTERNAL:\/\/([^:,]+):9092/.exec([...(broker.command ?? []), ...(broker.args ?? [])].join('\n'))?.[1];
    expect(advertised).toBeDefined();
    const pod = { POD_NAME: 'kafka-0', POD_NAMESPACE: 'kafka' } as Record<string, string>;
    expect(covered(advertised!.replace(/\$\{?([A-Z_]+)\}?/g, (_, name: string) => pod[name]))).toBe(true);
    expect(covered('kafka-0.elsewhere.kafka.svc.cluster.local')).toBe(false);
  });

  it('takes the state store connection string from a Secret, never inline', () => {
    const statestore = findObject(minikube, 'Component', 'statestore');
    expect(statestore.spec.version).toBe('v2');
    const connection = statestore.spec.metadata.find((m: { name: string }) => m.name === 'connectionString');
    expect(connection.value).toBeUndefined();
    expect(connection.secretKeyRef).toEqual({ name: 'learnflow-postgres-dapr', key: 'connectionString' });
    expect(statestore.auth).toEqual({ secretStore: 'kubernetes' });
  });

  it('gives the secret store read access to the contract Secrets only, by name', () => {
    const role = findObject(minikube, 'Role', 'secretstore-reader');
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['secrets'], resourceNames: expect.any(Array), verbs: ['get'] }]);
    expect(role.rules[0].resourceNames).toContain('learnflow-postgres-app');
  });

  it("binds the secret reader Role to the services' own ServiceAccount, never to the namespace's default", () => {
    const account = findObject(minikube, 'ServiceAccount', 'learnflow-services');
    expect(account.metadata.namespace).toBe('learnflow');
    // The injected daprd sidecar reads Secrets with the pod's token: it must be mounted.
    expect(account.automountServiceAccountToken).toBe(true);
    const binding = findObject(minikube, 'RoleBinding', 'secretstore-reader');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'secretstore-reader' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'learnflow-services', namespace: 'learnflow' }]);

    const renamed = synthObjects({ override: { dapr: { serviceAccount: 'tutor', secretStore: { readerServiceAccounts: ['tutor', 'grader'] } } } });
    expect(findObject(renamed, 'ServiceAccount', 'tutor').metadata.namespace).toBe('learnflow');
    expect(findObject(renamed, 'RoleBinding', 'secretstore-reader').subjects.map((s: { name: string }) => s.name)).toEqual(['tutor', 'grader']);
    expect(() => synthObjects({ override: { dapr: { serviceAccount: 'default' } } })).toThrow(/dapr\.serviceAccount: must not be 'default'/);
  });

  it('has resiliency policies for every pub/sub and the state store', () => {
    const resiliency = findObject(minikube, 'Resiliency', 'learnflow-infra');
    expect(Object.keys(resiliency.spec.targets.components).sort()).toEqual([...pubsubs(minikube).map((c) => c.metadata.name), 'statestore'].sort());
    expect(resiliency.spec.policies.retries.infra.policy).toBe('exponential');
    expect(resiliency.spec.policies.circuitBreakers.infra.trip).toBe('consecutiveFailures > 5');
  });

  it("emits declarative subscriptions only where the config declares them: one per app-id, through that app's pub/sub", () => {
    expect(minikube.filter((o) => o.kind === 'Subscription')).toEqual([]);
    const declared = synthObjects({
      override: { dapr: { subscriptions: [{ topic: 'struggle.detected', route: '/events/struggle', appIds: ['progress-agent', 'frontend'] }] } },
    });
    expect(declared.filter((o) => o.kind === 'Subscription').map((o) => o.metadata.name)).toEqual(['struggle-detected-progress-agent', 'struggle-detected-frontend']);
    for (const appId of ['progress-agent', 'frontend']) {
      const subscription = findObject(declared, 'Subscription', `struggle-detected-${appId}`);
      expect(subscription.apiVersion).toBe('dapr.io/v2alpha1');
      expect(subscription.spec).toEqual({ pubsubname: `pubsub-${appId}`, topic: 'struggle.detected', routes: { default: '/events/struggle' } });
      expect(subscription.scopes).toEqual([appId]);
      expect(findObject(declared, 'Component', subscription.spec.pubsubname).scopes).toEqual([appId]);
    }
  });

  it('rejects a subscription to an undeclared topic', () => {
    expect(() =>
      synthObjects({ override: { dapr: { subscriptions: [{ topic: 'nope', route: '/x', appIds: ['frontend'] }] } } }),
    ).toThrow(/dapr\.subscriptions\[nope\]\.topic: must be one of the declared kafka\.topics/);
  });
});
