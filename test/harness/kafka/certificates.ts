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
  props: {
    readonly name: string;
    readonly commonName: string;
    /** The whole subject in openssl's `-subj` form, e.g. `/CN=x/O=y`. @default `/CN=<commonName>` */
    readonly subject?: string;
    readonly dnsNames?: readonly string[];
    readonly usages: readonly ('serverAuth' | 'clientAuth')[];
  },
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
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', props.subject ?? `/CN=${props.commonName}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'issuer.crt', '-CAkey', 'issuer.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
  return { certificate: fs.readFileSync(path.join(dir, `${name}.crt`), 'utf8'), key: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8') };
}

/** A kubernetes.io/tls Secret's data as cert-manager writes it for a CA issuer: tls.crt, tls.key, ca.crt. */
export function tlsSecretData(certificate: TestCertificate, ca: TestCertificate): Record<string, string> {
  return { 'tls.crt': certificate.certificate, 'tls.key': certificate.key, 'ca.crt': ca.certificate };
}

/** The harness's `security` for a dist/ with kafka.security: its Certificates issued by a new test CA, and that CA. */
export interface IssuedCertificates {
  readonly secrets: Record<string, Record<string, string>>;
  /** The admin certificate's Secret (the harness's own tools present it). */
  readonly adminSecretName: string;
  /** The nodes' certificate Secret: what the brokers serve and trust (ca.crt). */
  readonly nodeSecretName: string;
  readonly ca: TestCertificate;
}

/**
 * Issues what the cert-manager Certificates of dist/ (`<kafka>-node`, `<kafka>-admin`) ask for exactly (common
 * name, DNS names, usages, PKCS#8 keys), signed by a test CA written to `dir`.
 */
export function issueDistCertificates(dir: string, objects: readonly { kind: string; metadata: { name?: string }; spec?: any }[]): IssuedCertificates {
  const certificate = (suffix: string) => {
    const found = objects.find((o) => o.kind === 'Certificate' && o.metadata.name?.endsWith(suffix));
    if (!found) throw new Error(`dist/ has no Certificate *${suffix} (kafka.security off?)`);
    return found.spec as { secretName: string; commonName: string; dnsNames?: string[]; usages: string[] };
  };
  const node = certificate('-node');
  const admin = certificate('-admin');
  const usages = (spec: { usages: string[] }) => spec.usages.filter((u) => u.endsWith(' auth')).map((u) => (u === 'server auth' ? 'serverAuth' : 'clientAuth'));
  const ca = testCertificateAuthority(dir, 'install-ca');
  const nodeCertificate = testCertificate(dir, ca, { name: 'node', commonName: node.commonName, dnsNames: node.dnsNames, usages: usages(node) });
  const adminCertificate = testCertificate(dir, ca, { name: 'admin', commonName: admin.commonName, usages: usages(admin) });
  return {
    secrets: { [node.secretName]: tlsSecretData(nodeCertificate, ca), [admin.secretName]: tlsSecretData(adminCertificate, ca) },
    adminSecretName: admin.secretName,
    nodeSecretName: node.secretName,
    ca,
  };
}
