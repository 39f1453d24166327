import { describe, expect, it } from 'vitest';
import { KAFKA_INSECURE_ANNOTATION } from '../lib/platform/labels';
import { type BadConfigInput, describeBadConfig } from './support/bad-config';
import { findObject, synthObjects } from './support/synth';

// kafka.security: one clear error each (field path, value, rule), exit 3, dist/ untouched.
const BAD_INPUTS: BadConfigInput[] = [
  {
    case: 'production with Kafka security turned off and no opt-out',
    profile: 'production',
    override: { kafka: { security: { enabled: false } } },
    path: 'kafka.security.enabled',
    rule: 'must be true in the production profile',
  },
  {
    case: 'an issuer for user-provided Secrets',
    profile: 'production',
    override: { kafka: { security: { source: 'secret', issuer: { kind: 'ClusterIssuer', name: 'corp-ca' } } } },
    path: 'kafka.security.issuer',
    rule: "applies only to source 'cert-manager'",
  },
  {
    case: 'an unknown certificate source',
    profile: 'production',
    override: { kafka: { security: { source: 'vault' } } },
    path: 'kafka.security.source',
    rule: 'must be one of cert-manager, secret (got "vault")',
  },
  {
    case: 'the admin certificate in the nodes\' Secret',
    profile: 'production',
    override: { kafka: { security: { adminSecretName: 'kafka-tls' } } },
    path: 'kafka.security.adminSecretName',
    rule: 'must differ from kafka.security.secretName',
  },
  {
    case: 'a certificate renewed no sooner than it expires',
    profile: 'production',
    override: { kafka: { security: { certificateDuration: '720h', renewBefore: '720h' } } },
    path: 'kafka.security.renewBefore',
    rule: 'must be shorter than kafka.security.certificateDuration (720h)',
  },
  {
    case: 'a certificate life in days',
    profile: 'production',
    override: { kafka: { security: { certificateDuration: '90d' } } },
    path: 'kafka.security.certificateDuration',
    rule: "must be a whole number of hours such as '2160h'",
  },
  {
    case: 'an unknown key',
    profile: 'minikube',
    override: { kafka: { security: { saslMechanism: 'PLAIN' } } },
    path: 'kafka.security.saslMechanism',
    rule: 'unknown key: not a setting of kafka.security (got "PLAIN")',
  },
];

const env = (container: { env: { name: string; value?: string }[] }, name: string) => container.env.find((e) => e.name === name)?.value;

describeBadConfig('Kafka security configuration: bad input', BAD_INPUTS);

