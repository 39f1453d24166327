import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load';
import { LearnflowStack } from '../lib/learnflow-stack';
import { certificateExpectations, certificateProblem } from '../scripts/deploy/certificates';
import { type TestCertificate, testCertificate, testCertificateAuthority, tlsSecretData } from './harness/kafka/certificates';
import { tempDir } from './support/synth';

// `npm run deploy`'s preflight-certificate-secrets judges what is in a user-provided certificate Secret
// (postgres.tls.source or kafka.security.source: secret) with real openssl-made certificates.
const base64 = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString('base64')]));

describe('preflight-certificate-secrets: the content of a user-provided certificate Secret', () => {
  const dir = tempDir('certificate-secrets');
  const ca = testCertificateAuthority(dir, 'corp-ca');
  const other = testCertificateAuthority(path.join(dir, 'other'), 'other-ca');
  const usages = ['serverAuth', 'clientAuth'] as const;
  // What the production configuration's readers check: Kafka's node and admin Secrets, PostgreSQL's.
  const stack = new LearnflowStack(loadConfig({ profile: 'production' }));
  const expected = certificateExpectations(stack);
  const kafkaNode = expected.get(`${stack.kafka.namespace}/${stack.kafka.tls.secretName}`)!;
  const kafkaAdmin = expected.get(`${stack.kafka.namespace}/${stack.kafka.tls.adminSecretName}`)!;
  const postgres = expected.get(`${stack.postgres.namespace}/${stack.postgres.tls.secretName}`)!;
  const plain = { pkcs8Key: false, hostNames: [] };
  // The pods by a wildcard of their headless Service, as the Certificate of dist/ names them.
  const wildcards = [...new Set(kafkaNode.hostNames.map((name) => name.replace(/^[a-z0-9-]+-\d+\./, '*.')))];
  const node = testCertificate(dir, ca, { name: 'node', commonName: kafkaNode.principal!, dnsNames: wildcards, usages });
  const stranger = testCertificate(path.join(dir, 'other'), other, { name: 'stranger', commonName: 'kafka-node', usages });
  // The same key in the SEC1 ("BEGIN EC PRIVATE KEY") form openssl ec writes by default.
  fs.writeFileSync(path.join(dir, 'node-pkcs8.key'), node.key);
  const sec1Key = execFileSync('openssl', ['ec', '-in', path.join(dir, 'node-pkcs8.key')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const secret = (certificate: TestCertificate, authority: TestCertificate) => base64(tlsSecretData(certificate, authority));

  it('passes a certificate, its PKCS#8 key and the CA that signed it, for Kafka and PostgreSQL', () => {
    expect(certificateProblem(secret(node, ca), kafkaNode)).toBeUndefined();
    const server = testCertificate(dir, ca, { name: 'postgres', commonName: 'postgres', dnsNames: postgres.hostNames, usages });
    expect(certificateProblem(secret(server, ca), postgres)).toBeUndefined();
  });

  it('the names come from the configuration: every broker pod and voter, the Services, localhost for the port-forward', () => {
    expect(kafkaNode.hostNames).toEqual(expect.arrayContaining(['kafka-0.kafka-headless.kafka.svc.cluster.local', 'kafka-controller-2.kafka-controller-headless.kafka.svc.cluster.local', 'kafka-bootstrap.kafka.svc.cluster.local', 'localhost']));
    expect(postgres.hostNames).toEqual(['postgres.postgres.svc.cluster.local']);
    expect([kafkaNode.principal, kafkaAdmin.principal]).toEqual(['kafka-node', 'kafka-admin']);
  });

  it("refuses a Kafka certificate whose subject is not the principal super.users names, as Kafka's mapping rule reads it (RFC 2253)", () => {
    const certificate = (name: string, subject: string) => testCertificate(dir, ca, { name, commonName: 'unused', subject, dnsNames: wildcards, usages });
    expect(certificateProblem(secret(certificate('renamed', '/CN=broker'), ca), kafkaNode)).toBe(
      "tls.crt's subject CN=broker is the principal User:broker (ssl.principal.mapping.rules), not User:kafka-node, which super.users names: issue it with the subject CN=kafka-node alone",
    );
    // CN first in the certificate is last in RFC 2253: the rule does not match, the principal is the whole subject.
    expect(certificateProblem(secret(certificate('with-org', '/CN=kafka-node/O=Corp'), ca), kafkaNode)).toMatch(/^tls\.crt's subject O=Corp,CN=kafka-node is the principal User:O=Corp,CN=kafka-node /);
    expect(certificateProblem(secret(certificate('two-cns', '/CN=kafka-node/CN=intruder'), ca), kafkaNode)).toMatch(/is the principal User:intruder /);
    // The most specific attribute first is what the rule reads: accepted.
    expect(certificateProblem(secret(certificate('org-first', '/O=Corp/CN=kafka-node'), ca), kafkaNode)).toBeUndefined();
    expect(certificateProblem(secret(node, ca), kafkaAdmin)).toMatch(/is the principal User:kafka-node \(ssl\.principal\.mapping\.rules\), not User:kafka-admin/);
  });

  it('refuses a certificate that misses a name its clients check, or names it only as its CN (Go clients never read the CN)', () => {
    const noLocalhost = testCertificate(dir, ca, { name: 'no-localhost', commonName: 'kafka-node', dnsNames: wildcards.filter((name) => name !== 'localhost'), usages });
    expect(certificateProblem(secret(noLocalhost, ca), kafkaNode)).toMatch(/^tls\.crt does not name localhost \(its names: DNS:/);
    // The Kafka certificate in PostgreSQL's Secret: verify-full refuses it.
    expect(certificateProblem(secret(node, ca), postgres)).toMatch(/^tls\.crt does not name postgres\.postgres\.svc\.cluster\.local/);
    const cnOnly = testCertificate(dir, ca, { name: 'cn-only', commonName: 'postgres.postgres.svc.cluster.local', usages });
    expect(certificateProblem(secret(cnOnly, ca), postgres)).toBe('tls.crt does not name postgres.postgres.svc.cluster.local (its names: none): clients checking the host name would refuse it');
  });

  it("refuses a SEC1 key for Kafka (its PEM keystore reads only PKCS#8), and accepts it for PostgreSQL", () => {
    const data = base64({ ...tlsSecretData(node, ca), 'tls.key': sec1Key });
    expect(certificateProblem(data, kafkaNode)).toMatch(/tls\.key is not an unencrypted PKCS#8 key \(EC PRIVATE KEY\)/);
    expect(certificateProblem(data, plain)).toBeUndefined();
  });

  it('refuses a missing key, a key of another certificate, a certificate another CA signed, and text that is no PEM', () => {
    const { 'ca.crt': _, ...noCa } = secret(node, ca);
    expect(certificateProblem(noCa, plain)).toMatch(/^no ca\.crt/);
    expect(certificateProblem(base64({ ...tlsSecretData(node, ca), 'tls.key': stranger.key }), plain)).toBe("tls.key is not the key of tls.crt's certificate");
    expect(certificateProblem(secret(stranger, ca), plain)).toMatch(/tls\.crt \(CN=kafka-node\) is signed by neither its chain nor ca\.crt/);
    expect(certificateProblem(base64({ ...tlsSecretData(node, ca), 'tls.crt': 'not a certificate' }), plain)).toBe('tls.crt or ca.crt holds no PEM certificate');
  });
});
