import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestCertificate, testCertificate, testCertificateAuthority, tlsSecretData } from './harness/kafka/certificates';
import { consume, kafkaDistDir, kafkaEnginesAvailable, produce } from './harness/kafka/client';
import { KafkaTestCluster } from './harness/kafka/cluster';
import { readDistDir, tempDir } from './support/synth';

// A renewed Kafka certificate is served without a restart: the tls-reload sidecar of dist/ runs beside real nodes
// (one broker, one dedicated controller: both kinds of sidecar), the test renews the nodes' Secret as cert-manager and
// the kubelet do (a new key and certificate, the files swapped in one rename), and reads what each listener presents.

const SCRAM_USER = { username: 'learnflow-harness', password: 'harness-password-1' };
const TOPIC = 'tls.reload';
// The sidecar's poll, shortened from dist/'s 60 s so that the suite waits seconds; everything else is dist/'s.
const POLL_SECONDS = 2;

/** The SHA-256 fingerprint of the certificate a TLS listener presents now (presenting `client` where one is required). */
async function servedFingerprint(host: string, port: number, ca: string, client: TestCertificate): Promise<string> {
  const socket = tls.connect({ host, port, ca, servername: 'localhost', cert: client.certificate, key: client.key, checkServerIdentity: () => undefined });
  try {
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    return socket.getPeerCertificate().fingerprint256;
  } finally {
    socket.destroy();
  }
}