describe('Kafka security configuration: what each choice synthesizes', () => {
  const kafkaContainer = (objects: ReturnType<typeof synthObjects>, name: string) => findObject(objects, 'StatefulSet', name).spec.template.spec.containers[0];
  const kinds = (objects: ReturnType<typeof synthObjects>) =>
    objects.filter((o) => ['Certificate', 'Issuer'].includes(o.kind) && o.metadata.namespace === 'kafka').map((o) => `${o.kind}/${o.metadata.name}`);

  it('production: no PLAINTEXT listener; SCRAM over TLS for clients, client certificates for the voters and replication', () => {
    const objects = synthObjects({ profile: 'production' });
    const broker = kafkaContainer(objects, 'kafka');
    const voter = kafkaContainer(objects, 'kafka-controller');
    expect(env(broker, 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP')).toBe('INTERNAL:SASL_SSL,CONTROLLER:SSL,EXTERNAL:SASL_SSL,INTERBROKER:SSL');
    expect(env(voter, 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP')).toBe('CONTROLLER:SSL');
    expect(env(broker, 'KAFKA_INTER_BROKER_LISTENER_NAME')).toBe('INTERBROKER');
    expect(env(broker, 'KAFKA_LISTENER_NAME_INTERBROKER_SSL_CLIENT_AUTH')).toBe('required');
    expect(env(voter, 'KAFKA_LISTENER_NAME_CONTROLLER_SSL_CLIENT_AUTH')).toBe('required');
    expect(env(broker, 'KAFKA_SASL_ENABLED_MECHANISMS')).toBe('SCRAM-SHA-512');
    // The keystore is joined from the Secret at start, into a RAM-backed emptyDir: no key material in dist/.
    const brokerSpec = findObject(objects, 'StatefulSet', 'kafka').spec.template.spec;
    expect(brokerSpec.volumes).toContainEqual(expect.objectContaining({ name: 'tls', secret: expect.objectContaining({ secretName: 'kafka-tls' }) }));
    expect(brokerSpec.volumes).toContainEqual(expect.objectContaining({ name: 'keystore', emptyDir: expect.objectContaining({ medium: 'Memory' }) }));
    expect(JSON.stringify(objects)).not.toMatch(/BEGIN (EC |ENCRYPTED )?PRIVATE KEY|ScramLoginModule required [a-z]/);
    expect(kinds(objects)).toEqual(['Issuer/kafka-selfsigned', 'Certificate/kafka-ca', 'Issuer/kafka-ca', 'Certificate/kafka-node', 'Certificate/kafka-admin']);
    const node = findObject(objects, 'Certificate', 'kafka-node').spec;
    // Every name a client or peer connects by: advertised pod names, the voters, both bootstraps by each name the
    // cluster DNS answers (and kafka-client-port accepts), the port-forward.
    expect(node.dnsNames).toEqual([
      '*.kafka-headless.kafka.svc.cluster.local',
      '*.kafka-controller-headless.kafka.svc.cluster.local',
      ...['kafka-bootstrap', 'kafka-admin'].flatMap((service) => [`${service}.kafka.svc.cluster.local`, `${service}.kafka.svc`, `${service}.kafka`]),
      'localhost',
    ]);
    expect(node.privateKey.encoding).toBe('PKCS8');
    expect(node.usages).toEqual(expect.arrayContaining(['server auth', 'client auth']));
    // The admin Jobs present their own certificate on the certificate listener, through the admin Service, and
    // their scripts read it (client-tls.sh, shipped beside them).
    for (const [prefix, script] of [[/^kafka-topics-/, 'reconcile-topics.sh'], [/^kafka-rebalance-/, 'rebalance.sh'], [/^kafka-features-/, 'features.sh']] as const) {
      const job = findObject(objects, 'Job', prefix).spec.template.spec;
      expect(env(job.containers[0], 'BOOTSTRAP_SERVERS')).toBe('kafka-admin.kafka.svc.cluster.local:9095');
      expect(env(job.containers[0], 'KAFKA_CLIENT_TLS_DIR')).toBe('/etc/learnflow/secrets/kafka-admin');
      const sources = job.volumes.find((v: { name: string }) => v.name === 'secrets').projected.sources;
      expect(sources).toEqual([expect.objectContaining({ secret: expect.objectContaining({ name: 'kafka-admin-tls' }) })]);
      const files: Record<string, string> = findObject(objects, 'ConfigMap', job.volumes.find((v: { name: string }) => v.name === 'files').configMap.name).data ?? {};
      expect(Object.keys(files)).toContain('client-tls.sh');
      // The topics Job's script reads it itself; the tool Jobs' through their shared start, shipped beside them too.
      const reader = script === 'reconcile-topics.sh' ? script : 'tool-common.sh';
      if (reader !== script) expect(files[script]).toContain('source "$(dirname "$0")/tool-common.sh"');
      expect(files[reader]).toMatch(/source "\$\(dirname "\$\{?(0|BASH_SOURCE\[0\])\}?"\)\/client-tls\.sh" "\$client_config"/);
    }
  });

  it('the certificates live kafka.security.certificateDuration and renew renewBefore ahead; the self-signed CA keeps its key', () => {
    const objects = synthObjects({ profile: 'production', override: { kafka: { security: { certificateDuration: '1440h', renewBefore: '480h' } } } });
    for (const name of ['kafka-node', 'kafka-admin']) {
      expect(findObject(objects, 'Certificate', name).spec).toMatchObject({ duration: '1440h', renewBefore: '480h' });
    }
    // A renewed CA with a new key would split the nodes that trust the old one from those that got the new one.
    expect(findObject(objects, 'Certificate', 'kafka-ca').spec.privateKey.rotationPolicy).toBe('Never');
  });

  it('every secured Kafka pod has the tls-reload sidecar for its own TLS listeners, on its own certificate listener; none without security', () => {
    const objects = synthObjects({ profile: 'production' });
    const sidecar = (name: string) => findObject(objects, 'StatefulSet', name).spec.template.spec.containers.find((c: { name: string }) => c.name === 'tls-reload');
    expect(env(sidecar('kafka'), 'TLS_RELOAD_LISTENERS')).toBe('internal external interbroker');
    expect(env(sidecar('kafka'), 'TLS_RELOAD_BOOTSTRAP')).toMatch(/^--bootstrap-server \$\(POD_NAME\)\.kafka-headless\.\$\(POD_NAMESPACE\)\.svc\.cluster\.local:9095$/);
    expect(env(sidecar('kafka-controller'), 'TLS_RELOAD_LISTENERS')).toBe('controller');
    expect(env(sidecar('kafka-controller'), 'TLS_RELOAD_BOOTSTRAP')).toMatch(/^--bootstrap-controller \$\(POD_NAME\)\.kafka-controller-headless\..*:9093$/);
    expect(env(sidecar('kafka-controller'), 'TLS_RELOAD_NODE_ID_BASE')).toBe('100');
    // The keystore it rebuilds is the one the broker reads.
    expect(env(sidecar('kafka'), 'KAFKA_SSL_KEYSTORE_LOCATION')).toBe(env(kafkaContainer(objects, 'kafka'), 'KAFKA_SSL_KEYSTORE_LOCATION'));
    const plaintext = synthObjects({ profile: 'minikube' });
    expect(findObject(plaintext, 'StatefulSet', 'kafka').spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual(['kafka', 'readiness']);
  });

  it("an issuer of the config signs both certificates, and no CA is created; a 'secret' source creates no cert-manager object", () => {
    const issued = synthObjects({ profile: 'production', override: { kafka: { security: { issuer: { kind: 'ClusterIssuer', name: 'corp-ca' } } } } });
    expect(kinds(issued)).toEqual(['Certificate/kafka-node', 'Certificate/kafka-admin']);
    const provided = synthObjects({ profile: 'production', override: { kafka: { security: { source: 'secret', secretName: 'corp-kafka-tls' } } } });
    expect(kinds(provided)).toEqual([]);
    expect(findObject(provided, 'StatefulSet', 'kafka').spec.template.spec.volumes).toContainEqual(expect.objectContaining({ secret: expect.objectContaining({ secretName: 'corp-kafka-tls' }) }));
  });

  it('the loud opt-out runs production on PLAINTEXT and says so on the StatefulSets; minikube is plaintext unless turned on', () => {
    const optOut = synthObjects({ profile: 'production', override: { kafka: { security: { enabled: false, insecurePlaintextInProduction: true } } } });
    expect(env(kafkaContainer(optOut, 'kafka'), 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP')).toBe('INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT');
    expect(findObject(optOut, 'StatefulSet', 'kafka').metadata.annotations?.[KAFKA_INSECURE_ANNOTATION]).toBe('true');
    expect(kinds(optOut)).toEqual([]);
    const minikube = synthObjects();
    expect(env(kafkaContainer(minikube, 'kafka'), 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP')).toBe('INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT');
    expect(findObject(minikube, 'StatefulSet', 'kafka').metadata.annotations?.[KAFKA_INSECURE_ANNOTATION]).toBeUndefined();
    const secured = synthObjects({ override: { kafka: { security: { enabled: true } } } });
    expect(env(kafkaContainer(secured, 'kafka'), 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP')).toBe('INTERNAL:SASL_SSL,CONTROLLER:SSL,EXTERNAL:SASL_SSL,INTERBROKER:SSL');
    expect(env(kafkaContainer(secured, 'kafka'), 'KAFKA_LISTENER_NAME_CONTROLLER_SSL_CLIENT_AUTH')).toBe('required');
  });
});
