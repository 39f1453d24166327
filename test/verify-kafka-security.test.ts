import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERIFY_CREDENTIALS_SECRET, VERIFY_PRINCIPAL } from '../lib/config/kafka-principals';
import { KAFKA_LIVE_CHECKS } from '../verify/checks';
import { ClusterUnavailableError } from '../verify/cluster/cluster-reader';
import { directDataPlane } from '../verify/data-plane/data-plane';
import { type GivenKafkaCredentials, kafkaClientListenerOf } from '../verify/data-plane/kafka-auth';
import { loadDist } from '../verify/dist';
import { runVerify, type VerifyReport } from '../verify/runner';
import { REFERENCE_DIR } from './fixtures/verify/helpers';
import { liveCliEnv, runVerifyCli, serveSecretApi } from './fixtures/verify/live-cli';
import { issueDistCertificates, testCertificateAuthority } from './harness/kafka/certificates';
import { kafkaDistDir, kafkaEnginesAvailable } from './harness/kafka/client';
import { KafkaTestCluster } from './harness/kafka/cluster';
import { kafkaCredentialSecrets, runUsersJob } from './harness/kafka/principals';
import { DIST_DIR } from './harness/loopback-stack';
import { readDistDir, tempDir } from './support/synth';

// `npm run verify` against a secured broker (kafka.security: SCRAM-SHA-512 over TLS on the port-forward
// listener): one real broker for every case, its certificates issued by a test CA as dist/'s Certificates ask.

const KAFKA_IDS = KAFKA_LIVE_CHECKS.map((check) => check.id);
const PASSWORD = 'verify-password-7f3a9c';

const messagesOf = (report: VerifyReport, id: string) =>
  report.checks
    .find((check) => check.id === id)!
    .results.map((result) => result.message)
    .join('\n');

describe('verify: which Kafka listener it reaches, read from dist/', () => {
  it('the secured dist/: EXTERNAL (the port-forward listener) is SASL_SSL, with the CA of the nodes\' certificate Secret', () => {
    const distDir = kafkaDistDir('production', { kafka: { security: { enabled: true } } });
    try {
      expect(kafkaClientListenerOf(loadDist(distDir))).toEqual({ name: 'EXTERNAL', protocol: 'SASL_SSL', namespace: 'kafka', caSecret: { name: 'kafka-tls', key: 'ca.crt' } });
    } finally {
      fs.rmSync(distDir, { recursive: true, force: true });
    }
  });

  it('the repository\'s dist/ (minikube): PLAINTEXT, no CA', () => {
    expect(kafkaClientListenerOf(loadDist(DIST_DIR))).toEqual({ name: 'EXTERNAL', protocol: 'PLAINTEXT', namespace: 'kafka' });
  });
});

