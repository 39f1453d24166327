import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A PEM certificate and its PKCS#8 key. */
export interface TestCertificate {
  readonly certificate: string;
  readonly key: string;
}

function openssl(dir: string, args: readonly string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A self-signed test CA (ECDSA P-256, as cert-manager's CA of the install), written to `dir`. */
export function testCertificateAuthority(dir: string, name: string): TestCertificate {
  fs.mkdirSync(dir, { recursive: true });
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`]);
  return { certificate: fs.readFileSync(path.join(dir, `${name}.crt`), 'utf8'), key: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8') };
}

/**
 * A certificate signed by `ca`, as cert-manager issues one for a Certificate of dist/: subject CN, DNS names,
 * extended key usages; the key in PKCS#8 (openssl's default), as the Certificates' `encoding: PKCS8`.
 */
export function testCertificate(
  dir: string,
  ca: TestCertificate,
  props: { readonly name: string; readonly commonName: string; readonly dnsNames?: readonly string[]; readonly usages: readonly ('serverAuth' | 'clientAuth')[] },
): TestCertificate {
  const { name } = props;
  fs.writeFileSync(path.join(dir, 'issuer.crt'), ca.certificate);
  fs.writeFileSync(path.join(dir, 'issuer.key'), ca.key, { mode: 0o600 });
  const extensions = [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature',
    `extendedKeyUsage=${props.usages.join(',')}`,
    ...(props.dnsNames?.length ? [`subjectAltName=${props.dnsNames.map((dns) => `DNS:${dns}`).join(',')}`] : []),
  ];
  fs.writeFileSync(path.join(dir, `${name}.ext`), `${extensions.join('\n')}\n`);
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${props.commonName}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'issuer.crt', '-CAkey', 'issuer.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
  return { certificate: fs.readFileSync(path.join(dir, `${name}.crt`), 'utf8'), key: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8') };
}

/** A kubernetes.io/tls Secret's data as cert-manager writes it for a CA issuer: tls.crt, tls.key, ca.crt. */
export function tlsSecretData(certificate: TestCertificate, ca: TestCertificate): Record<string, string> {
  return { 'tls.crt': certificate.certificate, 'tls.key': certificate.key, 'ca.crt': ca.certificate };
}

/**
 * The certificate Secrets of a dist/ with kafka.security, as cert-manager would issue them from its Certificates
 * (`kafka-node`, `kafka-admin`: common name, DNS names, usages) with a test CA made in `dir`.
 */
export function kafkaTlsSecrets(
  objects: readonly { kind: string; metadata: { name: string }; spec?: any }[],
  dir: string,
): { readonly ca: TestCertificate; readonly secrets: Record<string, Record<string, string>>; readonly adminSecretName: string } {
  const certificate = (name: string) => {
    const found = objects.find((o) => o.kind === 'Certificate' && o.metadata.name === name);
    if (!found) throw new Error(`no Certificate ${name} in dist/ (is kafka.security on?)`);
    return found.spec;
  };
  const usages = (spec: { usages: string[] }) => spec.usages.filter((u) => u.endsWith(' auth')).map((u) => (u === 'server auth' ? 'serverAuth' : 'clientAuth'));
  const node = certificate('kafka-node');
  const admin = certificate('kafka-admin');
  const ca = testCertificateAuthority(dir, 'install-ca');
  const nodeCertificate = testCertificate(dir, ca, { name: 'node', commonName: node.commonName, dnsNames: node.dnsNames, usages: usages(node) });
  const adminCertificate = testCertificate(dir, ca, { name: 'admin', commonName: admin.commonName, usages: usages(admin) });
  return { ca, secrets: { [node.secretName]: tlsSecretData(nodeCertificate, ca), [admin.secretName]: tlsSecretData(adminCertificate, ca) }, adminSecretName: admin.secretName };
}
