import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appCredentialsSecret, appPrincipal, KAFKA_CA_SECRET } from '../lib/config/kafka-security';
import { type ProgramResult, runDaprComponents } from './harness/dapr-components/program';
import { writeDaprResources } from './harness/dapr-components/resources';
import { DAPR_COMPONENTS, locateBuild } from './harness/go-builds';
import { issueDistCertificates, testCertificateAuthority } from './harness/kafka/certificates';
import { kafkaDistDir, kafkaEnginesAvailable, withAdmin } from './harness/kafka/client';
import { KafkaTestCluster } from './harness/kafka/cluster';
import { kafkaCredentialSecrets, runUsersJob } from './harness/kafka/principals';
import type { SecretData } from './harness/kafka/pod';
import { requireEngine } from './support/engines';
import { findObject, type K8sObject, readDistDir, tempDir } from './support/synth';

// Dapr's own pubsub.kafka code (components-contrib at the release daprd v1.18.3 embeds, the program of
// test/harness/dapr-components) loads the production profile's per-app pub/sub components from dist/ and talks to
// a real broker with kafka.security: SCRAM-SHA-512 over TLS. The broker is one combined node (the minikube profile
// with security on: the same listeners as production's, as test/kafka-security.test.ts runs it), its certificates
// issued by a test CA as dist/'s Certificates ask. The seams: the brokers address becomes the node's port-forward
// listener on localhost (SASL_SSL like the in-cluster one; the certificate names localhost), and the Kubernetes
// secret store becomes the file one holding the Secrets the components reference, as the Dapr operator would
// resolve them from the apps namespace.

const SUITE = 'Dapr pub/sub on secured Kafka suite';
const TOPIC = 'learning.query';
/** The app whose component is proven; OTHER has a user too, so a mix-up of credentials would show. */
const APP = 'progress-agent';
const OTHER = 'frontend';
const HARNESS_USER = { username: 'learnflow-harness', password: randomUUID() };

const built = locateBuild(DAPR_COMPONENTS);