describe.skipIf(!kafkaEnginesAvailable('verify Kafka security suite'))('verify: Kafka data-plane checks authenticated on a secured broker', () => {
  const work = tempDir('verify-kafka-security');
  let distDir: string;
  let cluster: KafkaTestCluster;
  let ca: string;
  let caFile: string;

  /** The Kafka checks of `dist` against the broker, as `npm run verify -- --kafka-brokers ...` runs them. */
  const verifyKafka = (credentials: GivenKafkaCredentials, dist = distDir, timeoutMs = 5_000) =>
    runVerify({
      distDir: dist,
      referenceDir: REFERENCE_DIR,
      live: 'auto',
      connect: () => Promise.reject(new ClusterUnavailableError('no cluster in this test')),
      openDataPlane: directDataPlane({ kafkaBrokers: cluster.externalBootstrapServers, kafkaCredentials: credentials }, timeoutMs),
      only: KAFKA_IDS,
    });

  beforeAll(async () => {
    distDir = kafkaDistDir('minikube', { kafka: { security: { enabled: true } } });
    const issued = issueDistCertificates(work, readDistDir(distDir));
    ca = issued.ca.certificate;
    caFile = path.join(work, 'install-ca.crt');
    cluster = await KafkaTestCluster.start({
      distDir,
      // The credential Secrets `npm run secrets` creates, learnflow-kafka-verify's password the one the cases pass.
      security: { secrets: { ...issued.secrets, ...kafkaCredentialSecrets({ verifyPassword: PASSWORD }) }, adminSecretName: issued.adminSecretName, user: { username: 'learnflow-harness', password: 'harness-password-1' } },
      // Another suite's cluster may hold the ports.
      lockTimeoutMs: 1_500_000,
    });
    const topics = await cluster.runTopicsJob();
    if (topics.exitCode !== 0) throw new Error(`topics Job failed:\n${topics.output}`);
    // learnflow.verify and its ACLs as dist/'s users Job makes them: the checks pass with those rights alone.
    await runUsersJob(cluster);
  }, 1_800_000);

  afterAll(async () => {
    await cluster?.close();
    if (distDir) fs.rmSync(distDir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
    console.log(`verify Kafka security suite: Kafka ${cluster?.kafkaVersion}, cluster start ${cluster?.startupMs} ms`);
  }, 120_000);

  it('--live: the password and the CA read from their Secrets, every Kafka check passes as learnflow.verify over TLS', async () => {
    const nodeSecret = kafkaClientListenerOf(loadDist(distDir))!.caSecret!;
    const secrets: { namespace: string; name: string; data: Record<string, string> }[] = [
      { namespace: 'kafka', name: VERIFY_CREDENTIALS_SECRET, data: { username: VERIFY_PRINCIPAL, password: PASSWORD } },
      { namespace: 'kafka', name: nodeSecret.name, data: { 'ca.crt': ca } },
      // The PostgreSQL port-forward of the same dist/ reads its role's password too (PostgreSQL itself is not checked here).
      { namespace: 'postgres', name: 'learnflow-postgres-app', data: { username: 'learnflow', password: 'unused-here' } },
    ];
    // The broker binds its forwarded port itself; PostgreSQL's forward leads nowhere (its checks are not selected).
    const env = (kubeconfig: string) => liveCliEnv(kubeconfig, { 'kafka/pod/kafka-0': '', 'postgres/svc/postgres': '127.0.0.1:1' });
    const args = ['--live', '--dist', distDir, '--check', ...KAFKA_IDS];

    const api = await serveSecretApi(secrets);
    try {
      const result = await runVerifyCli(args, env(api.kubeconfig));
      expect(result.status, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toContain(`data plane: Kafka localhost:19092 as ${VERIFY_PRINCIPAL} (SCRAM-SHA-512 over TLS); PostgreSQL`);
      expect(result.stdout).toMatch(new RegExp(`${KAFKA_IDS.length} checks: ${KAFKA_IDS.length} passed, 0 failed`));
      expect(result.stdout + result.stderr).not.toContain(PASSWORD);
      expect(api.requests).toEqual(expect.arrayContaining([`/api/v1/namespaces/kafka/secrets/${VERIFY_CREDENTIALS_SECRET}`, `/api/v1/namespaces/kafka/secrets/${nodeSecret.name}`]));
    } finally {
      api.close();
    }

    // Without the credentials Secret: "could not check" (exit 2) naming the Secret and what to pass instead.
    const noCredentials = await serveSecretApi(secrets.filter((secret) => secret.name !== VERIFY_CREDENTIALS_SECRET));
    try {
      const result = await runVerifyCli(args, env(noCredentials.kubeconfig));
      expect(result.status, result.stdout + result.stderr).toBe(2);
      expect(result.stdout).toContain(`could not check: Kafka localhost:19092: reading key username of Secret kafka/${VERIFY_CREDENTIALS_SECRET}: HTTP 404`);
      expect(result.stdout).toContain('--kafka-password-file');
    } finally {
      noCredentials.close();
    }
  }, 120_000);

  it('--kafka-brokers with --kafka-password-file and --kafka-ca-file: every Kafka check passes, the password never printed', async () => {
    const passwordFile = path.join(work, 'password');
    fs.writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    const args = ['--dist', distDir, '--kafka-brokers', cluster.externalBootstrapServers.join(','), '--kafka-password-file', passwordFile, '--kafka-ca-file', caFile, '--check', ...KAFKA_IDS];
    const { KUBECONFIG: _ignored, ...env } = process.env;
    const result = await runVerifyCli([...args, '--output', 'json'], { ...env, HOME: tempDir('verify-kafka-security-home') });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as VerifyReport;
    expect(report.checks.map((check) => `${check.id}: ${check.status}`)).toEqual(KAFKA_IDS.map((id) => `${id}: pass`));
    expect(report.dataPlane.description).toBe(`Kafka ${cluster.externalBootstrapServers.join(',')} as ${VERIFY_PRINCIPAL} (SCRAM-SHA-512 over TLS)`);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);

    const unreadable = await runVerifyCli([...args.slice(0, 4), '--kafka-password-file', path.join(work, 'no-such-file')], { ...env, HOME: tempDir('verify-kafka-security-home') });
    expect(unreadable.status).toBe(3);
    expect(unreadable.stderr).toContain(`--kafka-password-file ${path.join(work, 'no-such-file')}: ENOENT`);
  }, 120_000);

  it('a wrong password is "could not check", saying where the password came from, never echoing it', async () => {
    const started = Date.now();
    const report = await verifyKafka({ password: 'not-the-password-42', ca });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(report.exitCode).toBe(2);
    expect(messagesOf(report, 'kafka-live-brokers')).toMatch(/^could not check: Kafka .* as learnflow\.verify .*SASL SCRAM SHA512 authentication failed/);
    expect(messagesOf(report, 'kafka-live-brokers')).toContain(`the brokers refused ${VERIFY_PRINCIPAL}'s password from --kafka-password-file`);
    expect(JSON.stringify(report)).not.toContain('not-the-password-42');
  });

  it('no credentials for a SASL_SSL listener: "could not check" without connecting, naming the flags to pass', async () => {
    const report = await verifyKafka({});
    expect(report.exitCode).toBe(2);
    expect(messagesOf(report, 'kafka-live-brokers')).toContain("dist/ says the brokers' listener EXTERNAL is SASL_SSL: pass the password of learnflow.verify with --kafka-password-file");
    expect(messagesOf(report, 'kafka-live-brokers')).toContain('--kafka-ca-file');
  });

  it('the brokers\' certificate verifies only against their CA: without --kafka-ca-file, or with another CA, "could not check" naming the flag', async () => {
    const withoutCa = await verifyKafka({ password: PASSWORD });
    expect(withoutCa.exitCode).toBe(2);
    expect(messagesOf(withoutCa, 'kafka-live-brokers')).toMatch(/did not verify against the CA of the system's trust store \(no --kafka-ca-file\): [A-Z_]+; pass .* --kafka-ca-file\)$/);
    const otherCa = testCertificateAuthority(path.join(work, 'other'), 'other-ca').certificate;
    const wrongCa = await verifyKafka({ password: PASSWORD, ca: otherCa });
    expect(wrongCa.exitCode).toBe(2);
    expect(messagesOf(wrongCa, 'kafka-live-brokers')).toMatch(/did not verify against the CA of --kafka-ca-file: \w+/);
  });

  it('a plaintext attempt (a dist/ without kafka.security) is refused, and the message says why it spoke plaintext', async () => {
    const started = Date.now();
    const report = await verifyKafka({}, DIST_DIR);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(report.exitCode).toBe(2);
    expect(messagesOf(report, 'kafka-live-brokers')).toMatch(/^could not check: Kafka localhost:19092: /);
    expect(messagesOf(report, 'kafka-live-brokers')).toContain('as dist/ says the listener is PLAINTEXT');
  });
});
