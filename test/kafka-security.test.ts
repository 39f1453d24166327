import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueDistCertificates, testCertificateAuthority } from './harness/kafka/certificates';
import { consume, kafkaDistDir, kafkaEnginesAvailable, produce } from './harness/kafka/client';
import { KafkaTestCluster } from './harness/kafka/cluster';
import { type K8sObject, readDistDir, tempDir } from './support/synth';

// kafka.security on real brokers: one combined node (minikube profile with security on; the production
// profile's listeners are the same, spread over brokers and dedicated voters). The certificates are issued by a
// test CA exactly as dist/'s cert-manager Certificates ask (common name, DNS names, usages, PKCS#8 keys).

const SCRAM_USER = { username: 'learnflow-harness', password: 'harness-password-1' };

/** What a client sees when a connection attempt fails: the error and its causes' messages. */
async function failure(attempt: () => Promise<unknown>): Promise<string> {
  try {
    await attempt();
  } catch (error) {
    const messages: string[] = [];
    for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause ?? (e as { originalError?: unknown }).originalError) {
      messages.push(String((e as Error).message ?? e));
      if (messages.length > 5) break;
    }
    return messages.join(' <- ');
  }
  throw new Error('the attempt succeeded');
}

describe.skipIf(!kafkaEnginesAvailable('Kafka security suite'))('Kafka with kafka.security (SCRAM over TLS, certificate listeners)', () => {
  const work = tempDir('kafka-security');
  let distDir: string;
  let cluster: KafkaTestCluster;
  let objects: K8sObject[];
  let caCertificate: string;
  let otherCaCertificate: string;

  beforeAll(async () => {
    distDir = kafkaDistDir('minikube', { kafka: { security: { enabled: true } } });
    objects = readDistDir(distDir);
    const issued = issueDistCertificates(work, objects);
    caCertificate = issued.ca.certificate;
    otherCaCertificate = testCertificateAuthority(path.join(work, 'other'), 'other-ca').certificate;
    cluster = await KafkaTestCluster.start({
      distDir,
      security: { secrets: issued.secrets, adminSecretName: issued.adminSecretName, user: SCRAM_USER },
      // Another suite's cluster may hold the ports (the production suite runs for up to ~20 min).
      lockTimeoutMs: 1_500_000,
    });
  }, 1_800_000);

  afterAll(async () => {
    await cluster?.close();
    if (distDir) fs.rmSync(distDir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
    console.log(`Kafka ${cluster?.kafkaVersion} with kafka.security, cluster start ${cluster?.startupMs} ms`);
  }, 120_000);

  it('has no PLAINTEXT listener: SASL_SSL for clients, SSL (client certificates required) for the voters and replication', () => {
    const properties = cluster.serverProperties(0);
    const protocols = Object.fromEntries(properties.get('listener.security.protocol.map')!.split(',').map((pair) => pair.split(':')));
    expect(protocols).toEqual({ INTERNAL: 'SASL_SSL', CONTROLLER: 'SSL', EXTERNAL: 'SASL_SSL', INTERBROKER: 'SSL' });
    expect(properties.get('inter.broker.listener.name')).toBe('INTERBROKER');
    expect(properties.get('listener.name.controller.ssl.client.auth')).toBe('required');
    expect(properties.get('listener.name.interbroker.ssl.client.auth')).toBe('required');
    expect(properties.get('sasl.enabled.mechanisms')).toBe('SCRAM-SHA-512');
  });

  it('runs the topics Job over the certificate listener as the admin principal', async () => {
    const run = await cluster.runTopicsJob();
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toMatch(/summary: created=10 /);
  }, 240_000);

  it('runs the rebalance and features Jobs (KafkaToolJob) over the certificate listener as the admin principal', async () => {
    const rebalance = await cluster.runRebalanceJob();
    expect(rebalance.exitCode, rebalance.output).toBe(0);
    // One broker: balanced, nothing to move; it got that far only by describing the topics on the listener.
    expect(rebalance.output).toMatch(/summary: partitions=0 replicas-moved=0/);
    // A short wait: a refused connection fails here in seconds instead of retrying for the Job's 900 s.
    const features = await cluster.runFeaturesJob({ env: { WAIT_TIMEOUT_SECONDS: '30' } });
    expect(features.exitCode, features.output).toBe(0);
    expect(features.output).toMatch(/summary: raised=\d+ metadata\.version=\S+/);
  }, 300_000);

  it('a client with the right SCRAM user over TLS verified against the CA produces and consumes', async () => {
    const security = cluster.clientConfig({ ca: caCertificate });
    await produce(cluster.externalBootstrapServers, 'learnflow.verify', ['secured-1', 'secured-2'], -1, security);
    const received = await consume(cluster.externalBootstrapServers, 'learnflow.verify', 'security-suite', 2, 60_000, security);
    expect(received.sort()).toEqual(['secured-1', 'secured-2']);
  }, 120_000);

  const admin = (config: ConstructorParameters<typeof Kafka>[0]) =>
    new Kafka({ clientId: 'security-suite', logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 3_000, authenticationTimeout: 5_000, ...config }).admin();

  it('refuses a wrong password', async () => {
    const config = cluster.clientConfig({ user: { username: SCRAM_USER.username, password: 'wrong-password' } });
    const message = await failure(() => admin({ brokers: cluster.externalBootstrapServers, ...config }).connect());
    expect(message).toMatch(/SASL SCRAM SHA512 authentication failed|Authentication failed/i);
  });

  it('refuses an unknown user', async () => {
    const config = cluster.clientConfig({ user: { username: 'nobody', password: SCRAM_USER.password } });
    const message = await failure(() => admin({ brokers: cluster.externalBootstrapServers, ...config }).connect());
    expect(message).toMatch(/authentication failed/i);
  });

  it('refuses a plaintext client, with or without SCRAM', async () => {
    const plain = await failure(() => admin({ brokers: cluster.externalBootstrapServers }).connect());
    expect(plain).not.toMatch(/^the attempt succeeded/);
    const { sasl } = cluster.clientConfig();
    const saslPlaintext = await failure(() => admin({ brokers: cluster.externalBootstrapServers, sasl }).connect());
    expect(saslPlaintext).toMatch(/connection|closed|timeout|ECONNRESET/i);
  });

  it('verifies the brokers against the CA: a client trusting another CA refuses them', async () => {
    const message = await failure(() => admin({ brokers: cluster.externalBootstrapServers, ...cluster.clientConfig({ ca: otherCaCertificate }) }).connect());
    expect(message).toMatch(/self[- ]signed|unable to verify|certificate/i);
  });

  it('admits to the inter-broker listener only a certificate of the CA: the tools without one are refused', async () => {
    const noCertificate = path.join(work, 'no-certificate.properties');
    const ca = path.join(work, 'install-ca.crt');
    fs.writeFileSync(noCertificate, ['security.protocol=SSL', 'ssl.truststore.type=PEM', `ssl.truststore.location=${ca}`, 'request.timeout.ms=5000', 'default.api.timeout.ms=8000', ''].join('\n'));
    const refused = await cluster.runTool('kafka-topics.sh', ['--bootstrap-server', cluster.internalBootstrapServers, '--command-config', noCertificate, '--list'], 60_000);
    expect(refused.exitCode, refused.output).not.toBe(0);
    const admitted = await cluster.runTool('kafka-topics.sh', ['--bootstrap-server', cluster.internalBootstrapServers, '--command-config', cluster.adminToolConfig(), '--list'], 60_000);
    expect(admitted.exitCode, admitted.output).toBe(0);
    expect(admitted.stdout).toContain('learnflow.verify');
  }, 150_000);
});
