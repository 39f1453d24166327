import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { certificateProblem } from '../scripts/deploy/certificates';
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
  const node = testCertificate(dir, ca, { name: 'node', commonName: 'kafka-node', dnsNames: ['kafka-bootstrap.kafka.svc.cluster.local'], usages });
  const stranger = testCertificate(path.join(dir, 'other'), other, { name: 'stranger', commonName: 'kafka-node', usages });
  // The same key in the SEC1 ("BEGIN EC PRIVATE KEY") form openssl ec writes by default.
  fs.writeFileSync(path.join(dir, 'node-pkcs8.key'), node.key);
  const sec1Key = execFileSync('openssl', ['ec', '-in', path.join(dir, 'node-pkcs8.key')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const secret = (certificate: TestCertificate, authority: TestCertificate) => base64(tlsSecretData(certificate, authority));

  it('passes a certificate, its PKCS#8 key and the CA that signed it, for Kafka and PostgreSQL', () => {
    expect(certificateProblem(secret(node, ca), true)).toBeUndefined();
    expect(certificateProblem(secret(node, ca), false)).toBeUndefined();
  });

  it("refuses a SEC1 key for Kafka (its PEM keystore reads only PKCS#8), and accepts it for PostgreSQL", () => {
    const data = base64({ ...tlsSecretData(node, ca), 'tls.key': sec1Key });
    expect(certificateProblem(data, true)).toMatch(/tls\.key is not an unencrypted PKCS#8 key \(EC PRIVATE KEY\)/);
    expect(certificateProblem(data, false)).toBeUndefined();
  });

  it('refuses a missing key, a key of another certificate, a certificate another CA signed, and text that is no PEM', () => {
    const { 'ca.crt': _, ...noCa } = secret(node, ca);
    expect(certificateProblem(noCa, false)).toMatch(/^no ca\.crt/);
    expect(certificateProblem(base64({ ...tlsSecretData(node, ca), 'tls.key': stranger.key }), false)).toBe("tls.key is not the key of tls.crt's certificate");
    expect(certificateProblem(secret(stranger, ca), false)).toMatch(/tls\.crt \(CN=kafka-node\) is signed by neither its chain nor ca\.crt/);
    expect(certificateProblem(base64({ ...tlsSecretData(node, ca), 'tls.crt': 'not a certificate' }), false)).toBe('tls.crt or ca.crt holds no PEM certificate');
  });
});
