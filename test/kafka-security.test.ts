import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigResourceTypes, Kafka, logLevel, Partitioners } from 'kafkajs';
import { appCredentialsSecret, appPrincipal, VERIFY_CREDENTIALS_SECRET } from '../lib/config/kafka-security';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueDistCertificates, testCertificateAuthority } from './harness/kafka/certificates';
import { consume, distTopicsConf, kafkaDistDir, kafkaEnginesAvailable, parseTopicsConf, produce } from './harness/kafka/client';
import { KafkaTestCluster } from './harness/kafka/cluster';
import { kafkaCredentialSecrets } from './harness/kafka/principals';
import { type K8sObject, readDistDir, tempDir } from './support/synth';

// kafka.security on real brokers: one combined node (minikube profile with security on; the production
// profile's listeners are the same, spread over brokers and dedicated voters). The certificates are issued by a
// test CA exactly as dist/'s cert-manager Certificates ask (common name, DNS names, usages, PKCS#8 keys).

const SCRAM_USER = { username: 'learnflow-harness', password: 'harness-password-1' };
const HARNESS_TOPIC = 'progress.updated';

// What the apps do (dapr.publications and dapr.subscriptions): the users Job's ACLs come from it.
const DAPR = {
  publications: [
    { topic: 'learning.query', appIds: ['frontend'] },
    { topic: 'learning.response', appIds: ['triage-agent'] },
  ],
  subscriptions: [
    { topic: 'learning.query', route: '/query', appIds: ['triage-agent'], deadLetterTopic: 'struggle.detected' },
    { topic: 'learning.response', route: '/response', appIds: ['frontend'] },
  ],
};
/** The credentials Secrets as `npm run secrets` creates them: one per app-id and the verifier's. */
const CREDENTIALS = kafkaCredentialSecrets();
const appUser = (appId: string) => CREDENTIALS[appCredentialsSecret(appId)];

