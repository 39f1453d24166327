import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load';
import { LearnflowStack } from '../lib/learnflow-stack';
import { deriveKafkaAcls } from '../lib/kafka/kafka-acls';
import { type BadConfigInput, describeBadConfig } from './support/bad-config';
import { envOf, findObject, synthObjects } from './support/synth';

// kafka.security's principals and rights: dapr.publications, the ACLs derived from it and dapr.subscriptions,
// the users Job that applies them, the authorizer. test/kafka-security.test.ts runs them on a real broker.

const DAPR = {
  publications: [
    { topic: 'learning.query', appIds: ['frontend'] },
    { topic: 'learning.response', appIds: ['triage-agent', 'concepts-agent'] },
    { topic: 'struggle.detected', appIds: ['debug-agent'] },
  ],
  subscriptions: [
    { topic: 'learning.query', route: '/query', appIds: ['triage-agent', 'concepts-agent'], deadLetterTopic: 'exercise.graded' },
    { topic: 'learning.response', route: '/response', appIds: ['frontend'] },
    { topic: 'struggle.detected', route: '/struggle', appIds: ['progress-agent'] },
  ],
};

const BAD_INPUTS: BadConfigInput[] = [
  {
    case: 'a publication to a topic that is not declared',
    profile: 'production',
    override: { dapr: { publications: [{ topic: 'payments', appIds: ['frontend'] }] } },
    path: 'dapr.publications[payments].topic',
    rule: 'must be one of the declared kafka.topics',
  },
  {
    case: 'a publication by an app-id outside dapr.appIds',
    profile: 'production',
    override: { dapr: { publications: [{ topic: 'learning.query', appIds: ['stranger'] }] } },
    path: 'dapr.publications[learning.query].appIds[0]',
    value: 'stranger',
    rule: 'must be one of dapr.appIds',
  },
  {
    case: 'a publication without app-ids',
    profile: 'minikube',
    override: { dapr: { publications: [{ topic: 'learning.query', appIds: [] }] } },
    path: 'dapr.publications[learning.query].appIds',
    rule: 'must list at least one app-id',
  },
];

describeBadConfig('dapr.publications: bad input', BAD_INPUTS);

describe('Kafka ACLs derived from dapr.publications and dapr.subscriptions', () => {
  const config = loadConfig({ profile: 'production', override: { dapr: DAPR } });
  const acls = deriveKafkaAcls({ topics: config.kafka.topics, verifyTopic: 'learnflow.verify', publications: config.dapr.publications, subscriptions: config.dapr.subscriptions });
  const rights = (principal: string, resourceType: string, operation: string) =>
    acls.filter((acl) => acl.principal === principal && acl.resourceType === resourceType && acl.operation === operation).map((acl) => acl.name).sort();

  it('each subscription gives exactly its app-ids READ on its topic and on the group named by the app-id', () => {
    const groupReaders = acls.filter((acl) => acl.resourceType === 'GROUP').map((acl) => `${acl.principal} ${acl.name} ${acl.operation}`).sort();
    const subscribers = [...new Set(DAPR.subscriptions.flatMap((s) => s.appIds))];
    expect(groupReaders).toEqual(subscribers.map((appId) => `learnflow.app.${appId} ${appId} READ`).sort());
    for (const subscription of DAPR.subscriptions) {
      const readers = acls.filter((acl) => acl.resourceType === 'TOPIC' && acl.name === subscription.topic && acl.operation === 'READ' && acl.principal.startsWith('learnflow.app.'));
      expect(readers.map((acl) => acl.principal).sort()).toEqual(
        DAPR.subscriptions.filter((s) => s.topic === subscription.topic).flatMap((s) => s.appIds.map((appId) => `learnflow.app.${appId}`)).sort(),
      );
    }
  });

  it('no app-id gets WRITE on a topic it neither publishes to nor dead-letters into; publishers do not READ', () => {
    for (const appId of config.dapr.appIds) {
      const allowed = [
        ...DAPR.publications.filter((p) => p.appIds.includes(appId)).map((p) => p.topic),
        ...DAPR.subscriptions.filter((s) => s.appIds.includes(appId) && s.deadLetterTopic).map((s) => s.deadLetterTopic!),
      ];
      expect(rights(`learnflow.app.${appId}`, 'TOPIC', 'WRITE')).toEqual([...new Set(allowed)].sort());
      expect(rights(`learnflow.app.${appId}`, 'TOPIC', 'READ')).toEqual(DAPR.subscriptions.filter((s) => s.appIds.includes(appId)).map((s) => s.topic).sort());
    }
    // An app-id that neither publishes nor subscribes has no right at all.
    expect(acls.filter((acl) => acl.principal === 'learnflow.app.code-review-agent')).toEqual([]);
  });

  it('the verifier describes every declared topic and reads and writes its own topic only; nothing is a wildcard or a cluster right', () => {
    const topics = config.kafka.topics.map((topic) => topic.name).sort();
    expect(rights('learnflow.verify', 'TOPIC', 'DESCRIBE')).toEqual(topics);
    expect(rights('learnflow.verify', 'TOPIC', 'DESCRIBE_CONFIGS')).toEqual(topics);
    expect(rights('learnflow.verify', 'TOPIC', 'READ')).toEqual(['learnflow.verify']);
    expect(rights('learnflow.verify', 'TOPIC', 'WRITE')).toEqual(['learnflow.verify']);
    expect(new Set(acls.map((acl) => acl.resourceType))).toEqual(new Set(['TOPIC', 'GROUP']));
    expect(acls.filter((acl) => acl.name.includes('*'))).toEqual([]);
    // Each binding once.
    expect(new Set(acls.map((acl) => JSON.stringify(acl))).size).toBe(acls.length);
  });
});