describe.skipIf(!(requireEngine(SUITE, built.missing) && kafkaEnginesAvailable(SUITE)))("Dapr's pubsub.kafka per app-id on a broker with SCRAM over TLS", () => {
  const work = tempDir('dapr-kafka-security');
  const dirs: string[] = [];
  let binary: string;
  let brokerDist: string;
  let productionDist: string;
  let cluster: KafkaTestCluster;
  /** The production profile's pub/sub components, brokers rewritten to the test node. */
  let components: K8sObject[];
  /** The Secrets of the apps namespace the components reference: app credentials and the CA copy. */
  let secretStore: SecretData;
  let otherCa: string;
  const timings: Record<string, number> = {};
  /** What each refused component reported (stage: error), printed with the timings. */
  const refusals: Record<string, string> = {};

  const metadataOf = (component: K8sObject): { name: string; value?: string; secretKeyRef?: { name: string; key: string } }[] => component.spec.metadata;

  /** Runs the program as `appId` on the components (optionally edited) with the secret store (optionally changed). */
  async function run(
    args: readonly string[],
    options: { appId?: string; edit?: (component: K8sObject) => void; secrets?: SecretData; timeout?: string; timing?: string } = {},
  ): Promise<ProgramResult> {
    const copies = structuredClone(components);
    const [, name] = args;
    if (options.edit) options.edit(findObject(copies, 'Component', name));
    const dir = path.join(work, `resources-${dirs.length}`);
    fs.mkdirSync(dir);
    dirs.push(dir);
    const started = Date.now();
    const result = await runDaprComponents(binary, {
      resources: writeDaprResources(dir, copies, options.secrets ?? secretStore),
      appId: options.appId ?? APP,
      namespace: 'learnflow',
      args,
      timeout: options.timeout,
    });
    if (options.timing) timings[options.timing] = Date.now() - started;
    return result;
  }

  beforeAll(async () => {
    binary = built.path!;
    const started = Date.now();
    // What APP does (dapr.publications and dapr.subscriptions): the users Job gives its user exactly these rights.
    const dapr = { publications: [{ topic: TOPIC, appIds: [APP] }], subscriptions: [{ topic: TOPIC, route: '/events', appIds: [APP] }] };
    brokerDist = kafkaDistDir('minikube', { kafka: { security: { enabled: true } }, dapr });
    productionDist = kafkaDistDir('production', { kafka: { security: { enabled: true } } });
    const brokerObjects = readDistDir(brokerDist);
    const tls = issueDistCertificates(work, brokerObjects);
    // The Secrets `npm run secrets` creates: every app-id's credentials (the users Job mounts them all).
    const credentials = kafkaCredentialSecrets();
    otherCa = testCertificateAuthority(path.join(work, 'other'), 'other-ca').certificate;
    cluster = await KafkaTestCluster.start({
      distDir: brokerDist,
      security: { secrets: { ...tls.secrets, ...credentials }, adminSecretName: tls.adminSecretName, user: HARNESS_USER },
      // Another suite's cluster may hold the ports (the production suite runs for up to ~20 min).
      lockTimeoutMs: 1_500_000,
    });
    timings['cluster start, with the wait for the port lock'] = Date.now() - started;
    // auto.create.topics.enable is off: the topics Job (over the certificate listener) creates learning.query.
    const topics = await cluster.runTopicsJob();
    expect(topics.exitCode, topics.output).toBe(0);
    // The users Job of dist/ creates the app-ids' SCRAM users and their ACLs (the authorizer denies the rest).
    await runUsersJob(cluster);
    // The harness's own client reads APP's group offsets below.
    await cluster.allow(HARNESS_USER.username, ['Describe'], ['--group', APP, '--topic', TOPIC]);
    // The CA copy `npm run secrets` makes in the apps namespace: the ca.crt of Kafka's certificate Secret.
    secretStore = { ...credentials, [KAFKA_CA_SECRET]: { 'ca.crt': tls.ca.certificate } };
    timings['cluster, topics Job and users'] = Date.now() - started;

    components = readDistDir(productionDist).filter((o) => o.kind === 'Component' && o.spec.type === 'pubsub.kafka');
    // The seam: the test node's port-forward listener, which speaks what the in-cluster one speaks.
    const protocols = Object.fromEntries(cluster.serverProperties(0).get('listener.security.protocol.map')!.split(',').map((pair) => pair.split(':')));
    expect(protocols.EXTERNAL).toBe(protocols.INTERNAL);
    expect(protocols.INTERNAL).toBe('SASL_SSL');
    for (const component of components) {
      const brokers = metadataOf(component).find((item) => item.name === 'brokers')!;
      expect(brokers.value).toBe('kafka-bootstrap.kafka.svc.cluster.local:9092');
      brokers.value = cluster.externalBootstrapServers.join(',');
    }
  }, 1_800_000);

  afterAll(async () => {
    await cluster?.close();
    for (const dir of [brokerDist, productionDist]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
    console.log(`Kafka ${cluster?.kafkaVersion} with kafka.security, node start ${cluster?.startupMs} ms (after the port lock), timings (ms): ${JSON.stringify(timings)}, refusals: ${JSON.stringify(refusals, null, 1)}`);
  }, 120_000);

  it(`${APP}'s component logs in as its SCRAM user over TLS, publishes to ${TOPIC}, and its subscription receives it in the ${APP} consumer group`, async () => {
    const component = findObject(components, 'Component', `pubsub-${APP}`);
    expect(component.scopes).toEqual([APP]);
    expect(metadataOf(component).find((item) => item.name === 'saslUsername')?.value).toBe(appPrincipal(APP));
    const payload = JSON.stringify({ id: randomUUID(), studentId: 's-1', mastery: 71 });
    const result = await run(['publish-subscribe', `pubsub-${APP}`, TOPIC, payload], { timing: 'publish-subscribe' });
    expect(result, JSON.stringify(result)).toMatchObject({ ok: true, topic: TOPIC, received: payload, consumerGroup: APP, clientID: APP });

    // The broker agrees: the app-id's consumer group committed an offset past the message.
    const offsets = await withAdmin(cluster.externalBootstrapServers, (admin) => admin.fetchOffsets({ groupId: APP, topics: [TOPIC] }), cluster.clientConfig());
    expect(offsets[0].partitions.some((p) => Number(p.offset) > 0)).toBe(true);
  }, 180_000);

  it("a sidecar of another app-id does not load the component (its credentials are the app's alone)", async () => {
    const result = await run(['init', `pubsub-${APP}`], { appId: OTHER });
    expect(result).toMatchObject({ ok: false, stage: 'scope' });
  });

  const failing: { name: string; edit?: (component: K8sObject) => void; secrets?: () => SecretData; error: RegExp }[] = [
    {
      name: 'a wrong password in the Secret',
      secrets: () => ({ ...secretStore, [appCredentialsSecret(APP)]: { ...secretStore[appCredentialsSecret(APP)], password: 'not-the-password' } }),
      error: /SASL Authentication failed: .*invalid credentials with SASL mechanism SCRAM-SHA-512/,
    },
    {
      name: "the other app's password with this app's user",
      secrets: () => ({ ...secretStore, [appCredentialsSecret(APP)]: { ...secretStore[appCredentialsSecret(APP)], password: secretStore[appCredentialsSecret(OTHER)].password } }),
      error: /SASL Authentication failed: .*invalid credentials with SASL mechanism SCRAM-SHA-512/,
    },
    {
      name: 'no caCert (the system roots do not hold the install CA)',
      edit: (c) => (c.spec.metadata = metadataOf(c).filter((item) => item.name !== 'caCert')),
      error: /x509: certificate signed by unknown authority/,
    },
    {
      name: 'another CA in the CA Secret',
      secrets: () => ({ ...secretStore, [KAFKA_CA_SECRET]: { 'ca.crt': otherCa } }),
      error: /x509: certificate signed by unknown authority/,
    },
  ];

  it.each(failing)('fails to initialize with $name, and the error says why', async ({ name, edit, secrets, error }) => {
    const payload = JSON.stringify({ id: randomUUID() });
    const result = await run(['publish-subscribe', `pubsub-${APP}`, TOPIC, payload], { edit, secrets: secrets?.(), timeout: '45s' });
    refusals[name] = `${result.stage}: ${result.error}`;
    // Init connects (components-contrib kafka.go Init builds the client): a refused login publishes nothing.
    expect(result, JSON.stringify(result)).toMatchObject({ ok: false, stage: 'init' });
    expect(result.error).toMatch(error);
  }, 120_000);
});