/** What a client sees when a connection attempt fails: the error and its causes' messages. */
async function failure(attempt: () => Promise<unknown>): Promise<string> {
  try {
    await attempt();
  } catch (error) {
    const messages: string[] = [];
    for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause ?? (e as { originalError?: unknown }).originalError) {
      const type = (e as { type?: string }).type;
      messages.push(`${type ? `${type}: ` : ''}${String((e as Error).message ?? e)}`);
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
    distDir = kafkaDistDir('minikube', { kafka: { security: { enabled: true } }, dapr: DAPR });
    objects = readDistDir(distDir);
    const issued = issueDistCertificates(work, objects);
    caCertificate = issued.ca.certificate;
    otherCaCertificate = testCertificateAuthority(path.join(work, 'other'), 'other-ca').certificate;
    cluster = await KafkaTestCluster.start({
      distDir,
      security: { secrets: { ...issued.secrets, ...CREDENTIALS }, adminSecretName: issued.adminSecretName, user: SCRAM_USER },
      // Another suite's cluster may hold the ports (the production suite runs for up to ~20 min).
      lockTimeoutMs: 1_500_000,
    });
    // The authorizer refuses what no ACL allows: the harness's own user (outside the users Job's prefix) may
    // round-trip on a topic no app of DAPR uses, in its group.
    await cluster.allow(SCRAM_USER.username, ['Read', 'Write', 'Describe'], ['--topic', HARNESS_TOPIC]);
    await cluster.allow(SCRAM_USER.username, ['Read'], ['--group', 'security-suite']);
  }, 1_800_000);

  afterAll(async () => {
    await cluster?.close();
    if (distDir) fs.rmSync(distDir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
    console.log(`Kafka ${cluster?.kafkaVersion} with kafka.security, cluster start ${cluster?.startupMs} ms; users Job first run ${firstUsersRunMs} ms, no-op run ${noOpUsersRunMs} ms`);
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

  /** The ACLs the cluster has, one `principal resourceType patternType name operation permission host` line each, sorted. */
  async function listAcls(): Promise<string[]> {
    const run = await cluster.runTool('kafka-acls.sh', ['--bootstrap-server', cluster.internalBootstrapServers, '--command-config', cluster.adminToolConfig(), '--list'], 60_000);
    expect(run.exitCode, run.output).toBe(0);
    const acls: string[] = [];
    let resource = '';
    for (const line of run.stdout.split('\n')) {
      const pattern = /resourceType=(\w+), name=(.*), patternType=(\w+)\)/.exec(line);
      if (pattern) resource = `${pattern[1]} ${pattern[3]} ${pattern[2]}`;
      const binding = /\(principal=(.*), host=(.*), operation=(\w+), permissionType=(\w+)\)/.exec(line);
      if (binding) {
        const [type, patternType, name] = resource.split(' ');
        acls.push(`${binding[1]} ${type} ${patternType} ${name} ${binding[3]} ${binding[4]} ${binding[2]}`);
      }
    }
    return acls.sort();
  }

  /** The SCRAM users the cluster has. */
  async function listUsers(): Promise<string[]> {
    const run = await cluster.runTool('kafka-configs.sh', ['--bootstrap-server', cluster.internalBootstrapServers, '--command-config', cluster.adminToolConfig(), '--describe', '--entity-type', 'users'], 60_000);
    expect(run.exitCode, run.output).toBe(0);
    return [...run.stdout.matchAll(/SCRAM credential configs for user-principal '(.*)' are/g)].map((match) => match[1]).sort();
  }

  /** acls.conf of the users Job's ConfigMap, as `listAcls` shows each binding. */
  function declaredAcls(): string[] {
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cluster.manifests.usersJob!.metadata.name)!;
    return (configMap.data!['acls.conf'] as string)
      .trim()
      .split('\n')
      .map((line) => {
        const [principal, type, name, operation] = line.split(' ');
        return `User:${principal} ${type} LITERAL ${name} ${operation} ALLOW *`;
      })
      .sort();
  }

  // Retries for what is transient (the group coordinator's offsets topic is created on the first group's
  // request); kafkajs never retries an authorization error, so a refusal still fails at once.
  const client = (user: { username: string; password: string }) =>
    new Kafka({
      clientId: 'security-suite',
      logLevel: logLevel.NOTHING,
      retry: { retries: 6, initialRetryTime: 300 },
      connectionTimeout: 3_000,
      brokers: cluster.externalBootstrapServers,
      ...cluster.clientConfig({ user }),
    });

  async function send(user: { username: string; password: string }, topic: string, value: string): Promise<void> {
    const producer = client(user).producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await producer.send({ topic, acks: -1, messages: [{ value }] });
    } finally {
      await producer.disconnect();
    }
  }

  /** Join `groupId` on `topic` and read the first message, or fail with what the brokers said. */
  async function receiveOne(user: { username: string; password: string }, topic: string, groupId: string): Promise<string> {
    // The first join of a group may meet its coordinator still loading __consumer_offsets. kafkajs does not retry a
    // failed join: the consumer crashes (consumer/runner.js start) and restarts when the error is retriable and
    // restartOnFailure agrees (consumer/index.js onCrash). Every retriable error restarts it but an authorization
    // error's, the answer this function exists to give.
    const restartOnFailure = async (error: Error) => {
      let cause = error as { cause?: unknown; type?: string };
      while (cause.cause) cause = cause.cause as typeof cause;
      return !/AUTHORIZATION_FAILED/.test(cause.type ?? '');
    };
    const consumer = client(user).consumer({ groupId, retry: { retries: 6, initialRetryTime: 300, restartOnFailure } });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      return await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message from ${topic} in group ${groupId} within 120 s`)), 120_000);
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          if (payload.restart) return;
          clearTimeout(timer);
          reject(payload.error);
        });
        consumer.run({ eachMessage: async ({ message }) => {
          clearTimeout(timer);
          resolve(message.value!.toString());
        } }).catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
  }

  /** Kafka's own consumer (VerifiableConsumer) as `user` over SCRAM and TLS, for one message: its output. */
  async function javaConsumer(user: { username: string; password: string }, topic: string, groupId: string): Promise<string> {
    const config = path.join(work, `consumer-${user.username}.properties`);
    fs.writeFileSync(path.join(work, 'install-ca.pem'), caCertificate);
    fs.writeFileSync(
      config,
      [
        'security.protocol=SASL_SSL',
        'sasl.mechanism=SCRAM-SHA-512',
        `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${user.username}" password="${user.password}";`,
        'ssl.truststore.type=PEM',
        `ssl.truststore.location=${path.join(work, 'install-ca.pem')}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const run = await cluster.runTool(
      'kafka-verifiable-consumer.sh',
      ['--bootstrap-server', cluster.externalBootstrapServers.join(','), '--topic', topic, '--group-id', groupId, '--max-messages', '1', '--consumer.config', config],
      45_000,
    );
    return run.output;
  }

  let firstUsersRunMs = 0;
  let noOpUsersRunMs = 0;

  it('runs the users Job: every app-id and the verifier get a SCRAM user, and the ACLs are exactly those dist/ declares', async () => {
    const started = Date.now();
    const run = await cluster.runUsersJob();
    firstUsersRunMs = Date.now() - started;
    expect(run.exitCode, run.output).toBe(0);
    const declared = declaredAcls();
    expect(run.output).toContain(`acls-added=${declared.length} acls-removed=0`);
    expect(await listUsers()).toEqual(expect.arrayContaining(Object.values(CREDENTIALS).map((credential) => credential.username)));
    const owned = (await listAcls()).filter((acl) => acl.startsWith('User:learnflow.'));
    expect(owned).toEqual(declared);
    // Never a password in the log.
    for (const { password } of Object.values(CREDENTIALS)) expect(run.output).not.toContain(password);
  }, 300_000);

  it('an app-id produces to the topics it publishes to (and its dead-letter topic), and to no other', async () => {
    await send(appUser('frontend'), 'learning.query', 'from-frontend');
    await send(appUser('triage-agent'), 'struggle.detected', 'dead-letter');
    expect(await failure(() => send(appUser('frontend'), 'learning.response', 'not-allowed'))).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
    // An app-id that publishes nothing authenticates but writes nowhere.
    expect(await failure(() => send(appUser('debug-agent'), 'learning.query', 'not-allowed'))).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
  }, 120_000);

  it('an app-id consumes its subscriptions in the group named by its app-id only', async () => {
    expect(await receiveOne(appUser('triage-agent'), 'learning.query', 'triage-agent')).toBe('from-frontend');
    // kafkajs hides why it found no coordinator (brokerPool.withBroker drops the error): Kafka's own consumer says it.
    const otherGroup = await javaConsumer(appUser('triage-agent'), 'learning.query', 'frontend');
    expect(otherGroup).toMatch(/GroupAuthorizationException|Not authorized to access group/);
    expect(otherGroup).not.toContain('"name":"records_consumed"');
    expect(await failure(() => receiveOne(appUser('triage-agent'), 'learning.response', 'triage-agent'))).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
    // A publisher does not read what it publishes.
    expect(await failure(() => receiveOne(appUser('frontend'), 'learning.query', 'frontend'))).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
  }, 240_000);

  it('the verifier describes every declared topic and writes only to learnflow.verify', async () => {
    const verifier = CREDENTIALS[VERIFY_CREDENTIALS_SECRET];
    const admin = client(verifier).admin();
    await admin.connect();
    try {
      const topics = parseTopicsConf(distTopicsConf(cluster)).map((topic) => topic.name);
      const metadata = await admin.fetchTopicMetadata({ topics });
      expect(metadata.topics.map((topic) => topic.name).sort()).toEqual([...topics].sort());
      const configs = await admin.describeConfigs({ resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['retention.ms'] })), includeSynonyms: false });
      expect(configs.resources.map((resource) => resource.errorCode)).toEqual(topics.map(() => 0));
    } finally {
      await admin.disconnect();
    }
    await send(verifier, 'learnflow.verify', 'round-trip');
    expect(await failure(() => send(verifier, 'learning.query', 'not-allowed'))).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
  }, 120_000);

  it('refuses an app-id with a wrong password', async () => {
    const message = await failure(() => client({ username: appPrincipal('frontend'), password: 'wrong-password-of-frontend' }).admin().connect());
    expect(message).toMatch(/SASL SCRAM SHA512 authentication failed|Authentication failed/i);
  });

  it('a second run of the users Job changes no ACL', async () => {
    const before = await listAcls();
    const started = Date.now();
    const run = await cluster.runUsersJob();
    noOpUsersRunMs = Date.now() - started;
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toMatch(/acls-added=0 acls-removed=0 /);
    expect(await listAcls()).toEqual(before);
    // The credentials were set again with the same passwords: the apps still log in.
    await send(appUser('frontend'), 'learning.query', 'after-rerun');
  }, 300_000);

  it('removes a learnflow.-prefixed user and ACL it does not declare, and leaves every other principal alone', async () => {
    const tool = (name: string, args: string[]) => cluster.runTool(name, ['--bootstrap-server', cluster.internalBootstrapServers, '--command-config', cluster.adminToolConfig(), ...args], 60_000);
    // A retired app-id (once declared) and a principal someone else manages.
    expect((await cluster.upsertScramUser('learnflow.app.retired', 'retired-password-1')).exitCode).toBe(0);
    expect((await cluster.upsertScramUser('outsider', 'outsider-password-1')).exitCode).toBe(0);
    for (const principal of ['User:learnflow.app.retired', 'User:outsider']) {
      const added = await tool('kafka-acls.sh', ['--add', '--allow-principal', principal, '--operation', 'Write', '--topic', 'learning.query']);
      expect(added.exitCode, added.output).toBe(0);
    }
    const prefixed = await tool('kafka-acls.sh', ['--add', '--allow-principal', 'User:learnflow.app.retired', '--operation', 'Read', '--group', 'retired', '--resource-pattern-type', 'prefixed']);
    expect(prefixed.exitCode, prefixed.output).toBe(0);
    const before = await listAcls();
    const run = await cluster.runUsersJob();
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toContain('user learnflow.app.retired: deleted');
    expect(run.output).toMatch(/users-deleted=1 acls-added=0 acls-removed=2 /);
    const after = await listAcls();
    expect(after.filter((acl) => acl.includes('learnflow.app.retired'))).toEqual([]);
    expect(after).toEqual(before.filter((acl) => !acl.includes('learnflow.app.retired')));
    expect(after).toContain('User:outsider TOPIC LITERAL learning.query WRITE ALLOW *');
    const users = await listUsers();
    expect(users).not.toContain('learnflow.app.retired');
    expect(users).toEqual(expect.arrayContaining(['outsider', SCRAM_USER.username]));
  }, 300_000);

  it('a client with the right SCRAM user over TLS verified against the CA produces and consumes', async () => {
    const security = cluster.clientConfig({ ca: caCertificate });
    await produce(cluster.externalBootstrapServers, HARNESS_TOPIC, ['secured-1', 'secured-2'], -1, security);
    const received = await consume(cluster.externalBootstrapServers, HARNESS_TOPIC, 'security-suite', 2, 60_000, security);
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
