import { describe, expect, it } from 'vitest';
import { validateComponent } from '../lib/dapr/component-metadata';
import { findObject, type K8sObject, synthObjects } from './support/synth';

const components = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'Component');
const metadataOf = (component: K8sObject) =>
  Object.fromEntries(component.spec.metadata.map((m: { name: string; value?: string; secretKeyRef?: unknown }) => [m.name, m.value ?? m.secretKeyRef]));

describe('Dapr components', () => {
  const minikube = synthObjects();
  const production = synthObjects({ profile: 'production' });

  it('synthesizes pubsub, statestore and secretstore in the apps namespace, scoped to the app-ids', () => {
    expect(components(minikube).map((c) => c.metadata.name).sort()).toEqual(['pubsub', 'secretstore', 'statestore']);
    for (const component of components(minikube)) {
      expect(component.metadata.namespace).toBe('learnflow');
      expect(component.scopes).toEqual(['triage-agent', 'concepts-agent', 'code-review-agent', 'debug-agent', 'exercise-agent', 'progress-agent', 'frontend']);
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

  it('points pub/sub at the Kafka bootstrap Service, plaintext, with the broker version', () => {
    const pubsub = metadataOf(findObject(minikube, 'Component', 'pubsub'));
    expect(pubsub.brokers).toBe('kafka-bootstrap.kafka.svc.cluster.local:9092');
    expect(pubsub.authType).toBe('none');
    expect(pubsub.consumerGroup).toBe('{appID}');
    const image = findObject(minikube, 'StatefulSet', 'kafka').spec.template.spec.containers[0].image as string;
    expect(image.endsWith(`:${pubsub.version}`)).toBe(true);
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

  it('has resiliency policies for pub/sub and the state store', () => {
    const resiliency = findObject(minikube, 'Resiliency', 'learnflow-infra');
    expect(Object.keys(resiliency.spec.targets.components).sort()).toEqual(['pubsub', 'statestore']);
    expect(resiliency.spec.policies.retries.infra.policy).toBe('exponential');
    expect(resiliency.spec.policies.circuitBreakers.infra.trip).toBe('consecutiveFailures > 5');
  });

  it('emits declarative subscriptions only where the config declares them', () => {
    expect(minikube.filter((o) => o.kind === 'Subscription')).toEqual([]);
    const declared = synthObjects({
      override: { dapr: { subscriptions: [{ topic: 'struggle.detected', route: '/events/struggle', appIds: ['progress-agent'] }] } },
    });
    const subscription = findObject(declared, 'Subscription', 'struggle-detected');
    expect(subscription.apiVersion).toBe('dapr.io/v2alpha1');
    expect(subscription.spec).toEqual({ pubsubname: 'pubsub', topic: 'struggle.detected', routes: { default: '/events/struggle' } });
    expect(subscription.scopes).toEqual(['progress-agent']);
  });

  it('rejects a subscription to an undeclared topic', () => {
    expect(() =>
      synthObjects({ override: { dapr: { subscriptions: [{ topic: 'nope', route: '/x', appIds: ['frontend'] }] } } }),
    ).toThrow(/dapr\.subscriptions\[nope\]\.topic: must be one of the declared kafka\.topics/);
  });
});