const fingerprint = (certificate: TestCertificate) => new crypto.X509Certificate(certificate.certificate).fingerprint256;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!kafkaEnginesAvailable('Kafka certificate reload suite'))('Kafka picks up a renewed certificate without a restart (tls-reload sidecar)', () => {
  const work = tempDir('kafka-tls-reload');
  let distDir: string;
  let cluster: KafkaTestCluster;
  let ca: TestCertificate;
  let admin: TestCertificate;
  let issue: (name: string) => TestCertificate;
  let nodeSecret: string;
  let issued: TestCertificate;
  let renewed: TestCertificate;
  // host:port of every TLS listener of both nodes: the broker's INTERNAL, EXTERNAL, INTERBROKER, the controller's CONTROLLER.
  let listeners: { name: string; host: string; port: number }[];

  const served = () => Promise.all(listeners.map((l) => servedFingerprint(l.host, l.port, ca.certificate, admin)));
  /** Poll every listener until all present `expected`; the time it took. */
  const untilServed = async (expected: string, timeoutMs = 120_000): Promise<number> => {
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
      if ((await served()).every((f) => f === expected)) return Date.now() - started;
      await sleep(250);
    }
    throw new Error(`not every listener serves ${expected} after ${timeoutMs} ms: ${(await served()).join(', ')}\n${sidecarLogs()}`);
  };
  const sidecarLogs = () =>
    [...cluster.brokerPods, ...cluster.controllerPods].map((pod) => `--- ${pod} tls-reload\n${fs.readFileSync(path.join(cluster.dir, pod, 'tls-reload.log'), 'utf8')}`).join('\n');

  beforeAll(async () => {
    distDir = kafkaDistDir('minikube', { kafka: { security: { enabled: true }, dedicatedControllers: true, controllers: 1 } });
    const objects = readDistDir(distDir);
    const certificate = (name: string) => objects.find((o) => o.kind === 'Certificate' && o.metadata.name === name)!.spec;
    const node = certificate('kafka-node');
    const adminSpec = certificate('kafka-admin');
    nodeSecret = node.secretName;
    ca = testCertificateAuthority(work, 'install-ca');
    let issues = 0;
    issue = (name) => testCertificate(work, ca, { name: `${name}-${++issues}`, commonName: node.commonName, dnsNames: node.dnsNames, usages: ['serverAuth', 'clientAuth'] });
    issued = issue('node');
    admin = testCertificate(work, ca, { name: 'admin', commonName: adminSpec.commonName, usages: ['clientAuth'] });
    cluster = await KafkaTestCluster.start({
      distDir,
      security: { secrets: { [nodeSecret]: tlsSecretData(issued, ca), [adminSpec.secretName]: tlsSecretData(admin, ca) }, adminSecretName: adminSpec.secretName, user: SCRAM_USER },
      containerEnv: { 'tls-reload': { TLS_RELOAD_INTERVAL: String(POLL_SECONDS) } },
      lockTimeoutMs: 1_500_000,
    });
    const external = cluster.externalBootstrapServers[0].split(':');
    listeners = [
      { name: 'INTERNAL', host: '127.0.0.1', port: 9092 },
      { name: 'EXTERNAL', host: '127.0.0.1', port: Number(external[1]) },
      { name: 'INTERBROKER', host: '127.0.0.1', port: 9095 },
      { name: 'CONTROLLER (dedicated controller)', host: '127.0.0.51', port: 9093 },
    ];
    const created = await cluster.runTool('kafka-topics.sh', ['--bootstrap-server', cluster.internalBootstrapServers, '--command-config', cluster.adminToolConfig(), '--create', '--topic', TOPIC, '--partitions', '1', '--replication-factor', '1']);
    expect(created.exitCode, created.output).toBe(0);
    // The nodes authorize every request: the test's SCRAM client may use its topic, in its group.
    await cluster.allow(SCRAM_USER.username, ['Read', 'Write', 'Describe'], ['--topic', TOPIC]);
    await cluster.allow(SCRAM_USER.username, ['Read'], ['--group', 'tls-reload-suite']);
  }, 1_800_000);

  afterAll(async () => {
    console.log(`Kafka ${cluster?.kafkaVersion}, one broker and one dedicated controller with kafka.security: cluster start ${cluster?.startupMs} ms`);
    await cluster?.close();
    if (distDir) fs.rmSync(distDir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }, 120_000);

  it('every pod of a secured dist/ has the sidecar, on the Kafka container\'s certificate and keystore volumes', () => {
    for (const sts of readDistDir(distDir).filter((o) => o.kind === 'StatefulSet' && o.metadata.namespace === 'kafka')) {
      const [kafka, ...sidecars] = sts.spec.template.spec.containers;
      const reload = sidecars.find((c: { name: string }) => c.name === 'tls-reload');
      expect(reload, sts.metadata.name).toBeDefined();
      const mounts = (c: { volumeMounts: { name: string; mountPath: string }[] }) => Object.fromEntries(c.volumeMounts.map((m) => [m.name, m.mountPath]));
      expect(mounts(reload).tls).toBe(mounts(kafka).tls);
      expect(mounts(reload).keystore).toBe(mounts(kafka).keystore);
    }
  });

  it('serves a renewed certificate on every listener of both nodes within the poll; clients old and new, replication and the quorum keep working', async () => {
    expect(await served()).toEqual(listeners.map(() => fingerprint(issued)));
    const security = cluster.clientConfig({ ca: ca.certificate });
    // A producer connected before the renewal keeps its connection (and its session) across it.
    const before = new Kafka({ clientId: 'before-renewal', brokers: cluster.externalBootstrapServers, logLevel: logLevel.NOTHING, ...security }).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await before.connect();
    try {
      await before.send({ topic: TOPIC, acks: -1, messages: [{ value: 'before-1' }] });
      renewed = issue('node');
      cluster.updateSecret(nodeSecret, tlsSecretData(renewed, ca));
      const tookMs = await untilServed(fingerprint(renewed));
      console.log(`renewed certificate served on ${listeners.length} listeners ${tookMs} ms after the Secret changed (poll ${POLL_SECONDS} s)`);
      await before.send({ topic: TOPIC, acks: -1, messages: [{ value: 'before-2' }] });
    } finally {
      await before.disconnect();
    }
    // A new SCRAM client over TLS (verified against the CA, which now sees the renewed certificate) produces with
    // acks=all and consumes: the broker still reaches the quorum and its partitions' ISR.
    await produce(cluster.externalBootstrapServers, TOPIC, ['after-1'], -1, security);
    const received = await consume(cluster.externalBootstrapServers, TOPIC, 'tls-reload-suite', 3, 60_000, security);
    expect(received.sort()).toEqual(['after-1', 'before-1', 'before-2']);
    // The admin listener admits the tools with their certificate (the topics Job's path) and the quorum has its voter.
    const quorum = await cluster.runTool('kafka-metadata-quorum.sh', ['--bootstrap-server', cluster.internalBootstrapServers, '--command-config', cluster.adminToolConfig(), 'describe', '--status'], 60_000);
    expect(quorum.exitCode, quorum.output).toBe(0);
    expect(quorum.stdout).toMatch(/LeaderId:\s+100/);
    expect(sidecarLogs()).toMatch(/node 0 reloaded its keystore and truststore on listeners internal external interbroker/);
    expect(sidecarLogs()).toMatch(/node 100 reloaded its keystore and truststore on listeners controller/);
  }, 300_000);

  it('keeps serving the last good certificate when the Secret holds a key that does not belong to it, and serves the next renewal', async () => {
    const stranger = issue('stranger');
    cluster.updateSecret(nodeSecret, { ...tlsSecretData(renewed, ca), 'tls.key': stranger.key });
    const started = Date.now();
    while (Date.now() - started < 120_000 && (sidecarLogs().match(/refuses it/g) ?? []).length < 2) await sleep(500);
    expect((sidecarLogs().match(/refuses it/g) ?? []).length, sidecarLogs()).toBe(2);
    console.log(`a mismatched key refused by both nodes ${Date.now() - started} ms after the Secret changed`);
    expect(await served()).toEqual(listeners.map(() => fingerprint(renewed)));
    await produce(cluster.externalBootstrapServers, TOPIC, ['mismatch-1'], -1, cluster.clientConfig({ ca: ca.certificate }));

    const next = issue('node');
    cluster.updateSecret(nodeSecret, tlsSecretData(next, ca));
    console.log(`the next renewal served ${await untilServed(fingerprint(next))} ms after the Secret changed`);
    renewed = next;
  }, 300_000);

  it('reloads a changed ca.crt (the truststore) too: a client certificate of a CA added to it is admitted from then on', async () => {
    const otherCa = testCertificateAuthority(path.join(work, 'other'), 'other-ca');
    const otherClient = testCertificate(path.join(work, 'other'), otherCa, { name: 'other-admin', commonName: 'kafka-admin', usages: ['clientAuth'] });
    const keystore = path.join(work, 'other-client.pem');
    const truststore = path.join(work, 'install-ca-only.crt');
    const properties = path.join(work, 'other-client.properties');
    fs.writeFileSync(keystore, otherClient.key + otherClient.certificate, { mode: 0o600 });
    fs.writeFileSync(truststore, ca.certificate);
    const lines = ['security.protocol=SSL', 'ssl.keystore.type=PEM', `ssl.keystore.location=${keystore}`, 'ssl.truststore.type=PEM', `ssl.truststore.location=${truststore}`];
    fs.writeFileSync(properties, [...lines, 'request.timeout.ms=5000', 'default.api.timeout.ms=8000', ''].join('\n'));
    const list = () => cluster.runTool('kafka-topics.sh', ['--bootstrap-server', cluster.internalBootstrapServers, '--command-config', properties, '--list'], 60_000);
    const refused = await list();
    expect(refused.exitCode, refused.output).not.toBe(0);

    // The Secret's ca.crt becomes a bundle of both CAs (how a CA is changed without splitting the nodes).
    cluster.updateSecret(nodeSecret, { ...tlsSecretData(renewed, ca), 'ca.crt': ca.certificate + otherCa.certificate });
    const started = Date.now();
    let admitted = await list();
    while (admitted.exitCode !== 0 && Date.now() - started < 120_000) admitted = await list();
    expect(admitted.exitCode, `${admitted.output}\n${sidecarLogs()}`).toBe(0);
    expect(admitted.stdout).toContain(TOPIC);
    console.log(`a CA added to ca.crt admitted ${Date.now() - started} ms after the Secret changed`);
    // The listeners still present the node certificate, and the install's CA still verifies it.
    expect(await served()).toEqual(listeners.map(() => fingerprint(renewed)));
  }, 300_000);
});