describe('the users Job and the authorizer (kafka.security)', () => {
  const objects = synthObjects({ profile: 'production', override: { dapr: DAPR } });
  const job = findObject(objects, 'Job', /^kafka-users-/);
  const configMap = findObject(objects, 'ConfigMap', job.metadata.name);
  const pod = job.spec.template.spec;
  const env = envOf(pod.containers[0]);

  it('ships the derived ACLs and one user per app-id and the verifier, with passwords only from mounted Secrets', () => {
    const config = loadConfig({ profile: 'production', override: { dapr: DAPR } });
    const lines = (configMap.data!['acls.conf'] as string).trim().split('\n');
    expect(lines).toHaveLength(new LearnflowStack(config).kafkaUsers!.acls.length);
    expect(lines).toContain('learnflow.app.triage-agent GROUP triage-agent READ');
    expect((configMap.data!['users.conf'] as string).trim().split('\n').map((line) => line.split(' ')[0])).toEqual([
      ...config.dapr.appIds.map((appId) => `learnflow.app.${appId}`),
      'learnflow.verify',
    ]);
    const sources = pod.volumes.find((v: { name: string }) => v.name === 'secrets').projected.sources.map((source: { secret: { name: string } }) => source.secret.name);
    expect(sources).toEqual(['kafka-admin-tls', ...config.dapr.appIds.map((appId) => `learnflow-kafka-${appId}`), 'learnflow-kafka-verify']);
    // Never a password in the environment: the script reads the files.
    expect(pod.containers[0].env.filter((e: { valueFrom?: { secretKeyRef?: unknown } }) => e.valueFrom?.secretKeyRef)).toEqual([]);
    expect(env.CREDENTIALS_DIR).toBe('/etc/learnflow/secrets/kafka-users');
    // The credential files of kafka-configs.sh live in RAM.
    expect(pod.volumes.find((v: { name: string }) => v.name === 'scram').emptyDir.medium).toBe('Memory');
  });

  it('a subscription without a route (the app subscribes in its code) gives the same rights and synthesizes no Subscription; endpoints list each principal\'s rights', () => {
    const programmatic = { publications: [], subscriptions: [{ topic: 'learning.query', appIds: ['triage-agent'] }] };
    const objects = synthObjects({ profile: 'production', override: { dapr: programmatic } });
    const acls = (findObject(objects, 'ConfigMap', findObject(objects, 'Job', /^kafka-users-/).metadata.name).data!['acls.conf'] as string).split('\n');
    expect(acls).toEqual(expect.arrayContaining(['learnflow.app.triage-agent TOPIC learning.query READ', 'learnflow.app.triage-agent GROUP triage-agent READ']));
    expect(objects.filter((o) => o.kind === 'Subscription')).toEqual([]);
    const stack = new LearnflowStack(loadConfig({ profile: 'production', override: { dapr: programmatic } }));
    const users = stack.kafkaUsers!.endpoints().lines;
    expect(users.find((line) => line.startsWith('User:learnflow.app.triage-agent '))).toContain('rights: READ group triage-agent, DESCRIBE topic learning.query, READ topic learning.query');
    // An app-id with a user and no right is said loudly: its sidecar logs in and is refused everything.
    expect(users.find((line) => line.startsWith('User:learnflow.app.frontend '))).toContain('rights: NONE (declare what it publishes and subscribes to');
  });

  it('runs as the admin principal on kafka-admin, under restricted Pod Security, on the stock image, named by its content', () => {
    expect(env.BOOTSTRAP_SERVERS).toBe('kafka-admin.kafka.svc.cluster.local:9095');
    expect(env.KAFKA_CLIENT_TLS_DIR).toBe('/etc/learnflow/secrets/kafka-admin');
    expect(env.OWNED_PREFIX).toBe('learnflow.');
    expect(pod.containers[0].image).toBe(findObject(objects, 'StatefulSet', 'kafka').spec.template.spec.containers[0].image);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.containers[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    // The NetworkPolicies admit it to the admin listener as they admit the other admin Jobs.
    expect(job.spec.template.metadata.labels['learnflow.dev/kafka-client']).toBe('true');
    const other = synthObjects({ profile: 'production', override: { dapr: { ...DAPR, publications: [] } } });
    expect(findObject(other, 'Job', /^kafka-users-/).metadata.name).not.toBe(job.metadata.name);
  });

  it('exists only with kafka.security', () => {
    expect(synthObjects().some((o) => o.kind === 'Job' && o.metadata.name.startsWith('kafka-users-'))).toBe(false);
    const optOut = synthObjects({ profile: 'production', override: { kafka: { security: { enabled: false, insecurePlaintextInProduction: true } } } });
    expect(optOut.some((o) => o.kind === 'Job' && o.metadata.name.startsWith('kafka-users-'))).toBe(false);
  });

  it('brokers and voters authorize every request; only the certificate principals are super users', () => {
    for (const name of ['kafka', 'kafka-controller']) {
      const node = envOf(findObject(objects, 'StatefulSet', name).spec.template.spec.containers[0]);
      expect(node.KAFKA_AUTHORIZER_CLASS_NAME).toBe('org.apache.kafka.metadata.authorizer.StandardAuthorizer');
      expect(node.KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND).toBe('false');
      const admin = findObject(objects, 'Certificate', 'kafka-admin').spec.commonName;
      const nodes = findObject(objects, 'Certificate', 'kafka-node').spec.commonName;
      expect(node.KAFKA_SUPER_USERS?.split(';')).toEqual([`User:${nodes}`, `User:${admin}`]);
    }
  });
});
